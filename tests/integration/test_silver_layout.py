"""The MERGE rewrites only files of the date partitions its update touches, new (meter, date)
pairs are appended without one, and the tables are registered in the session catalog under
<layer>.<name> (except by a job's Lake, whose catalog ends with its session)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.core.spark import catalog_outlives_session
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import write_drop
from tests.helpers.lakes import lake_at, local_test_settings
from tests.helpers.paths import LEAP

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"


def _commit_actions(lake: Lake, version: int) -> list[dict]:
    log = Path(lake.path(SILVER_METER_READINGS)) / "_delta_log" / f"{version:020d}.json"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_merge_rewrites_only_the_touched_partition(spark: SparkSession, tmp_path: Path) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    ingest_paths(lake, UTILITY_DROP_FILES, [LEAP])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    files_before = Counter(
        path.split("interval_date=")[1].split("/")[0]
        for path in lake.read(SILVER_METER_READINGS).inputFiles()
    )
    assert len(files_before) == 7
    correction = write_drop(tmp_path / "fix.csv", [(METER, "2020-06-03T03:00:00.000Z", "1.5")])
    ingest_paths(lake, UTILITY_DROP_FILES, [correction])
    report = run_snapshot(lake, utility_drops_source.SNAPSHOT)
    assert (report.rows_inserted, report.rows_updated, report.dates_touched) == (0, 1, 1)
    actions = _commit_actions(lake, report.silver_version or -1)
    removed = [a["remove"]["path"] for a in actions if "remove" in a]
    added = [a["add"]["path"] for a in actions if "add" in a]
    assert removed and all(p.startswith("interval_date=2020-06-03/") for p in removed)
    assert len(removed) <= files_before["2020-06-03"]
    assert len(added) == 1 and added[0].startswith("interval_date=2020-06-03/")


def test_tables_are_registered_in_the_catalog(spark: SparkSession, tmp_path: Path) -> None:
    first, second = lake_at(spark, tmp_path / "one"), lake_at(spark, tmp_path / "two")
    ingest_paths(first, UTILITY_DROP_FILES, [LEAP / "input_0.csv"])
    run_snapshot(first, utility_drops_source.SNAPSHOT)
    assert spark.table("silver.meter_readings").count() == 124
    ingest_paths(second, UTILITY_DROP_FILES, [LEAP / "input_1.csv"])
    run_snapshot(second, utility_drops_source.SNAPSHOT)
    assert spark.table("silver.meter_readings").count() == 125
    assert spark.table("bronze.utility_drops").count() == 125


def test_a_job_lake_leaves_the_catalog_alone(spark: SparkSession, tmp_path: Path) -> None:
    named = lake_at(spark, tmp_path / "named")
    ingest_paths(named, UTILITY_DROP_FILES, [LEAP / "input_0.csv"])
    # The CLI's jobs run on Spark's in-memory catalog, which ends with their session: they
    # do not name their tables (core.spark.catalog_outlives_session).
    assert not catalog_outlives_session(spark)
    job = Lake(spark, local_test_settings(tmp_path / "job"), name_tables=False)
    ingest_paths(job, UTILITY_DROP_FILES, [LEAP / "input_1.csv"])
    run_snapshot(job, utility_drops_source.SNAPSHOT)
    assert job.read(SILVER_METER_READINGS).count() == 125
    assert spark.table("bronze.utility_drops").count() == 124  # still the named lake's


def _operations(lake: Lake) -> list[str]:
    history = lake.ensure(SILVER_METER_READINGS).history().orderBy("version")
    return [r["operation"] for r in history.select("operation").collect()]


def test_new_pairs_are_appended_and_held_pairs_merged(spark: SparkSession, tmp_path: Path) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    ingest_paths(lake, UTILITY_DROP_FILES, [LEAP / "input_0.csv"])
    first = run_snapshot(lake, utility_drops_source.SNAPSHOT)
    # A correction of a held (meter, date) and the first reading of a day silver does not hold.
    update = write_drop(tmp_path / "next.csv", [(METER, "2020-06-03T03:00:00.000Z", "1.5"),
                                                (METER, "2020-07-15T00:00:00.000Z", "2.0")])
    ingest_paths(lake, UTILITY_DROP_FILES, [update])
    second = run_snapshot(lake, utility_drops_source.SNAPSHOT)
    assert (first.rows_inserted, first.rows_updated) == (124, 0)
    assert (second.rows_read, second.rows_inserted, second.rows_updated) == (2, 1, 1)
    # CREATE TABLE, the first load appended; then the correction MERGEd, the new day appended.
    assert _operations(lake) == ["CREATE TABLE", "WRITE", "MERGE", "WRITE"]
    merge_added = [a["add"]["path"] for a in _commit_actions(lake, 2) if "add" in a]
    assert merge_added and all(p.startswith("interval_date=2020-06-03/") for p in merge_added)
    instants = [F.lit(t).cast("timestamp") for t in ("2020-06-03 03:00:00", "2020-07-15 00:00:00")]
    rows = lake.read(SILVER_METER_READINGS).filter(
        (F.col("meter_id") == METER) & F.col("interval_start").isin(*instants))
    assert {(r["interval_start"].isoformat(), r["value"], r["version_count"])
            for r in rows.collect()} == {("2020-06-03T03:00:00", 1.5, 2),
                                         ("2020-07-15T00:00:00", 2.0, 1)}
