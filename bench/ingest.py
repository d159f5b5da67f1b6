"""1. Ingest: a day of drops through bronze ingest vs a bare CSV -> Delta append of the same files.

meterlake's ingest lands each file, plans the batch, checks files and rows, splits quarantine,
adds lineage and logs every file (idempotence); it runs into a copy of the 1x lake, so its log
and landing zone hold history as in production. The bare baseline reads the same files with a
schema and appends them to a Delta table partitioned the same way, in the same session.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame

from bench.lakes import BenchContext
from bench.results import Figure, Growth, MemoryRow, Section
from bench.timing import Timing, measure
from meterlake.core.contracts import interval_date_of
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES

CSV_SCHEMA = "idx STRING, meter_id STRING, interval_date_time TIMESTAMP, energy_wh DOUBLE"
TARGET_SHARE_OF_BARE = 0.75


def bare_rows(ctx: BenchContext, drops: list[Path]) -> DataFrame:
    csv_df = ctx.spark.read.csv([str(p) for p in drops], schema=CSV_SCHEMA, header=True)
    return csv_df.withColumn("interval_date", interval_date_of(csv_df["interval_date_time"]))


def _ingest_and_bare(ctx: BenchContext, drops: list[Path], name: str) -> tuple[Timing, Timing]:
    def fresh_lake(run: int) -> Lake:
        return ctx.copy_of_base(1, f"ingest-{name}-{run}")

    def bare_table(run: int) -> str:
        path = str(ctx.work / f"bare-{name}-{run}")
        # The table exists before the load, as bronze does: only the append is timed.
        bare_rows(ctx, drops).limit(0).write.format("delta").partitionBy(
            "interval_date").save(path)
        return path

    def bare_append(path: str) -> None:
        bare_rows(ctx, drops).write.format("delta").mode("append").save(path)

    ingest = measure(ctx.runs, ctx.probe, fresh_lake,
                     lambda lake: ingest_paths(lake, UTILITY_DROP_FILES, drops))
    return ingest, measure(ctx.runs, ctx.probe, bare_table, bare_append)


def measure_ingest(ctx: BenchContext) -> Section:
    section = Section("Ingest")
    ingest, bare = _ingest_and_bare(ctx, ctx.update, "day")
    share = bare.median_s / ingest.median_s
    section.figures.append(Figure(
        "1. ingest", f"bronze ingest of one day ({len(ctx.update)} drops)", ingest,
        "bare read.csv(schema) -> Delta append", bare, share, "of bare throughput",
        f">= {TARGET_SHARE_OF_BARE}", share >= TARGET_SHARE_OF_BARE,
    ))
    section.memory += [MemoryRow("ingest one day", "1x", ingest.memory),
                       MemoryRow("bare append one day", "-", bare.memory)]
    rows = bare_rows(ctx, ctx.update).count()
    section.notes.append(f"The day of drops holds {rows:,} CSV rows in {len(ctx.update)} files "
                         f"({sum(p.stat().st_size for p in ctx.update) / 1e6:.1f} MB).")
    # The growth model's second size: the day's first drop alone (fixed cost + its rows).
    first = ctx.update[:1]
    ingest_one, bare_one = _ingest_and_bare(ctx, first, "drop")
    first_rows = bare_rows(ctx, first).count()
    section.growth += [
        Growth("bronze ingest", "CSV rows of the drops", first_rows, ingest_one, rows, ingest),
        Growth("bare read.csv -> Delta append", "CSV rows of the drops", first_rows, bare_one,
               rows, bare),
    ]
    return section
