"""Running a job twice is a no-op: the grid and the dropzone snapshot write no new Delta version
and leave their rows as they were; a change in silver rebuilds the grid once."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.core.contracts import TableContract
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import SnapshotReport, run_snapshot
from meterlake.gold.dropzone_daily import GOLD_DROPZONE_DAILY
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN, run_grid
from meterlake.gold.rebuild import RebuildReport
from meterlake.lake_jobs import snapshot_source
from meterlake.silver.dropzone_measurements import SILVER_DROPZONE_MEASUREMENTS
from meterlake.sources.dropzone import source as dropzone_source
from meterlake.sources.dropzone.parse import DROPZONE_FILES
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.paths import FIXTURES, LEAP

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"
CORRECTED = datetime(2020, 6, 5, 14, 15)  # 162.2 Wh in input_1.csv, line 2


def _rows_now(lake: Lake, contract: TableContract) -> DataFrame:
    """The table's rows as they are now, held on the driver (not re-read from the table)."""
    return lake.spark.createDataFrame(lake.read(contract).collect(), contract.schema)


def _corrected_interval(lake: Lake) -> list[tuple]:
    return [tuple(r) for r in lake.read(GOLD_METER_INTERVALS_15MIN).filter(
        (F.col("meter_id") == METER) & (F.col("interval_start") == CORRECTED)
    ).select("energy_wh", "is_missing").collect()]


def test_the_grid_is_rebuilt_only_when_silver_changed(lake: Lake, tmp_path: Path) -> None:
    ingest_paths(lake, UTILITY_DROP_FILES, [LEAP / "input_1.csv"])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    grid, silver = "gold.meter_intervals_15min", "silver.meter_readings"
    # Created empty (version 0), then overwritten from silver version 1 (its first append).
    assert run_grid(lake) == RebuildReport(grid, silver, 1, 1, True)
    built_df = _rows_now(lake, GOLD_METER_INTERVALS_15MIN)

    assert run_grid(lake) == RebuildReport(grid, silver, 1, 1, False)
    assert lake.version(GOLD_METER_INTERVALS_15MIN) == 1
    assert_df_equality(lake.read(GOLD_METER_INTERVALS_15MIN), built_df, ignore_row_order=True,
                       ignore_nullable=True)
    assert _corrected_interval(lake) == [(162.2, False)]

    correction = tmp_path / "drops" / "correction.csv"
    correction.parent.mkdir()
    correction.write_text(f",meter_id,interval_date_time,energy_wh\n"
                          f"0,{METER},2020-06-05T14:15:00.000Z,999.9\n")
    ingest_paths(lake, UTILITY_DROP_FILES, [correction])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)  # a MERGE: silver version 2
    assert run_grid(lake) == RebuildReport(grid, silver, 2, 2, True)
    assert _corrected_interval(lake) == [(999.9, False)]


def test_a_second_dropzone_snapshot_changes_nothing(lake: Lake) -> None:
    # One payload on 1 May, two payloads of one timestamp on 4 May, 100 values each.
    dropzone = FIXTURES / "dropzone"
    ingest_paths(lake, DROPZONE_FILES, [dropzone / "file.json", dropzone / "ArrayOfObjects.json"])
    assert snapshot_source(lake, dropzone_source.SOURCE) == [
        SnapshotReport("dropzone", bronze_version=1, rows_read=3, rows_inserted=2,
                       rows_updated=0, silver_version=1, dates_touched=2)]
    silver_df = _rows_now(lake, SILVER_DROPZONE_MEASUREMENTS)
    gold_df = _rows_now(lake, GOLD_DROPZONE_DAILY)
    assert sorted(tuple(r) for r in silver_df.select(
        "time_stamp_utc", "stamp_date", "payload_count", "value_count").collect()) == [
        (datetime(2019, 5, 1, 10, 0), date(2019, 5, 1), 1, 100),
        (datetime(2019, 5, 4, 10, 0), date(2019, 5, 4), 2, 100),
    ]
    assert sorted(tuple(r) for r in gold_df.select(
        "stamp_date", "timestamps", "value_count").collect()) == [
        (date(2019, 5, 1), 1, 100), (date(2019, 5, 4), 1, 100),
    ]

    assert snapshot_source(lake, dropzone_source.SOURCE) == [
        SnapshotReport("dropzone", bronze_version=1, rows_read=0, rows_inserted=0,
                       rows_updated=0, silver_version=None, dates_touched=0)]
    assert (lake.version(SILVER_DROPZONE_MEASUREMENTS), lake.version(GOLD_DROPZONE_DAILY)) == (
        1, 1)
    assert_df_equality(lake.read(SILVER_DROPZONE_MEASUREMENTS), silver_df,
                       ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(lake.read(GOLD_DROPZONE_DAILY), gold_df, ignore_row_order=True,
                       ignore_nullable=True)
