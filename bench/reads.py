"""3. Read latency: one meter over one month through the API's reader vs a full scan of silver.

Both go through `meterlake.serve.delta_reads` (delta-rs and Arrow, no JVM) on the largest lake
after the update's snapshot and after the nightly maintenance (OPTIMIZE ZORDER BY meter_id), the
layout chosen for it: date partitions prune the month, and inside each date the files and
Parquet row groups are sorted by meter, so their min/max statistics skip the other meters. Each
timed call asks the server's open tables (`LatestTables`) for silver's newest version, as an API
request does: that reads the log for new commits, then the files of the month's dates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.lakes import BenchContext
from bench.results import Figure, MemoryRow, Section
from bench.timing import Timing, measure
from meterlake.maintenance import run_optimize
from meterlake.serve import delta_reads as reads
from meterlake.sources.utility_drops.generate import UtilityDropPlan

TARGET_SPEEDUP = 50.0
MONTH = timedelta(days=30)


def month_of_one_meter(ctx: BenchContext, lake_root: str) -> tuple[str, datetime, datetime]:
    """A meter from the middle of the id order, and the 30 days up to the update day's end."""
    silver = reads.LatestTables(lake_root).latest(reads.SILVER_METER_READINGS)
    meters = pc.unique(silver.files.to_table(columns=["meter_id"]).column("meter_id"))
    meter = sorted(meters.to_pylist())[len(meters) // 2]
    first_day = UtilityDropPlan(meters=1, days=1, seed=0).start
    end = datetime.combine(first_day, datetime.min.time(), UTC) + timedelta(
        days=ctx.scale.update_day + 1)
    return meter, end - MONTH, end


def _row_groups(silver: reads.TableVersion, rows: pc.Expression | None) -> tuple[int, int]:
    """(files, Parquet row groups) a read of `rows` opens."""
    opened = [f.path for f in silver.files.get_fragments(filter=rows)]
    groups = sum(pq.ParquetFile(silver.files.filesystem.open_input_file(path)).num_row_groups
                 for path in opened)
    return len(opened), groups


def _release_arrow_memory(run: int = 0) -> None:
    """Arrow's allocator keeps the pages of freed tables (a full scan's gigabytes): handed back
    before a series of measured calls, their peak RSS is their own, not the previous series'.
    Only before the first run: handing pages back before every run made every scan fault its
    gigabyte in again, a cost a serving process does not pay."""
    if run == 0:
        pa.default_memory_pool().release_unused()


def _time_reads(ctx: BenchContext, lake_root: str, meter: str, start: datetime,
                end: datetime) -> tuple[Timing, Timing, int]:
    def one_meter(_: None) -> None:
        silver = tables.latest(reads.SILVER_METER_READINGS)
        found[0] = reads.meter_readings(silver, meter, start, end).num_rows

    def full_scan(_: None) -> None:
        tables.latest(reads.SILVER_METER_READINGS).files.to_table()

    # What a server holds from its start: the first request opens the table.
    tables = reads.LatestTables(lake_root)
    tables.latest(reads.SILVER_METER_READINGS)
    found = [0]
    runs = max(ctx.runs, 11)  # milliseconds, and noisy: more runs cost little
    reader = measure(runs, ctx.probe, _release_arrow_memory, one_meter)
    scan = measure(runs, ctx.probe, _release_arrow_memory, full_scan)
    return reader, scan, found[0]


def measure_reads(ctx: BenchContext) -> Section:
    section = Section("Read latency: files and row groups the reader touches")
    size = max(ctx.scale.sizes)
    lake = ctx.snapshotted(size)
    root = lake.settings.lake_root
    meter, start, end = month_of_one_meter(ctx, root)
    before_reader, before_scan, _ = _time_reads(ctx, root, meter, start, end)
    month = reads.readings_filter(meter, start, end)
    silver = reads.LatestTables(root).latest(reads.SILVER_METER_READINGS)
    before_files = (_row_groups(silver, None), _row_groups(silver, month))
    started = time.perf_counter()
    run_optimize(lake)
    optimize_s = time.perf_counter() - started
    reader, scan, rows = _time_reads(ctx, root, meter, start, end)
    silver = reads.LatestTables(root).latest(reads.SILVER_METER_READINGS)
    after_files = (_row_groups(silver, None), _row_groups(silver, month))
    speedup = scan.median_s / reader.median_s
    section.figures.append(Figure(
        "3. read latency", f"one meter, one month ({rows} readings) at {size}x, API reader",
        reader, "full scan of silver (same reader stack)", scan, speedup,
        "x faster than the scan", f">= {TARGET_SPEEDUP}", speedup >= TARGET_SPEEDUP,
    ))
    section.memory += [MemoryRow("read one meter-month (delta-rs)", f"{size}x", reader.memory),
                       MemoryRow("full scan of silver (delta-rs)", f"{size}x", scan.memory)]
    section.notes += [
        f"Month {start:%Y-%m-%d}..{end:%Y-%m-%d}, meter {meter}.",
        "",
        "| layout | silver files / row groups | kept by pruning | reader s | scan s | speedup |",
        "|---|---|---|---|---|---|",
        f"| as MERGE leaves it | {before_files[0][0]} / {before_files[0][1]} | "
        f"{before_files[1][0]} / {before_files[1][1]} | {before_reader.median_s:.4f} | "
        f"{before_scan.median_s:.4f} | {before_scan.median_s / before_reader.median_s:.1f} |",
        f"| after OPTIMIZE ZORDER BY meter_id ({optimize_s:.1f} s) | "
        f"{after_files[0][0]} / {after_files[0][1]} | {after_files[1][0]} / {after_files[1][1]} | "
        f"{reader.median_s:.4f} | {scan.median_s:.4f} | {speedup:.1f} |",
    ]
    _release_arrow_memory()
    return section
