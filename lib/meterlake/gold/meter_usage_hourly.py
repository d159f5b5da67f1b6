"""`gold.meter_usage_hourly`: the gap-filled grid rolled up per meter and UTC clock hour.

The dashboard draws a long range at about one point per pixel column: a year of 15-minute
readings (35,040 per meter) becomes ~700 buckets of 12 hours. Minimum, maximum, sum and counts
compose exactly, so a bucket of whole hours is summarised from this table (8,760 rows per
meter-year) instead of from every reading. Partitioned by UTC month and written sorted by meter
in small row groups, so one meter's year opens twelve files and in each a row group or two.

Rebuilt by the `grid` job right after the grid, from the grid at its version (recorded in the
commit, so an unchanged grid is not rolled up again).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType, TimestampType

from meterlake.core.contracts import Retention, TableContract, struct_field
from meterlake.core.lake import Lake
from meterlake.gold.rebuild import RebuildReport, rebuild_from_silver

GOLD_METER_USAGE_HOURLY = TableContract(
    layer="gold",
    name="meter_usage_hourly",
    schema=StructType([
        struct_field("meter_id", StringType(), False, "the meter"),
        struct_field("hour_start", TimestampType(), False, "start of the UTC clock hour"),
        struct_field("month_start", DateType(), False, "the first day of its UTC month"),
        struct_field("intervals", LongType(), False, "the grid's intervals in the hour"),
        struct_field("missing_intervals", LongType(), False, "how many of them are missing"),
        struct_field("energy_wh_sum", DoubleType(), True,
                     "energy of the present intervals; null when none is", "Wh"),
        struct_field("energy_wh_min", DoubleType(), True,
                     "the smallest present interval's energy", "Wh"),
        struct_field("energy_wh_max", DoubleType(), True,
                     "the largest present interval's energy", "Wh"),
    ]),
    grain="one row per meter and UTC clock hour of the gap-filled grid: its intervals, how many "
          "are missing, and the sum, minimum and maximum of the present ones (null when none)",
    keys=("meter_id", "hour_start"),
    partition_by=("month_start",),
    cluster_by=("meter_id",),
    retention=Retention.CONFIGURED,
    fed_by=("gold.meter_intervals_15min",),
)

# About fourteen meter-months of hours per row group: the min/max statistics of the row groups
# of a month file then skip all but one or two for a single meter.
ROWS_PER_ROW_GROUP = 10_000


def hourly_usage(grid_df: DataFrame) -> DataFrame:
    """gold.meter_intervals_15min rows (meter_id, interval_start, energy_wh, is_missing) -> one
    row per meter and UTC hour, laid out by month and meter (sorted within each month)."""
    hour = F.date_trunc("hour", F.col("interval_start"))
    return (
        grid_df.groupBy("meter_id", hour.alias("hour_start"))
        .agg(F.count(F.lit(1)).alias("intervals"),
             F.count_if(F.col("is_missing")).alias("missing_intervals"),
             F.sum("energy_wh").alias("energy_wh_sum"),
             F.min("energy_wh").alias("energy_wh_min"),
             F.max("energy_wh").alias("energy_wh_max"))
        .withColumn("month_start", F.to_date(F.date_trunc("month", F.col("hour_start"))))
        .repartition("month_start")
        .sortWithinPartitions("month_start", "meter_id", "hour_start")
        .select(*GOLD_METER_USAGE_HOURLY.column_names)
    )


@contextmanager
def _row_groups_of(spark: SparkSession, rows: int) -> Iterator[None]:
    # Delta passes no Parquet option of a write through: the session's Hadoop settings do.
    previous = spark.conf.get("parquet.block.row.count.limit", None)
    spark.conf.set("parquet.block.row.count.limit", str(rows))
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset("parquet.block.row.count.limit")
        else:
            spark.conf.set("parquet.block.row.count.limit", previous)


def run_usage_hourly(lake: Lake, grid: TableContract) -> RebuildReport:
    """Rebuilds the rollup from `grid` (gold.meter_intervals_15min, passed in by the grid job)
    at its current version; skipped when it was rolled up from that version."""
    with _row_groups_of(lake.spark, ROWS_PER_ROW_GROUP):
        return rebuild_from_silver(lake, GOLD_METER_USAGE_HOURLY, grid, hourly_usage)
