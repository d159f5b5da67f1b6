"""`gold.dropzone_daily`: per UTC day, every value of every timestamp pooled exactly.

Rebuilt from `silver.dropzone_measurements` (one row per timestamp) at a pinned version after
each snapshot that changed it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, LongType, StructType

from meterlake.core.contracts import Retention, TableContract, struct_field
from meterlake.core.lake import Lake
from meterlake.gold.rebuild import RebuildReport, rebuild_from_silver
from meterlake.silver.dropzone_measurements import SILVER_DROPZONE_MEASUREMENTS, pooled_std

GOLD_DROPZONE_DAILY = TableContract(
    layer="gold",
    name="dropzone_daily",
    schema=StructType([
        struct_field("stamp_date", DateType(), False, "the UTC day"),
        struct_field("timestamps", LongType(), False, "how many UTC instants it holds"),
        struct_field("value_count", LongType(), False, "numbers behind the statistics"),
        struct_field("mean", DoubleType(), False, "their pooled mean"),
        struct_field("std", DoubleType(), True,
                     "their pooled sample standard deviation; null for a single number"),
        struct_field("min_mean", DoubleType(), False, "the smallest mean of one instant"),
        struct_field("max_mean", DoubleType(), False, "the largest mean of one instant"),
    ]),
    grain="one row per UTC day: every value of every timestamp's statistics pooled exactly",
    keys=("stamp_date",),
    retention=Retention.CONFIGURED,
    fed_by=("silver.dropzone_measurements",),
)


def daily_rollup(measurements_df: DataFrame) -> DataFrame:
    """Per UTC day: timestamps, values, the pooled mean and std, and the range of means."""
    return (
        measurements_df.groupBy("stamp_date")
        .agg(F.count(F.lit(1)).alias("timestamps"), F.sum("value_count").alias("value_count"),
             F.sum("sum").alias("sum"), F.sum("sum_squares").alias("sum_squares"),
             F.min("mean").alias("min_mean"), F.max("mean").alias("max_mean"))
        .withColumn("mean", F.col("sum") / F.col("value_count"))
        .withColumn("std", pooled_std(F.col("value_count"), F.col("sum"), F.col("sum_squares")))
        .select(*GOLD_DROPZONE_DAILY.column_names)
    )


def run_dropzone_daily(lake: Lake) -> RebuildReport | None:
    """Rebuilds the rollup when silver changed since it was built; None while the dropzone has
    no silver table (nothing was ever received)."""
    if not lake.exists(SILVER_DROPZONE_MEASUREMENTS):
        return None
    return rebuild_from_silver(lake, GOLD_DROPZONE_DAILY, SILVER_DROPZONE_MEASUREMENTS,
                               daily_rollup)
