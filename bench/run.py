"""Benchmarks of the backbone, each figure against a baseline measured in the same run.

    .venv/bin/python -m bench.run [--meters 1000] [--days 7] [--runs 3]

1. ingest: one day of drops through meterlake's bronze ingest (landing, file checks, parsing,
   rules, quarantine split, lineage, log) vs a bare `spark.read.csv(schema) -> Delta append`.
2. snapshot scaling: the same one-day update merged into silver holding 1x and 3x the days,
   and a full rebuild of silver from bronze at 3x with the same latest-by-arrival rule.

Absolute times on a 2-core machine are noise; the ratios within one run are the result.
Writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyspark.sql import SparkSession

from meterlake.config import Settings, SparkSettings
from meterlake.generate import UtilityDropPlan, write_utility_drops
from meterlake.lake import Lake
from meterlake.pipeline import ingest_paths
from meterlake.silver import UTILITY_DROPS, latest_by_arrival, run_snapshot, to_silver_rows
from meterlake.sources.utility_drops import UTILITY_DROP_FILES
from meterlake.spark import build_session
from meterlake.tables import ALL_TABLES, BRONZE_UTILITY_DROPS, interval_date_of

State = TypeVar("State")
CSV_SCHEMA = "idx STRING, meter_id STRING, interval_date_time TIMESTAMP, energy_wh DOUBLE"


def _settings(root: Path) -> Settings:
    return Settings(lake_root=str(root), landing_root=f"{root}/landing",
                    spark=SparkSettings(master="local[2]", shuffle_partitions=4,
                                        delta_snapshot_partitions=2))


def _median_seconds(
    runs: int, prepare: Callable[[int], State], measured: Callable[[State], object]
) -> float:
    """Median wall time of `measured`; `prepare` (not timed) makes each run's fresh state."""
    times = []
    for run in range(runs):
        state = prepare(run)
        started = time.perf_counter()
        measured(state)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _drops_of_days(drops: list[Path], days: range, per_day: int) -> list[Path]:
    return [d for i, d in enumerate(drops) if i // per_day in days]


def bench_ingest(
    spark: SparkSession, work: Path, day_drops: list[Path], runs: int
) -> tuple[float, float]:
    def fresh_lake(run: int) -> Lake:
        # A production lake has its tables already: their creation is not part of a load.
        lake = Lake(spark, _settings(work / f"ingest-{run}"))
        for contract in ALL_TABLES:
            lake.ensure(contract)
        return lake

    def bare(run: int) -> str:
        return str(work / f"bare-{run}")

    def bare_append(path: str) -> None:
        df = spark.read.csv([str(p) for p in day_drops], schema=CSV_SCHEMA, header=True)
        df.withColumn("interval_date", interval_date_of(df["interval_date_time"])).write.format(
            "delta").mode("append").partitionBy("interval_date").save(str(path))

    meterlake_s = _median_seconds(
        runs, fresh_lake, lambda lake: ingest_paths(lake, UTILITY_DROP_FILES, day_drops)
    )
    bare_s = _median_seconds(runs, bare, bare_append)
    return meterlake_s, bare_s


def _base_lake(spark: SparkSession, root: Path, drops: list[Path]) -> Path:
    lake = Lake(spark, _settings(root))
    ingest_paths(lake, UTILITY_DROP_FILES, drops)
    run_snapshot(lake, UTILITY_DROPS)
    return root


def bench_snapshot(
    spark: SparkSession, work: Path, drops: list[Path], per_day: int, days: int, runs: int
) -> dict[str, float]:
    update = _drops_of_days(drops, range(3 * days, 3 * days + 1), per_day)
    bases = {
        "1x": _base_lake(spark, work / "base-1x",
                         _drops_of_days(drops, range(2 * days, 3 * days), per_day)),
        "3x": _base_lake(spark, work / "base-3x",
                         _drops_of_days(drops, range(0, 3 * days), per_day)),
    }
    figures = {}
    for size, base in bases.items():
        def copy(run: int, base: Path = base, size: str = size) -> Lake:
            target = work / f"snap-{size}-{run}"
            shutil.copytree(base, target)
            lake = Lake(spark, _settings(target))
            ingest_paths(lake, UTILITY_DROP_FILES, update)
            return lake

        figures[size] = _median_seconds(runs, copy, lambda lake: run_snapshot(lake, UTILITY_DROPS))

    def rebuild(run: int) -> Path:
        return work / f"rebuild-{run}"

    def full_rebuild(path: Path) -> None:
        bronze = Lake(spark, _settings(bases["3x"])).read(BRONZE_UTILITY_DROPS)
        rows = bronze.transform(latest_by_arrival, UTILITY_DROPS).transform(
            to_silver_rows, UTILITY_DROPS)
        rows.write.format("delta").mode("overwrite").partitionBy("interval_date").save(str(path))

    figures["rebuild-3x"] = _median_seconds(runs, rebuild, full_rebuild)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7, help="days in the 1x table")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    per_day = 4
    work = Path(tempfile.mkdtemp(prefix="meterlake-bench-"))
    plan = UtilityDropPlan(meters=args.meters, days=3 * args.days + 1, seed=11,
                           drops_per_day=per_day, correction_rate=0.02, new_meters=5)
    drops = write_utility_drops(plan, work / "drops")
    spark = build_session(_settings(work / "session"), "meterlake-bench")
    ingest_s, bare_s = bench_ingest(spark, work, _drops_of_days(drops, range(0, 1), per_day),
                                    args.runs)
    snap = bench_snapshot(spark, work, drops, per_day, args.days, args.runs)
    lines = [
        f"# meterlake benchmarks ({args.meters} meters, 1x = {args.days} days, "
        f"median of {args.runs} runs, Spark {spark.version}, local[2])",
        "",
        "| measurement | seconds | baseline | baseline seconds | ratio |",
        "|---|---|---|---|---|",
        f"| ingest one day of drops | {ingest_s:.2f} | bare read.csv -> Delta append | "
        f"{bare_s:.2f} | throughput {bare_s / ingest_s:.2f} of bare |",
        f"| snapshot one-day update at 3x | {snap['3x']:.2f} | same update at 1x | "
        f"{snap['1x']:.2f} | {snap['3x'] / snap['1x']:.2f}x |",
        f"| snapshot one-day update at 3x | {snap['3x']:.2f} | full rebuild from bronze at 3x | "
        f"{snap['rebuild-3x']:.2f} | rebuild / snapshot = {snap['rebuild-3x'] / snap['3x']:.2f} "
        "(above 1: the incremental MERGE wins) |",
    ]
    (Path(__file__).parent / "RESULTS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
