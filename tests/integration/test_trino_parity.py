"""Trino and Spark SQL answer the same questions with the same rows, every column: the
snapshot, one meter's month, time travel by version and by instant, the auditor SQL of sql/
(history of a reading, silver as known at an instant, a settlement run's inputs), a settlement
run's lines and the dropzone statistics.

One lake per module and storage, built by the real jobs on the real fixtures (the leap drops and
a correction, two SMRT files received out of generation order, the dropzone payloads, a
settlement of June 2020 before the correction) and registered in Trino once: first on local
disk, then on the object store. Trino reads
through the read-only `lake` catalog; Spark through the session catalog's names, pointed at the
lake by meterlake's Lake. Rows are compared after `trino_queries.normalised` (instants aware
UTC), never rounded."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.catalog import ALL_TABLES
from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG, ingest_paths
from meterlake.gold.dropzone_daily import GOLD_DROPZONE_DAILY
from meterlake.gold.settlement.book import book_from_mapping
from meterlake.gold.settlement.run import settle
from meterlake.gold.settlement.tables import GOLD_SETTLEMENT_LINES, REPORT_RUNS
from meterlake.lake_jobs import run_snapshots
from meterlake.serve.trino_register import register_lake
from meterlake.silver.dropzone_measurements import SILVER_DROPZONE_MEASUREMENTS
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.dropzone.parse import DROPZONE_FILES
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.smrt.parse import SMRT_FILES
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.dashboard_case import BOOK, CORRECTED_AT, CORRECTED_WH, METER, MONTH
from tests.helpers.fixture_data import SMRT, leap_files, smrt_latest, write_drop
from tests.helpers.lakes import lake_at
from tests.helpers.object_store_lakes import s3_lake
from tests.helpers.object_store_server import ObjectStore
from tests.helpers.paths import FIXTURES, REPO
from tests.helpers.trino_queries import (
    Result,
    auditor_sql,
    differences,
    point_spark_catalog,
    render_sql,
    spark_result,
    trino_result,
)
from tests.helpers.trino_server import SCRIPT, START_TIMEOUT_S, forget_registrations

pytestmark = pytest.mark.slow

TABLES = [(contract.layer, contract.name) for contract in ALL_TABLES]
READ = (BRONZE_UTILITY_DROPS, BRONZE_SMRT, INGEST_LOG, REPORT_RUNS, SILVER_METER_READINGS,
        GOLD_SETTLEMENT_LINES, SILVER_DROPZONE_MEASUREMENTS, GOLD_DROPZONE_DAILY)
# Received in this order: PN000001, generated before PN000002, arrives after it.
SMRT_FILES_LOADED = [SMRT / "PN000002.SMRT", SMRT / "PN000001.SMRT"]
DROPZONE = [FIXTURES / "dropzone" / name for name in
            ("file.json", "ArrayOfObjects.json", *(f"file_{n}.json" for n in range(10)))]
CORRECTION = "correction_20200610.csv"
CORRECTED = CORRECTED_AT.replace(tzinfo=UTC)
# An SMRT reading in both files: PN000002's value is current, though PN000001 arrived last.
GAS_METER, GAS_AT = next((meter, at.replace(tzinfo=UTC)) for (meter, at), (*_, versions)
                         in sorted(smrt_latest(SMRT_FILES_LOADED).items()) if versions > 1)


@dataclass(frozen=True)
class ParityLake:
    lake: Lake
    url: str
    run_id: str
    # The correction's arrival, and the arrival of the newest file before it.
    corrected_at: datetime
    before_correction: datetime
    # The silver version before the correction's MERGE, and the commit instants of both.
    before_version: int
    before_committed: datetime
    correction_committed: datetime


def _fill(lake: Lake, workdir: Path) -> str:
    """Every fixture into bronze and silver, a settlement, then the correction; the run id."""
    ingest_paths(lake, UTILITY_DROP_FILES, leap_files())
    ingest_paths(lake, SMRT_FILES, SMRT_FILES_LOADED)
    ingest_paths(lake, DROPZONE_FILES, DROPZONE)
    run_snapshots(lake)
    [run] = settle(lake, book_from_mapping(BOOK, "trino parity"), MONTH)
    correction = write_drop(workdir / CORRECTION, [
        (METER, "2020-06-03T12:00:00.000Z", str(CORRECTED_WH))])
    ingest_paths(lake, UTILITY_DROP_FILES, [correction])
    run_snapshots(lake)
    return run.run_id


def _parity_lake(lake: Lake, url: str, run_id: str) -> ParityLake:
    point_spark_catalog(lake, READ)
    arrivals = {r["original_name"]: r["received_at"].replace(tzinfo=UTC)
                for r in lake.read(INGEST_LOG).collect()}
    history = lake.spark.sql("DESCRIBE HISTORY silver.meter_readings").orderBy("version")
    *_, before, last = history.select("version", "timestamp", "operation").collect()
    assert last["operation"] == "MERGE", "the correction's MERGE is silver's last commit"
    return ParityLake(
        lake=lake, url=url, run_id=run_id, corrected_at=arrivals[CORRECTION],
        before_correction=max(at for name, at in arrivals.items() if name != CORRECTION),
        before_version=int(before["version"]),
        before_committed=before["timestamp"].replace(tzinfo=UTC),
        correction_committed=last["timestamp"].replace(tzinfo=UTC))


def _registered(lake: Lake, url: str) -> None:
    forget_registrations(url)
    register_lake(url, lake.settings.lake_root, TABLES, lake.settings.object_store)


def _trino_catalog_file() -> Path:
    state = os.environ.get("METERLAKE_TRINO_DIR", str(REPO / "var" / "infra" / "trino"))
    return Path(state) / "etc" / "catalog" / "lake.properties"


def _trino_reads_s3(store: ObjectStore) -> None:
    """Trino with S3 catalogs on `store`: infra/trino.sh writes them only when it starts with
    an identity in its environment, so a server started without one (the session's, by
    default) is restarted with the analyst's (read and list lake/ only). The metastore and
    every other setting stay; the session's fixture still stops it at the end."""
    catalog = _trino_catalog_file()
    if catalog.is_file() and f"s3.endpoint={store.endpoint}" in catalog.read_text():
        return
    environment = {**os.environ, **store["analyst"]}
    for command in ("stop", "start"):
        done = subprocess.run(["bash", str(SCRIPT), command], env=environment,
                              capture_output=True, text=True, timeout=START_TIMEOUT_S,
                              check=False)
        assert done.returncode == 0, f"trino.sh {command}:\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module", params=["local", "s3"])
