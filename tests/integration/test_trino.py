"""Trino over the lake (infra/trino.sh): `meterlake trino register` registers every table the
lake has written, once; the read-only `lake` catalog then answers with Spark's rows, refuses
writes, and follows new commits without registering again. One small lake, built with the
session's Spark and registered once for the module; a test that writes works on a copy."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from trino.exceptions import TrinoUserError

from meterlake.catalog import ALL_TABLES
from meterlake.cli import main
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.lake_jobs import run_snapshots
from meterlake.serve.trino_register import register_lake
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.registry import source_named
from tests.helpers.lakes import MakeLake, lake_at
from tests.helpers.paths import BIN, LEAP, REPO
from tests.helpers.trino_server import forget_registrations, trino_rows

pytestmark = pytest.mark.slow

# What ingesting one utility drop and the snapshots write; the grid, the settlements and the
# quarantine (no bad row) are not run or not needed.
WRITTEN = (
    "bronze.utility_drops", "bronze.smrt", "bronze.dropzone", "bronze.temperature_records",
    "bronze.sensor_messages",
    "silver.meter_readings", "silver.dropzone_measurements", "silver.temperature_records",
    "silver.sensor_readings", "silver.sensors",
    "gold.dropzone_daily", "gold.region_temperature_hourly", "gold.sensor_readings_1min",
    "gold.sensor_quality",
    "ops.ingest_log", "ops.ingest_batches", "ops.snapshot_progress", "ops.dq_results",
)
TABLES = [(contract.layer, contract.name) for contract in ALL_TABLES]
# The instants meterlake itself makes in the tables WRITTEN (arrivals, ops records).
MADE_INSTANTS = (
    ("bronze.utility_drops", "_received_at"), ("silver.meter_readings", "_received_at"),
    ("ops.ingest_log", "received_at"), ("ops.ingest_log", "logged_at"),
    ("ops.ingest_batches", "planned_at"), ("ops.snapshot_progress", "finished_at"),
    ("ops.dq_results", "checked_at"),
)


@dataclass(frozen=True)
class RegisteredLake:
    lake: Lake
    url: str
    first_stdout: str


def _lines(outcome_written: str, outcome_not_written: str = "skipped (not written yet)"
           ) -> list[str]:
    return [f"lake.{c.qualified_name}: "
            f"{outcome_written if c.qualified_name in WRITTEN else outcome_not_written}"
            for c in ALL_TABLES]


@pytest.fixture(scope="module")
def registered(spark: SparkSession, trino_url: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegisteredLake]:
    lake = lake_at(spark, tmp_path_factory.mktemp("trino") / "lake")
    ingest_paths(lake, source_named("utility_drops").files, [LEAP / "input_0.csv"])
    run_snapshots(lake)
    forget_registrations(trino_url)
    register = subprocess.run(
        [BIN / "meterlake", "trino", "register", "--url", trino_url,
         "--lake", lake.settings.lake_root],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert register.returncode == 0, register.stderr
    yield RegisteredLake(lake, trino_url, register.stdout)
    forget_registrations(trino_url)


def test_register_prints_one_line_per_table(registered: RegisteredLake) -> None:
    assert registered.first_stdout.splitlines() == _lines("registered")


def test_registering_again_changes_nothing(registered: RegisteredLake,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trino", "register", "--url", registered.url,
                 "--lake", registered.lake.settings.lake_root]) == 0
    assert capsys.readouterr().out.splitlines() == _lines("unchanged")


def test_every_table_has_sparks_rows_in_the_read_only_catalog(
    registered: RegisteredLake,
) -> None:
    spark, root = registered.lake.spark, registered.lake.settings.lake_root
    spark_counts = {name: spark.read.format("delta").load(f"{root}/{name.replace('.', '/')}")
                    .count() for name in WRITTEN}
    trino_counts = {name: trino_rows(registered.url, f"SELECT count(*) FROM lake.{name}")[0][0]
                    for name in WRITTEN}
    assert trino_counts == spark_counts
    assert spark_counts["silver.meter_readings"] == 124


def test_silver_rows_in_trino_are_sparks(registered: RegisteredLake) -> None:
    columns = "meter_id, interval_start, value, _source_file, _source_line"
    from_trino = trino_rows(registered.url, f"SELECT {columns} FROM lake.silver.meter_readings")
    from_spark = registered.lake.read(SILVER_METER_READINGS).selectExpr(*columns.split(", "))
    assert sorted((m, t.astimezone(UTC).replace(tzinfo=None), v, f, n)
                  for m, t, v, f, n in from_trino) == sorted(
        tuple(row) for row in from_spark.collect())


def test_trino_reads_the_instants_meterlake_wrote_exactly_as_spark(
    registered: RegisteredLake,
) -> None:
    # Trino reads a Delta `timestamp` as timestamp(3) with time zone; every instant meterlake
    # makes is a whole millisecond (meterlake.core.instants), so nothing is cut.
    lake = registered.lake
    for table, column in MADE_INSTANTS:
        from_trino = trino_rows(registered.url, f"SELECT DISTINCT {column} FROM lake.{table}")
        from_spark = lake.spark.read.format("delta").load(
            f"{lake.settings.lake_root}/{table.replace('.', '/')}").select(column).distinct()
        spark_instants = sorted(row[0].replace(tzinfo=UTC) for row in from_spark.collect())
        assert spark_instants, (table, column)
        assert sorted(t.astimezone(UTC) for [t] in from_trino) == spark_instants, (table, column)


def test_the_lake_catalog_refuses_writes(registered: RegisteredLake) -> None:
    with pytest.raises(TrinoUserError) as refused:
        trino_rows(registered.url, "INSERT INTO lake.ops.ingest_batches "
                                   "SELECT * FROM lake.ops.ingest_batches")
    assert (refused.value.error_name, refused.value.message) == (
        "PERMISSION_DENIED", "Access Denied: Cannot insert into table ops.ingest_batches")


def test_a_new_commit_is_read_without_registering_again(
    registered: RegisteredLake, make_lake: MakeLake,
) -> None:
    copy = make_lake("copy", copy_of=registered.lake)
    location = "local://" + SILVER_METER_READINGS.path(copy.settings.lake_root)
    probe = "lake.silver.meter_readings_commit_probe"
    trino_rows(registered.url, "CALL lake_admin.system.register_table('silver', "
                               f"'meter_readings_commit_probe', '{location}')")
    try:
        assert trino_rows(registered.url, f"SELECT count(*) FROM {probe}") == [[124]]
        ingest_paths(copy, source_named("utility_drops").files, [LEAP / "input_1.csv"])
        run_snapshots(copy)
        expected = copy.read(SILVER_METER_READINGS).count()
        assert expected > 124
        assert trino_rows(registered.url, f"SELECT count(*) FROM {probe}") == [[expected]]
    finally:
        trino_rows(registered.url, "CALL lake_admin.system.unregister_table('silver', "
                                   "'meter_readings_commit_probe')")


def test_a_moved_lake_is_registered_again(registered: RegisteredLake, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(registered.lake.settings.lake_root, moved)
    shutil.rmtree(moved / "ops" / "dq_results")
    outcomes = [str(r) for r in register_lake(registered.url, str(moved), TABLES)]
    expected = _lines("moved")
    expected[expected.index("lake.ops.dq_results: moved")] = (
        "lake.ops.dq_results: unregistered (not written yet)")
    assert outcomes == expected
    # Back to the module's lake, for the other tests.
    back = [str(r) for r in register_lake(registered.url, registered.lake.settings.lake_root,
                                          TABLES)]
    assert back == [line.replace("unregistered (not written yet)", "registered")
                    for line in expected]
