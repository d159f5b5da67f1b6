"""2. Snapshot scaling: one day's update MERGEd into silver at 1x, 3x and 10x, against the jobs a
Delta user would write instead, and its fixed cost.

Every size gets the same update (the drops of the day after the largest table), ingested into a
copy of its base lake before the clock starts; the timed part is `run_snapshot`, the whole job
(change feed read, MERGE, expectations, progress). Three baselines at 10x, each on its own copy
of the same lake:

- the naive MERGE a Delta user writes first: the update's latest version per key, MERGEd on the
  keys alone (no partition literal, so Delta joins it with every file of silver);
- silver rebuilt from all of bronze with a window function (latest version per key by arrival
  order, plus the version count);
- for the fixed cost, a bare one-row MERGE with its partition literal, Delta's own floor, against
  a snapshot whose whole update is one corrected reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, Row, Window
from pyspark.sql import functions as F

from bench.lakes import BenchContext, job_lake
from bench.results import Figure, Growth, MemoryRow, Section
from bench.timing import Timing, measure
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import (
    SNAPSHOT_PROGRESS,
    last_progress,
    new_bronze_rows,
    run_snapshot,
)
from meterlake.silver.meter_readings import KEYS, SILVER_METER_READINGS, to_silver_rows
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import EXPECTED_HEADER, UTILITY_DROP_FILES

TARGET_GROWTH_AT_10X = 1.5
TARGET_SPEEDUP_OVER_REBUILD = 10.0
TARGET_SPEEDUP_OVER_NAIVE_MERGE = 5.0
TARGET_FIXED_COST_OVER_BARE_MERGE = 3.0
CORRECTION_WH = 1.5
MERGE_METRICS = ("numSourceRows", "numTargetFilesBeforeSkipping", "numTargetFilesAfterSkipping",
                 "numTargetFilesRemoved", "numTargetFilesAdded", "numTargetRowsCopied",
                 "numTargetRowsUpdated", "numTargetRowsInserted", "scanTimeMs", "rewriteTimeMs",
                 "appendedRows", "appendedFiles")


def rebuilt_silver(bronze_df: DataFrame) -> DataFrame:
    """Silver from every bronze version: the latest by arrival order per key, with the count."""
    newest_first = Window.partitionBy(*KEYS).orderBy(
        *(F.col(c).desc() for c in BRONZE_UTILITY_DROPS.ordering)
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    every_version = Window.partitionBy(*KEYS).rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing)
    return (
        bronze_df.withColumn("arrival_rank", F.row_number().over(newest_first))
        .withColumn("version_count", F.count(F.lit(1)).over(every_version))
        .filter(F.col("arrival_rank") == 1)
        .transform(to_silver_rows, utility_drops_source.READINGS)
    )


def naive_merge(lake: Lake) -> None:
    """The MERGE a Delta user writes first: the update's latest version of each key, MERGEd on
    the keys alone. Same change-feed read as the snapshot; no partition literal, no bronze
    recompute (so its `version_count` is the update's own), no expectations, no progress."""
    snapshot = utility_drops_source.SNAPSHOT
    update_df = new_bronze_rows(lake, BRONZE_UTILITY_DROPS, last_progress(lake, snapshot.name),
                                lake.version(BRONZE_UTILITY_DROPS))
    on_keys = " AND ".join(f"t.{k} = s.{k}" for k in KEYS)
    (
        DeltaTable.forPath(lake.spark, lake.path(SILVER_METER_READINGS)).alias("t")
        .merge(snapshot.latest(update_df, lake.settings).alias("s"), on_keys)
        .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
    )


def last_reading(lake: Lake) -> Row:
    """One row of silver: the latest interval of the smallest meter id on the last day."""
    silver_df = lake.read(SILVER_METER_READINGS)
    last_day = silver_df.agg(F.max("interval_date").alias("day")).collect()[0]["day"]
    row = (silver_df.filter(F.col("interval_date") == last_day)
           .orderBy(F.col("meter_id"), F.col("interval_start").desc()).first())
    assert row is not None
    return row


def write_correction_drop(reading: Row, path: Path) -> None:
    """A drop of one line: `reading` with CORRECTION_WH more energy."""
    start = reading["interval_start"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{EXPECTED_HEADER}\n0,{reading['meter_id']},{start},"
                    f"{reading['value'] + CORRECTION_WH:.1f}\n", encoding="utf-8")


def bare_one_row_merge(lake: Lake, reading: Row) -> None:
    """Delta's floor for a correction: `reading` with CORRECTION_WH more energy, MERGEd with its
    partition literal (only that date's files are scanned and rewritten)."""
    corrected = reading.asDict() | {"value": reading["value"] + CORRECTION_WH}
    row_df = lake.spark.createDataFrame([corrected], SILVER_METER_READINGS.schema)
    on = f"t.interval_date = DATE'{reading['interval_date'].isoformat()}' AND " + " AND ".join(
        f"t.{k} = s.{k}" for k in KEYS)
    (
        DeltaTable.forPath(lake.spark, lake.path(SILVER_METER_READINGS)).alias("t")
        .merge(row_df.alias("s"), on).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
    )


def update_commits(lake: Lake, base: Lake) -> dict[str, Any]:
    """The Delta metrics of the update's snapshot: its MERGE (held pairs) and its append (new
    pairs), the silver commits after the base lake's last one."""
    base_version = base.version(SILVER_METER_READINGS)
    table = DeltaTable.forPath(lake.spark, lake.path(SILVER_METER_READINGS))
    metrics: dict[str, Any] = {}
    for row in table.history().filter(F.col("version") > base_version).collect():
        found = dict(row["operationMetrics"])
        if row["operation"] == "MERGE":
            metrics.update(found)
        elif row["operation"] == "WRITE":
            metrics.update({"appendedRows": found.get("numOutputRows"),
                            "appendedFiles": found.get("numFiles")})
    return metrics


def update_rows(lake: Lake) -> int:
    """The bronze rows the lake's last snapshot read: the update's."""
    last = lake.read(SNAPSHOT_PROGRESS).orderBy(F.col("bronze_version").desc()).first()
    assert last is not None
    return int(last["rows_read"])


def silver_shape(lake: Lake) -> tuple[int, int, int, int]:
    """(rows, files, date partitions, bytes) of silver."""
    detail = lake.spark.sql(f"DESCRIBE DETAIL delta.`{lake.path(SILVER_METER_READINGS)}`").first()
    assert detail is not None
    silver_df = lake.read(SILVER_METER_READINGS)
    dates = silver_df.select("interval_date").distinct().count()
    return silver_df.count(), int(detail["numFiles"]), dates, int(detail["sizeInBytes"])


def _snapshot_at(ctx: BenchContext, size: int, section: Section) -> Timing:
    def prepared(run: int) -> Lake:
        return ctx.with_update_landed(size, ctx.snapshot_name(size, run))

    timing = measure(ctx.runs, ctx.probe, prepared,
                     lambda lake: run_snapshot(lake, utility_drops_source.SNAPSHOT))
    base = job_lake(ctx.spark, ctx.base(size))
    rows, files, dates, size_bytes = silver_shape(base)
    metrics = update_commits(ctx.snapshotted(size), base)
    section.notes.append(
        f"| {size}x | {rows:,} | {size_bytes / rows:.1f} | {dates} | {files} | "
        + " | ".join(str(metrics.get(m, "")) for m in MERGE_METRICS) + " |"
    )
    section.memory.append(MemoryRow("snapshot (MERGE) of the update", f"{size}x", timing.memory))
    return timing


def measure_snapshot(ctx: BenchContext) -> Section:
    section = Section("Snapshot: silver before the update, and the update's MERGE and append "
                      "(Delta log)")
    section.notes += [
        "| size | silver rows | bytes/row | dates | files | " + " | ".join(MERGE_METRICS) + " |",
        "|---" * (5 + len(MERGE_METRICS)) + "|",
    ]
    sizes = ctx.scale.sizes
    timings = {size: _snapshot_at(ctx, size, section) for size in sizes}
    smallest, largest = min(sizes), max(sizes)
    for size in sizes[1:]:
        growth = timings[size].median_s / timings[smallest].median_s
        section.figures.append(Figure(
            "2. snapshot scaling", f"snapshot of one day at {size}x", timings[size],
            f"same update at {smallest}x", timings[smallest], growth, "x the 1x time",
            f"<= {TARGET_GROWTH_AT_10X} at 10x", growth <= TARGET_GROWTH_AT_10X,
        ))

    def rebuild_target(run: int) -> tuple[DataFrame, str]:
        # Run 0's lake: its bronze holds the base and the update, as the MERGE saw it.
        bronze_df = ctx.snapshotted(largest).read(BRONZE_UTILITY_DROPS)
        return bronze_df, str(ctx.work / f"rebuild-{run}")

    def rebuild(state: tuple[DataFrame, str]) -> None:
        bronze_df, path = state
        rebuilt_silver(bronze_df).write.format("delta").mode("overwrite").partitionBy(
            "interval_date").save(path)

    def faster_than(name: str, baseline: str, timing: Timing, target: float) -> None:
        speedup = timing.median_s / timings[largest].median_s
        section.figures.append(Figure(
            f"2. snapshot vs {name}", f"snapshot of one day at {largest}x", timings[largest],
            f"{baseline} at {largest}x", timing, speedup, f"x faster than the {name}",
            f">= {target}", speedup >= target,
        ))

    rebuilt = measure(ctx.runs, ctx.probe, rebuild_target, rebuild)
    faster_than("rebuild", "rebuild of silver from bronze (window function)", rebuilt,
                TARGET_SPEEDUP_OVER_REBUILD)
    section.memory.append(MemoryRow("rebuild silver from bronze", f"{largest}x", rebuilt.memory))
    naive = measure(ctx.runs, ctx.probe,
                    lambda run: ctx.with_update_landed(largest, f"naive-{largest}x-{run}"),
                    naive_merge)
    faster_than("naive MERGE", "MERGE of the update's latest rows on the keys alone", naive,
                TARGET_SPEEDUP_OVER_NAIVE_MERGE)
    section.memory.append(MemoryRow("naive MERGE of the update", f"{largest}x", naive.memory))
    one_reading = _fixed_cost(ctx, largest, section)
    section.growth.append(Growth(
        f"snapshot at {largest}x", "bronze rows of the update", 1, one_reading,
        update_rows(ctx.snapshotted(largest)), timings[largest]))
    return section


def _fixed_cost(ctx: BenchContext, size: int, section: Section) -> Timing:
    """A snapshot whose update is one corrected reading vs a bare MERGE of that reading."""
    def corrected(run: int) -> Lake:
        lake = ctx.copy_of_base(size, f"one-correction-{size}x-{run}")
        drop = ctx.work / f"one-correction-{size}x-{run}.csv"
        write_correction_drop(last_reading(lake), drop)
        ingest_paths(lake, UTILITY_DROP_FILES, [drop])
        return lake

    def bare_target(run: int) -> tuple[Lake, Row]:
        lake = ctx.copy_of_base(size, f"bare-merge-{size}x-{run}")
        return lake, last_reading(lake)

    snapshot = measure(ctx.runs, ctx.probe, corrected,
                       lambda lake: run_snapshot(lake, utility_drops_source.SNAPSHOT))
    bare = measure(ctx.runs, ctx.probe, bare_target, lambda state: bare_one_row_merge(*state))
    ratio = snapshot.median_s / bare.median_s
    section.figures.append(Figure(
        "2. snapshot fixed cost", f"snapshot of one corrected reading at {size}x", snapshot,
        f"bare one-row MERGE with its partition literal at {size}x", bare, ratio,
        "x the bare MERGE", f"<= {TARGET_FIXED_COST_OVER_BARE_MERGE}",
        ratio <= TARGET_FIXED_COST_OVER_BARE_MERGE,
    ))
    section.memory.append(MemoryRow("snapshot of one corrected reading", f"{size}x",
                                    snapshot.memory))
    return snapshot