def parity(request: pytest.FixtureRequest, spark: SparkSession, trino_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParityLake]:
    """The lake, built and registered once per storage: on local disk, then on the object
    store (written as the jobs' identity, read by Trino as the analyst's)."""
    workdir = tmp_path_factory.mktemp(f"parity-{request.param}")
    if request.param == "local":
        lake = lake_at(spark, workdir / "lake")
        run_id = _fill(lake, workdir)
        _registered(lake, trino_url)
        yield _parity_lake(lake, trino_url, run_id)
    else:
        store: ObjectStore = request.getfixturevalue("object_store")
        jobs: dict[str, str] = request.getfixturevalue("object_store_env")
        _trino_reads_s3(store)
        with s3_lake(spark, "trino-parity", jobs) as lake:
            run_id = _fill(lake, workdir)
            _registered(lake, trino_url)
            yield _parity_lake(lake, trino_url, run_id)
    forget_registrations(trino_url)


def _assert_same(parity: ParityLake, spark_sql: str, trino_sql: str | None = None) -> Result:
    """Both engines' rows of one question (the same text unless Trino's is given); Spark's."""
    point_spark_catalog(parity.lake, READ)
    from_spark = spark_result(parity.lake.spark, spark_sql)
    from_trino = trino_result(parity.url, trino_sql or spark_sql)
    assert from_trino == from_spark, differences(from_trino, from_spark)
    return from_spark


def _column(result: Result, name: str) -> list:
    at = result.columns.index(name)
    return [row[at] for row in result.rows]


def _values(result: Result, name: str = "value") -> dict[tuple[str, datetime], object]:
    """A column by reading (meter_id, interval_start)."""
    return dict(zip(zip(_column(result, "meter_id"), _column(result, "interval_start"),
                        strict=True), _column(result, name), strict=True))


def test_the_snapshot(parity: ParityLake) -> None:
    snapshot = _assert_same(parity, "SELECT * FROM silver.meter_readings")
    assert set(_column(snapshot, "source")) == {"utility_drops", "smrt"}


def test_one_meters_month(parity: ParityLake) -> None:
    month = _assert_same(parity, render_sql(
        "SELECT * FROM silver.meter_readings WHERE meter_id = ${meter} "
        "AND interval_start >= ${start} AND interval_start < ${end}",
        {"meter": METER, "start": datetime(2020, 6, 1, tzinfo=UTC),
         "end": datetime(2020, 7, 1, tzinfo=UTC)}))
    assert set(_column(month, "meter_id")) == {METER}
    assert CORRECTED_WH in _column(month, "value")


