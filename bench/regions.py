"""Region assignment of temperature points: the box and polygon modes vs a plain Spark join.

    .venv/bin/python -m bench.regions [--points 1000000] [--runs 3] [--partitions 4]

Points are drawn uniformly (seeded `rand`) over metropolitan France's envelope, lat 41.3-51.1,
lon -5.2-9.6, cached before timing so every figure is the assignment alone. Each timed run writes
the assigned points to Spark's no-op sink (every row, every column computed), after one untimed
warm-up of each mode (Python workers started, code generated). Figures:

- baseline: the points LEFT JOINed to a 13-row DataFrame of bounding boxes on a range condition,
  then the lowest code per point (group by the point): what a Spark user writes first;
- box: `with_box_region`, one CASE WHEN over the 13 boxes, same answers as the baseline;
- polygon: `with_polygon_region`, shapely's `intersects_xy` on the La Poste contours in
  `mapInArrow`.

Then the number of points the two modes disagree on, among 100,000 seeded points and among the
France points of the captured partner response.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.lakes import bench_settings
from bench.timing import MemoryProbe, Timing, measure
from meterlake.core.spark import build_session
from meterlake.sources.temperatures.assign import with_box_region, with_polygon_region
from meterlake.sources.temperatures.regions import Region, load_regions

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
REGIONS_DIR = FIXTURES / "regions"
RESPONSE = FIXTURES / "temperature" / "mockaroo_sample_response_2019-04-26.json"
# Metropolitan France's envelope, Corsica included, in degrees.
MIN_LAT, MAX_LAT, MIN_LON, MAX_LON = 41.3, 51.1, -5.2, 9.6
SEED = 20190426
COMPARED_POINTS = 100_000
OUT = "region_code"

Step = Callable[[DataFrame, tuple[Region, ...]], DataFrame]


def random_points(spark: SparkSession, points: int, seed: int, partitions: int) -> DataFrame:
    """`points` rows (`id`, `lat`, `lon`) uniform over the envelope; the same for the same
    seed and partitions."""
    return spark.range(points, numPartitions=partitions).select(
        "id",
        (F.lit(MIN_LAT) + F.rand(seed) * (MAX_LAT - MIN_LAT)).alias("lat"),
        (F.lit(MIN_LON) + F.rand(seed + 1) * (MAX_LON - MIN_LON)).alias("lon"),
    )


def with_joined_region(points_df: DataFrame, regions: tuple[Region, ...]) -> DataFrame:
    """The baseline: a range join on a 13-row box table, then the lowest code per point."""
    spark = points_df.sparkSession
    boxes_df = spark.createDataFrame(
        [(r.code, r.min_lat, r.max_lat, r.min_lon, r.max_lon) for r in regions],
        "code STRING, min_lat DOUBLE, max_lat DOUBLE, min_lon DOUBLE, max_lon DOUBLE")
    in_box = (F.col("lat").between(F.col("min_lat"), F.col("max_lat"))
              & F.col("lon").between(F.col("min_lon"), F.col("max_lon")))
    return (points_df.join(boxes_df, on=in_box, how="left")
            .groupBy("id", "lat", "lon").agg(F.min("code").alias(OUT)))


def with_box(points_df: DataFrame, regions: tuple[Region, ...]) -> DataFrame:
    return with_box_region(points_df, regions, out=OUT)


def with_polygon(points_df: DataFrame, regions: tuple[Region, ...]) -> DataFrame:
    return with_polygon_region(points_df, regions, out=OUT)


MODES: dict[str, Step] = {"baseline": with_joined_region, "box": with_box,
                          "polygon": with_polygon}


def write_noop(assigned_df: DataFrame) -> None:
    assigned_df.write.format("noop").mode("overwrite").save()


def time_modes(points_df: DataFrame, regions: tuple[Region, ...], runs: int,
               probe: MemoryProbe) -> dict[str, Timing]:
    for step in MODES.values():
        write_noop(step(points_df, regions))
    return {name: measure(runs, probe, _no_state, _timed(step, points_df, regions))
            for name, step in MODES.items()}


def _no_state(_run: int) -> None:
    return None


def _timed(step: Step, points_df: DataFrame,
           regions: tuple[Region, ...]) -> Callable[[None], None]:
    return lambda _state: write_noop(step(points_df, regions))


def assigned_counts(points_df: DataFrame, regions: tuple[Region, ...]) -> dict[str, int]:
    """Points that get a code, per mode (untimed: a check that the modes did the work)."""
    return {name: int(step(points_df, regions).agg(F.count(OUT)).first()[0])  # type: ignore[index]
            for name, step in MODES.items()}


def disagreements(points_df: DataFrame, regions: tuple[Region, ...]) -> tuple[int, int]:
    """(points, points whose box and polygon codes differ, a null counting as a value)."""
    both_df = (points_df.transform(with_box_region, regions)
               .transform(with_polygon_region, regions))
    row = both_df.agg(F.count("*"), F.count_if(
        ~F.col("box_region_code").eqNullSafe(F.col("polygon_region_code")))).first()
    assert row is not None
    return int(row[0]), int(row[1])


def response_france_points(spark: SparkSession, path: Path) -> DataFrame:
    records = json.loads(path.read_text(encoding="utf-8"))
    return spark.createDataFrame(
        [(r["lat"], r["lon"]) for r in records if r["country"] == "France"],
        "lat DOUBLE, lon DOUBLE")


def render(timings: dict[str, Timing], points: int, counts: dict[str, int]) -> str:
    baseline = timings["baseline"].median_s
    lines = [f"{points:,} points; median of {len(timings['baseline'].runs_s)} runs",
             f"{'mode':<9} {'runs (s)':<26} {'median s':>9} {'x baseline':>11} "
             f"{'assigned':>10} {'JVM heap MiB':>13}"]
    for name, timing in timings.items():
        runs = ", ".join(f"{s:.2f}" for s in timing.runs_s)
        heap = timing.memory.jvm_heap_peak_mib
        lines.append(f"{name:<9} {runs:<26} {timing.median_s:>9.2f} "
                     f"{timing.median_s / baseline:>11.2f} {counts[name]:>10,} "
                     f"{heap if heap is None else round(heap):>13}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median); >= 3")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the figures are medians)")
    work = Path(tempfile.mkdtemp(prefix="meterlake-bench-regions-"))
    spark = build_session(bench_settings(work / "session"), "meterlake-bench-regions")
    regions = load_regions(REGIONS_DIR)
    points_df = random_points(spark, args.points, SEED, args.partitions).cache()
    points_df.count()
    timings = time_modes(points_df, regions, args.runs, MemoryProbe(spark))
    print(render(timings, args.points, assigned_counts(points_df, regions)))
    points_df.unpersist()
    compared, differ = disagreements(
        random_points(spark, COMPARED_POINTS, SEED + 2, args.partitions), regions)
    print(f"box vs polygon disagree on {differ:,} of {compared:,} random points "
          f"({differ / compared:.1%})")
    compared, differ = disagreements(response_france_points(spark, RESPONSE), regions)
    print(f"box vs polygon disagree on {differ:,} of {compared:,} France points of "
          f"{RESPONSE.name}")
    print(f"({os.cpu_count()} cores, local[2], {args.partitions} partitions)")
    spark.stop()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
