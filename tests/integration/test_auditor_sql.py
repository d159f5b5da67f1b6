"""The auditor SQL of sql/ in Spark SQL, on a small lake built by the real jobs: the history of
one reading and silver as known at an instant give the rows of `meterlake audit history` and
`audit as-known-at` (meterlake.audit.readings), and the inputs of a settlement run those it
recorded. tests/integration/test_trino_parity.py runs the same files in Trino."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.audit.readings import as_known_at, reading_history
from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG, ingest_paths
from meterlake.gold.settlement.book import book_from_mapping
from meterlake.gold.settlement.inputs import Inputs
from meterlake.gold.settlement.run import settle
from meterlake.gold.settlement.tables import GOLD_SETTLEMENT_LINES, REPORT_RUNS
from meterlake.lake_jobs import run_snapshots
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.smrt.parse import SMRT_FILES
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.dashboard_case import BOOK, METER, MONTH, OTHER_METER
from tests.helpers.fixture_data import write_drop
from tests.helpers.lakes import lake_at
from tests.helpers.trino_queries import (
    SQL_DIR,
    Result,
    auditor_sql,
    point_spark_catalog,
    spark_result,
)

AT = datetime(2020, 6, 3, 12, tzinfo=UTC)
GAS_METER = "000000009"
GAS_AT = datetime(2019, 10, 14, 11, tzinfo=UTC)
READ = (BRONZE_UTILITY_DROPS, BRONZE_SMRT, INGEST_LOG, REPORT_RUNS, SILVER_METER_READINGS,
        GOLD_SETTLEMENT_LINES)


@dataclass(frozen=True)
class AuditCase:
    lake: Lake
    run_id: str
    # What the lake held when the run pinned its inputs.
    silver_version: int
    bronze_versions: dict[str, int]
    # original file name -> received_at (aware UTC)
    arrivals: dict[str, datetime]


def _smrt(directory: Path, generation: str, created_at: str, kwh: str) -> Path:
    """An SMRT file of one reading of GAS_METER at GAS_AT, created on 2019-10-16 at
    `created_at` (HHMMSS)."""
    path = directory / f"{generation}.SMRT"
    path.write_text(f'"HEADR","SMRT","GAZ","20191016","{created_at}","{generation}"\n'
                    f'"CONSU","{GAS_METER}","20191014","1100",{kwh}\n"TRAIL"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def case(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> AuditCase:
    """first.csv and PN000002 -> silver -> a settlement of June 2020; then correction.csv
    (METER at AT again) and PN000001, created before PN000002 but received after it."""
    root = tmp_path_factory.mktemp("auditor-sql")
    lake = lake_at(spark, root / "lake")
    ingest_paths(lake, UTILITY_DROP_FILES, [write_drop(root / "first.csv", [
        (METER, "2020-06-03T12:00:00.000Z", "1006.6"),
        (METER, "2020-06-03T12:15:00.000Z", "500"),
        (OTHER_METER, "2020-06-03T12:00:00.000Z", "20"),
    ])])
    ingest_paths(lake, SMRT_FILES, [_smrt(root, "PN000002", "103000", "5.5")])
    run_snapshots(lake)
    silver_version = lake.version(SILVER_METER_READINGS)
    bronze_versions = {"utility_drops": lake.version(BRONZE_UTILITY_DROPS),
                       "smrt": lake.version(BRONZE_SMRT)}
    [north] = settle(lake, book_from_mapping(BOOK, "auditor sql"), MONTH)
    ingest_paths(lake, UTILITY_DROP_FILES, [write_drop(root / "correction.csv", [
        (METER, "2020-06-03T12:00:00.000Z", "2006.6")])])
    ingest_paths(lake, SMRT_FILES, [_smrt(root, "PN000001", "102900", "4.25")])
    run_snapshots(lake)
    arrivals = {r["original_name"]: r["received_at"].replace(tzinfo=UTC)
                for r in lake.read(INGEST_LOG).collect()}
    return AuditCase(lake, north.run_id, silver_version, bronze_versions, arrivals)


def _sql(case: AuditCase, file_name: str, **parameters: object) -> Result:
    point_spark_catalog(case.lake, READ)
    return spark_result(case.lake.spark, auditor_sql(file_name, **parameters))


def _history(case: AuditCase, meter: str, at: datetime) -> Result:
    return _sql(case, "reading_history.sql", meter_id=meter, interval_start=at)


def _known(case: AuditCase, at: datetime, meter: str | None = None) -> Result:
    return _sql(case, "readings_as_known_at.sql", known_at=at, meter_id=meter)


def _audit_history(case: AuditCase, meter: str, at: datetime) -> Result:
    """What `meterlake audit history` prints, as rows."""
    history_df = reading_history(case.lake, meter, at)
    return Result.of(history_df.columns, (tuple(row) for row in history_df.collect()))


def _audit_known(case: AuditCase, at: datetime, meter: str | None = None) -> Result:
    """What `meterlake audit as-known-at [--meter]` gives, as rows."""
    known_df = as_known_at(case.lake, at)
    rows = [tuple(r) for r in known_df.collect() if meter is None or r["meter_id"] == meter]
    return Result.of(known_df.columns, rows)


def _picked(result: Result, *names: str) -> list[tuple]:
    """Some columns of the rows, oldest arrival first (rows of one file as Result sorts
    them: by meter, then interval)."""
    at = [result.columns.index(name) for name in names]
    received = result.columns.index("_received_at")
    rows = sorted(result.rows, key=lambda row: row[received])
    return [tuple(row[i] for i in at) for row in rows]


def test_the_history_of_a_corrected_reading_is_audit_historys(case: AuditCase) -> None:
    history = _history(case, METER, AT)
    assert history == _audit_history(case, METER, AT)
    assert _picked(history, "value", "source", "_source_file", "_source_line", "is_current") == [
        (1006.6, "utility_drops", "first.csv", 2, False),
        (2006.6, "utility_drops", "correction.csv", 2, True),
    ]
    landing = history.rows[0][history.columns.index("landing_path")]
    assert landing.startswith(f"{case.lake.settings.landing_root}/utility_drops/")


def test_an_smrt_reading_is_current_by_generation_not_arrival(case: AuditCase) -> None:
    history = _history(case, GAS_METER, GAS_AT)
    assert history == _audit_history(case, GAS_METER, GAS_AT)
    # PN000001 arrived last but was created first: PN000002's value stays current.
    assert _picked(history, "value", "source", "_source_file", "is_current") == [
        (5.5, "smrt", "PN000002.SMRT", True),
        (4.25, "smrt", "PN000001.SMRT", False),
    ]


def test_a_reading_bronze_never_held_has_no_history(case: AuditCase) -> None:
    assert _history(case, METER, AT + timedelta(minutes=30)).rows == ()
    assert _history(case, "no-such-meter", AT).rows == ()


def test_as_known_at_the_end_is_silver(case: AuditCase) -> None:
    latest = max(case.arrivals.values())
    point_spark_catalog(case.lake, READ)
    silver = spark_result(case.lake.spark, "SELECT * FROM silver.meter_readings")
    assert _known(case, latest) == silver
    assert len(silver.rows) == 4


def test_just_before_the_correction_the_first_value_was_known(case: AuditCase) -> None:
    before = case.arrivals["correction.csv"] - timedelta(microseconds=1)
    known = _known(case, before)
    assert known == _audit_known(case, before)
    assert _picked(known, "meter_id", "interval_start", "value", "version_count") == [
        (METER, AT, 1006.6, 1),
        (METER, AT + timedelta(minutes=15), 500.0, 1),
        (OTHER_METER, AT, 20.0, 1),
        (GAS_METER, GAS_AT, 5.5, 1),
    ]


def test_a_version_received_at_the_instant_counts_as_known(case: AuditCase) -> None:
    at = case.arrivals["correction.csv"]
    known = _known(case, at, METER)
    assert known == _audit_known(case, at, METER)
    assert _picked(known, "interval_start", "value", "version_count", "_source_file") == [
        (AT + timedelta(minutes=15), 500.0, 1, "first.csv"),
        (AT, 2006.6, 2, "correction.csv"),
    ]


def test_before_the_first_arrival_nothing_was_known(case: AuditCase) -> None:
    first = min(case.arrivals.values())
    assert _known(case, first - timedelta(microseconds=1)).rows == ()


def test_spark_sql_fills_the_parameters_itself_after_set(case: AuditCase) -> None:
    spark = case.lake.spark
    point_spark_catalog(case.lake, READ)
    text = (SQL_DIR / "reading_history.sql").read_text(encoding="utf-8")
    spark.sql(f"SET meter_id='{METER}'")
    spark.sql("SET interval_start=TIMESTAMP '2020-06-03 12:00:00 UTC'")
    try:
        assert spark_result(spark, text) == _history(case, METER, AT)
    finally:
        spark.conf.unset("meter_id")
        spark.conf.unset("interval_start")


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_runs_inputs_are_the_versions_it_read(case: AuditCase) -> None:
    run = _sql(case, "settlement_run_inputs.spark.sql", run_id=case.run_id)
    [row] = [dict(zip(run.columns, values, strict=True)) for values in run.rows]
    [recorded] = case.lake.read(REPORT_RUNS).filter(f"run_id = '{case.run_id}'").collect()
    [lines] = case.lake.read(GOLD_SETTLEMENT_LINES).filter(
        f"run_id = '{case.run_id}'").groupBy().count().collect()
    export = recorded["export_path"]
    assert row == {
        "run_id": case.run_id, "partner": "north", "month": MONTH, "revision": 1,
        "report": recorded["report"],
        "started_at": recorded["started_at"].replace(tzinfo=UTC),
        "finished_at": recorded["finished_at"].replace(tzinfo=UTC),
        "as_known_at": recorded["as_known_at"].replace(tzinfo=UTC),
        "silver_version": case.silver_version,
        "silver_committed_at": Inputs.from_json(recorded["inputs"]).silver_committed_at,
        "utility_drops_bronze_version": case.bronze_versions["utility_drops"],
        "smrt_bronze_version": case.bronze_versions["smrt"],
        "book_sha256": recorded["book_sha256"], "code_version": recorded["code_version"],
        "lines_rows": lines["count"], "summary_rows": 1,
        "lines_csv_sha256": _sha256(f"{export}/lines.csv"),
        "lines_parquet_sha256": _sha256(f"{export}/lines.parquet"),
        "summary_csv_sha256": _sha256(f"{export}/summary.csv"),
        "summary_parquet_sha256": _sha256(f"{export}/summary.parquet"),
        "export_path": export,
    }
    assert row["silver_committed_at"] == Inputs.from_json(recorded["inputs"]).silver_committed_at


def test_an_unknown_run_has_no_inputs(case: AuditCase) -> None:
    assert _sql(case, "settlement_run_inputs.spark.sql", run_id="no-such-run").rows == ()