def test_silver_by_version(parity: ParityLake) -> None:
    version = parity.before_version
    before = _assert_same(parity, f"SELECT * FROM silver.meter_readings VERSION AS OF {version}",
                          f"SELECT * FROM silver.meter_readings FOR VERSION AS OF {version}")
    # The version before the correction: the first value of the corrected reading.
    assert _values(before)[(METER, CORRECTED)] == 1006.6


def test_silver_by_an_instant_between_two_commits(parity: ParityLake) -> None:
    halfway = parity.before_committed + (
        parity.correction_committed - parity.before_committed) / 2
    instant = render_sql("${at}", {"at": halfway})
    by_instant = _assert_same(
        parity, f"SELECT * FROM silver.meter_readings TIMESTAMP AS OF {instant}",
        f"SELECT * FROM silver.meter_readings FOR TIMESTAMP AS OF {instant}")
    by_version = spark_result(parity.lake.spark, "SELECT * FROM silver.meter_readings "
                                                 f"VERSION AS OF {parity.before_version}")
    assert by_instant == by_version


def test_the_history_of_the_corrected_reading(parity: ParityLake) -> None:
    history = _assert_same(parity, auditor_sql("reading_history.sql", meter_id=METER,
                                               interval_start=CORRECTED))
    assert sorted(_column(history, "value")) == [1006.6, CORRECTED_WH]


def test_the_history_of_an_smrt_reading(parity: ParityLake) -> None:
    history = _assert_same(parity, auditor_sql("reading_history.sql", meter_id=GAS_METER,
                                               interval_start=GAS_AT))
    current = dict(zip(_column(history, "_source_file"), _column(history, "is_current"),
                       strict=True))
    assert current == {"PN000002.SMRT": True, "PN000001.SMRT": False}


def test_silver_as_known_between_two_arrivals(parity: ParityLake) -> None:
    halfway = parity.before_correction + (parity.corrected_at - parity.before_correction) / 2
    known = _assert_same(parity, auditor_sql("readings_as_known_at.sql", known_at=halfway,
                                             meter_id=None))
    assert _values(known)[(METER, CORRECTED)] == 1006.6


def test_silver_as_known_at_the_corrections_arrival(parity: ParityLake) -> None:
    known = _assert_same(parity, auditor_sql("readings_as_known_at.sql",
                                             known_at=parity.corrected_at, meter_id=METER))
    assert _values(known)[(METER, CORRECTED)] == CORRECTED_WH
    assert _values(known, "version_count")[(METER, CORRECTED)] == 2


def test_a_settlement_runs_lines(parity: ParityLake) -> None:
    lines = _assert_same(parity, render_sql("SELECT * FROM gold.settlement_lines "
                                            "WHERE run_id = ${run_id}", {"run_id": parity.run_id}))
    assert len(lines.rows) > 0


def test_a_settlement_runs_inputs(parity: ParityLake) -> None:
    inputs = _assert_same(
        parity, auditor_sql("settlement_run_inputs.spark.sql", run_id=parity.run_id),
        auditor_sql("settlement_run_inputs.trino.sql", run_id=parity.run_id))
    assert _column(inputs, "silver_version") == [parity.before_version]


def test_the_dropzone_measurements(parity: ParityLake) -> None:
    measurements = _assert_same(parity, "SELECT * FROM silver.dropzone_measurements")
    assert len(measurements.rows) == 10


def test_the_dropzone_daily_statistics(parity: ParityLake) -> None:
    daily = _assert_same(parity, "SELECT * FROM gold.dropzone_daily")
    assert len(daily.rows) == 10


# The protocol README's "Databricks, Unity Catalog and other Delta readers" promises: reader
# version 1 (any Delta reader), writer version 7 with these features and no others.
SOURCE_BRONZE = {"bronze.utility_drops", "bronze.smrt", "bronze.dropzone",
                 "bronze.temperature_records", "bronze.sensor_messages"}
WRITER_FEATURES = {"appendOnly", "inCommitTimestamp", "invariants"}


def test_every_written_table_has_the_protocol_readme_lists(parity: ParityLake) -> None:
    lake = parity.lake
    written = [c for c in ALL_TABLES if lake.exists(c)]
    assert len(written) >= 13, [c.qualified_name for c in written]
    protocols = {}
    for contract in written:
        [detail] = lake.spark.sql(f"DESCRIBE DETAIL delta.`{lake.path(contract)}`").collect()
        protocols[contract.qualified_name] = (
            detail["minReaderVersion"], detail["minWriterVersion"], set(detail["tableFeatures"]))
    assert protocols == {
        name: (1, 7, WRITER_FEATURES | ({"changeDataFeed"} if name in SOURCE_BRONZE else set()))
        for name in protocols}
