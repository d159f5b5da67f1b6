"""`gold.meter_intervals_15min`: the gap-filled 15-minute grid with clock-hour means.

Native Spark only: the grid is generated per meter and day (two bounded explodes: days between
the first and last reading, then 96 intervals a day), joined to the readings, and averaged per
clock hour with a window. Nothing is collected to the driver, so it scales with the cluster.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.contracts import Retention, TableContract, interval_date_of, struct_field
from meterlake.core.lake import Lake
from meterlake.gold.meter_usage_hourly import run_usage_hourly
from meterlake.gold.rebuild import RebuildReport, rebuild_from_silver
from meterlake.silver.meter_readings import SILVER_METER_READINGS

GOLD_METER_INTERVALS_15MIN = TableContract(
    layer="gold",
    name="meter_intervals_15min",
    schema=StructType([
        struct_field("meter_id", StringType(), False, "the meter"),
        struct_field("interval_start", TimestampType(), False,
                     "start of the 15-minute interval (UTC)"),
        struct_field("interval_date", DateType(), False, "the UTC date of interval_start"),
        struct_field("energy_wh", DoubleType(), True,
                     "energy measured over the interval; null when missing", "Wh"),
        struct_field("is_missing", BooleanType(), False, "silver holds no reading for it"),
        struct_field("hour_start", TimestampType(), False,
                     "start of its UTC clock hour"),
        struct_field("hour_mean_energy_wh", DoubleType(), True,
                     "mean energy of the hour's present intervals; null when none is", "Wh"),
    ]),
    grain="one row per meter and 15-minute interval between its first and last reading",
    keys=("meter_id", "interval_start"),
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    retention=Retention.CONFIGURED,
    fed_by=("silver.meter_readings",),
)

INTERVAL_MINUTES = 15


def filter_quarter_hour_readings(silver_df: DataFrame) -> DataFrame:
    """Silver readings on a 15-minute grid (electricity drops), as meter_id, interval_start,
    energy_wh."""
    return silver_df.filter(F.col("interval_minutes") == INTERVAL_MINUTES).select(
        "meter_id", "interval_start", F.col("value").alias("energy_wh")
    )


def interval_grid(readings_df: DataFrame) -> DataFrame:
    """Every 15-minute interval from each meter's first to its last reading (meter_id,
    interval_start)."""
    bounds_df = readings_df.groupBy("meter_id").agg(
        F.min("interval_start").alias("first_start"), F.max("interval_start").alias("last_start")
    )
    days_df = bounds_df.withColumn(
        "day",
        F.explode(F.sequence(F.to_date("first_start"), F.to_date("last_start"),
                             F.expr("INTERVAL 1 DAY"))),
    )
    day_start = F.col("day").cast("timestamp")
    intervals = F.sequence(
        day_start, day_start + F.expr("INTERVAL 23 HOURS 45 MINUTES"),
        F.expr(f"INTERVAL {INTERVAL_MINUTES} MINUTES"),
    )
    return (
        days_df.withColumn("interval_start", F.explode(intervals))
        .filter(F.col("interval_start").between(F.col("first_start"), F.col("last_start")))
        .select("meter_id", "interval_start")
    )


def with_gaps_and_hour_means(grid_df: DataFrame, readings_df: DataFrame) -> DataFrame:
    """Joins readings onto the grid; adds is_missing and the mean of present intervals per
    clock hour (by the hour's start, not a rolling window)."""
    hour = Window.partitionBy("meter_id", "hour_start").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    return (
        grid_df.join(readings_df, on=["meter_id", "interval_start"], how="left")
        .withColumn("is_missing", F.col("energy_wh").isNull())
        .withColumn("hour_start", F.date_trunc("hour", F.col("interval_start")))
        .withColumn("hour_mean_energy_wh", F.avg("energy_wh").over(hour))
        .withColumn("interval_date", interval_date_of(F.col("interval_start")))
        .select(*GOLD_METER_INTERVALS_15MIN.column_names)
    )


def build_meter_intervals(silver_df: DataFrame) -> DataFrame:
    """silver.meter_readings -> gold.meter_intervals_15min rows."""
    readings_df = filter_quarter_hour_readings(silver_df)
    return with_gaps_and_hour_means(interval_grid(readings_df), readings_df)


def run_grid(lake: Lake) -> RebuildReport:
    """Rebuilds the grid from silver at its current version, pinned for the whole run; skipped
    when the grid was already built from that version. Then its hourly rollup for the
    dashboard (`gold.meter_usage_hourly`), likewise skipped when the grid did not move."""
    report = rebuild_from_silver(lake, GOLD_METER_INTERVALS_15MIN, SILVER_METER_READINGS,
                                 build_meter_intervals)
    run_usage_hourly(lake, GOLD_METER_INTERVALS_15MIN)
    return report
