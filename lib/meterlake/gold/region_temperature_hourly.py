"""`gold.region_temperature_hourly`: the mean temperature per French region and hour, in both
region assignments (the partner spec's bounding boxes, and the real contours).

The hour is the UTC hour in which the import that first brought a record started (the spec's
"hour of the import"): our own clock, not the partner's naive timestamp. Only points whose
country is France count; records without a temperature are left out of the mean and the count.
A France point that no region takes is not dropped silently: each rebuild records how many
there are, per assignment, in `ops.dq_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructType, TimestampType

from meterlake.core.config import ConfigError, Settings
from meterlake.core.contracts import Retention, TableContract, struct_field
from meterlake.core.instants import utc_now_ms
from meterlake.core.lake import Lake, persisted
from meterlake.gold.rebuild import RebuildReport, rebuild_from_silver
from meterlake.quality.expectations import DQ_RESULTS
from meterlake.silver.temperature_records import SILVER_TEMPERATURE_RECORDS
from meterlake.sources.temperatures.assign import with_box_region, with_polygon_region
from meterlake.sources.temperatures.regions import Region, load_regions

BOX, POLYGON = "box", "polygon"
ASSIGNMENTS = (BOX, POLYGON)

GOLD_REGION_TEMPERATURE_HOURLY = TableContract(
    layer="gold",
    name="region_temperature_hourly",
    schema=StructType([
        struct_field("hour", TimestampType(), False,
                     "the UTC hour in which the poll that first brought the records started"),
        struct_field("region_code", StringType(), False, "the region's INSEE code"),
        struct_field("region_name", StringType(), False, "the region's name"),
        struct_field("assignment", StringType(), False,
                     "box (the partner's bounding boxes) or polygon (the real contours)"),
        struct_field("temperature", DoubleType(), False, "the mean temperature", "°C"),
        struct_field("number_of_points", LongType(), False,
                     "France points with a temperature behind the mean"),
    ]),
    grain="one row per UTC import hour, French region and assignment (box or polygon) that "
          "has at least one France point with a temperature",
    keys=("hour", "region_code", "assignment"),
    retention=Retention.CONFIGURED,
    fed_by=("silver.temperature_records", "reference:french_regions"),
)

OUTSIDE_EVERY_REGION = "france_point_outside_every_region"


def configured_regions(settings: Settings) -> tuple[Region, ...]:
    if settings.temperatures.regions_dir is None:
        raise ConfigError("temperatures.regions_dir is not set: the French regions' contours "
                          "are needed to assign points to regions")
    return load_regions(Path(settings.temperatures.regions_dir))


def assigned_points(records_df: DataFrame, regions: Sequence[Region]) -> DataFrame:
    """France records with `hour` and both region codes (`box_region_code`,
    `polygon_region_code`, null where no region takes the point).

    Input: `silver.temperature_records` rows. Output: one row per France record.
    """
    return (
        records_df.filter(F.col("is_in_france"))
        .withColumn("hour", F.date_trunc("hour", F.col("first_request_started_at")))
        .transform(with_box_region, regions)
        .transform(with_polygon_region, regions)
    )


def by_assignment(assigned_df: DataFrame) -> DataFrame:
    """One row per point and assignment: `assignment`, `region_code` (long form)."""
    return assigned_df.select(
        "record_id", "hour", "temperature",
        F.explode(F.array(*(
            F.struct(F.lit(mode).alias("assignment"),
                     F.col(f"{mode}_region_code").alias("region_code"))
            for mode in ASSIGNMENTS))).alias("assigned"),
    ).select("record_id", "hour", "temperature", "assigned.*")


def hourly_means(assigned_df: DataFrame, regions: Sequence[Region]) -> DataFrame:
    """Per hour, region and assignment: mean temperature and number of points behind it."""
    names_df = assigned_df.sparkSession.createDataFrame(
        [(r.code, r.name) for r in regions], "region_code string, region_name string")
    return (
        by_assignment(assigned_df)
        .filter(F.col("region_code").isNotNull() & F.col("temperature").isNotNull())
        .groupBy("hour", "region_code", "assignment")
        .agg(F.avg("temperature").alias("temperature"),
             F.count(F.lit(1)).alias("number_of_points"))
        .join(F.broadcast(names_df), on="region_code", how="inner")
        .select(*GOLD_REGION_TEMPERATURE_HOURLY.column_names)
    )


@dataclass(frozen=True)
class OutsideCount:
    assignment: str
    france_points: int
    outside: int
    examples: tuple[str, ...]


def outside_every_region(assigned_df: DataFrame, limit: int = 10) -> list[OutsideCount]:
    """Per assignment: France points, how many no region takes, and a few of their ids."""
    long_df = by_assignment(assigned_df)
    counted = {
        r["assignment"]: r for r in long_df.groupBy("assignment").agg(
            F.count(F.lit(1)).alias("points"),
            F.count_if(F.col("region_code").isNull()).alias("outside"),
            F.slice(F.sort_array(F.collect_list(
                F.when(F.col("region_code").isNull(), F.col("record_id")))), 1, limit)
            .alias("examples"),
        ).collect()
    }
    return [
        OutsideCount(mode, int(counted[mode]["points"]), int(counted[mode]["outside"]),
                     tuple(counted[mode]["examples"]))
        if mode in counted else OutsideCount(mode, 0, 0, ())
        for mode in ASSIGNMENTS
    ]


def _outside_rows(counts: list[OutsideCount], silver_version: int) -> list[tuple]:
    checked_at = utc_now_ms()
    return [
        (checked_at, SILVER_TEMPERATURE_RECORDS.qualified_name, silver_version,
         f"France points, {c.assignment} assignment", OUTSIDE_EVERY_REGION, c.outside == 0,
         c.france_points, c.outside,
         "record ids: " + ", ".join(c.examples) if c.examples else None)
        for c in counts
    ]


def run_region_temperature_hourly(lake: Lake) -> RebuildReport | None:
    """Rebuilds the hourly table when silver changed since it was built, and records the France
    points outside every region; None while no temperature was ever loaded."""
    if not lake.exists(SILVER_TEMPERATURE_RECORDS):
        return None
    assigned: list[DataFrame] = []
    with ExitStack() as cached:

        def build(records_df: DataFrame) -> DataFrame:
            # Contours are read only when a rebuild is due (a snapshot with nothing new for
            # temperatures skips them); the means and the quality record read the same
            # assignment: one polygon pass.
            regions = configured_regions(lake.settings)
            assigned.append(cached.enter_context(persisted(
                assigned_points(records_df, regions))))
            return hourly_means(assigned[0], regions)

        report = rebuild_from_silver(lake, GOLD_REGION_TEMPERATURE_HOURLY,
                                     SILVER_TEMPERATURE_RECORDS, build)
        if report.is_rebuilt:
            counts = outside_every_region(assigned[0])
            lake.append_rows(DQ_RESULTS, _outside_rows(counts, report.silver_version))
    return report
