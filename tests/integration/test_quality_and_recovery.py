"""A failing expectation stops publication and names the rule; a crashed ingest resumes its
planned batch without loading anything twice."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_BATCHES, INGEST_LOG, ingest_paths, ingest_pending
from meterlake.engine.snapshot import SNAPSHOT_PROGRESS, run_snapshot
from meterlake.quality.expectations import DQ_RESULTS, ExpectationFailedError
from meterlake.receive.landing import land_file
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import csv_rows, write_drop
from tests.helpers.lakes import lake_at
from tests.helpers.paths import LEAP

INPUT_0 = LEAP / "input_0.csv"
METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"
RANGE_CHECK = "ExpectColumnValuesToBeBetween(column=value, min_value=0.0, max_value=500.0, unit=Wh)"


def cached_frames(spark: SparkSession) -> list[str]:
    """The persisted RDDs of the session (a cached DataFrame, once computed, is one), without
    Delta's cache of each table version's log."""
    persisted = spark.sparkContext._jsc.getPersistentRDDs().values()
    return [str(rdd.name()) for rdd in persisted
            if not str(rdd.name()).startswith("Delta Table State")]


def test_failing_expectation_stops_publication_and_names_the_rule(
    spark: SparkSession, tmp_path: Path
) -> None:
    strict = lake_at(spark, tmp_path / "lake", max_value_per_unit={"Wh": 500.0})
    ingest_paths(strict, UTILITY_DROP_FILES, [INPUT_0])
    cached_before = cached_frames(spark)
    silver_before = strict.version(SILVER_METER_READINGS)
    with pytest.raises(ExpectationFailedError, match=r"ExpectColumnValuesToBeBetween\(column="
                       r"value, min_value=0\.0, max_value=500\.0, unit=Wh\) failed"):
        run_snapshot(strict, utility_drops_source.SNAPSHOT)
    assert cached_frames(spark) == cached_before  # the failed run freed what it cached
    # Checked before writing: no version of silver ever held the failing rows.
    assert strict.version(SILVER_METER_READINGS) == silver_before
    assert strict.read(SILVER_METER_READINGS).isEmpty()
    assert strict.read(SNAPSHOT_PROGRESS).isEmpty()
    over = sum(1 for row in csv_rows(INPUT_0) if row[2] > 500.0)
    failed = strict.read(DQ_RESULTS).filter(~F.col("success")).select(
        "expectation", "unexpected_count", "table_name", "table_version").collect()
    assert [tuple(r) for r in failed] == [
        (RANGE_CHECK, over, "silver.meter_readings", silver_before)]

    relaxed = lake_at(spark, tmp_path / "lake")
    report = run_snapshot(relaxed, utility_drops_source.SNAPSHOT)
    assert (report.rows_read, report.rows_inserted) == (124, 124)
    assert relaxed.read(SILVER_METER_READINGS).count() == 124
    assert relaxed.read(DQ_RESULTS).filter(~F.col("success")).count() == 1


class _CrashOnLogWrite:
    """Fails the first write to ops.ingest_log, as a driver killed after the bronze commit."""

    def __init__(self, lake: Lake) -> None:
        self.append = lake.append
        self.crashed = False

    def __call__(self, contract, df, txn=None) -> None:  # type: ignore[no-untyped-def]
        if contract is INGEST_LOG and not self.crashed:
            self.crashed = True
            raise RuntimeError("driver lost")
        self.append(contract, df, txn=txn)


def test_crashed_ingest_resumes_its_batch_without_loading_twice(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    for name in ("input_0.csv", "input_1.csv"):
        land_file(lake.settings.landing_root, "utility_drops", LEAP / name)
    monkeypatch.setattr(lake, "append", _CrashOnLogWrite(lake))
    with pytest.raises(RuntimeError, match="driver lost"):
        ingest_pending(lake, UTILITY_DROP_FILES)
    assert lake.read(INGEST_LOG).isEmpty()
    # A file that lands after the crash waits for the next batch instead of joining this one.
    land_file(lake.settings.landing_root, "utility_drops", LEAP / "input_2.csv")

    resumed = ingest_pending(lake, UTILITY_DROP_FILES)
    assert (resumed.batch, [f.landed.original_name for f in resumed.files]) == (
        0, ["input_0.csv", "input_1.csv"]
    )
    following = ingest_pending(lake, UTILITY_DROP_FILES)
    assert (following.batch, [f.landed.original_name for f in following.files]) == (
        1, ["input_2.csv"]
    )
    lines = lake.read(BRONZE_UTILITY_DROPS).groupBy("_source_file", "_source_line").count()
    assert lines.filter(F.col("count") > 1).isEmpty()
    expected = {(r[3], r[4]) for n in ("input_0.csv", "input_1.csv", "input_2.csv")
                for r in csv_rows(LEAP / n)}
    assert {(r[0], r[1]) for r in lines.collect()} == expected
    assert sorted(r["batch"] for r in lake.read(INGEST_BATCHES).collect()) == [0, 1]


def test_ingest_after_a_crash_loads_the_interrupted_batch_and_the_new_files(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    land_file(lake.settings.landing_root, "utility_drops", INPUT_0)
    with monkeypatch.context() as patched:
        patched.setattr(lake, "append", _CrashOnLogWrite(lake))
        with pytest.raises(RuntimeError, match="driver lost"):
            ingest_pending(lake, UTILITY_DROP_FILES)
    report = ingest_paths(lake, UTILITY_DROP_FILES, [LEAP / "input_1.csv"])
    assert (report.batch, [(f.landed.original_name, f.outcome) for f in report.files]) == (
        1, [("input_0.csv", "loaded"), ("input_1.csv", "loaded")]
    )
    assert sorted((r["batch"], r["original_name"]) for r in lake.read(INGEST_LOG).collect()) == [
        (0, "input_0.csv"), (1, "input_1.csv")
    ]


def test_snapshot_stopped_before_its_progress_reruns_without_counting_twice(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def silver_rows(lake: Lake) -> list[tuple]:
        return sorted(tuple(r) for r in lake.read(SILVER_METER_READINGS).select(
            "meter_id", "interval_start", "value", "version_count").collect())

    clean, crashed = lake_at(spark, tmp_path / "clean"), lake_at(spark, tmp_path / "crashed")
    # A correction of a (meter, date) silver holds, and the first reading of a new day.
    update = write_drop(tmp_path / "next.csv", [(METER, "2020-06-03T03:00:00.000Z", "1.5"),
                                                (METER, "2020-07-15T00:00:00.000Z", "2.0")])
    for lake in (clean, crashed):
        ingest_paths(lake, UTILITY_DROP_FILES, [INPUT_0])
        run_snapshot(lake, utility_drops_source.SNAPSHOT)
        ingest_paths(lake, UTILITY_DROP_FILES, [update])
    run_snapshot(clean, utility_drops_source.SNAPSHOT)
    append_rows = crashed.append_rows

    def lost_before_progress(contract, rows) -> None:  # type: ignore[no-untyped-def]
        if contract is SNAPSHOT_PROGRESS:
            raise RuntimeError("driver lost")
        append_rows(contract, rows)

    with monkeypatch.context() as patched:
        patched.setattr(crashed, "append_rows", lost_before_progress)
        with pytest.raises(RuntimeError, match="driver lost"):
            run_snapshot(crashed, utility_drops_source.SNAPSHOT)
    rerun = run_snapshot(crashed, utility_drops_source.SNAPSHOT)
    # Every pair is held now: all of it goes through the MERGE, which finds nothing to change.
    assert (rerun.rows_read, rerun.rows_inserted, rerun.rows_updated) == (2, 0, 0)
    assert silver_rows(crashed) == silver_rows(clean)
    assert [r[1:] for r in silver_rows(crashed) if r[3] > 1] == [
        (datetime(2020, 6, 3, 3, 0), 1.5, 2)]
    assert len(silver_rows(crashed)) == 125
