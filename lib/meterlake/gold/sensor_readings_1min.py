"""`gold.sensor_readings_1min`: per sensor and UTC minute, the mean, min, max and count of its
readings.

Rebuilt from `silver.sensor_readings` at a pinned version after each snapshot that changed it:
a late message changes its reading in silver, and so the aggregate of its minute, whenever it
arrives.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType, TimestampType

from meterlake.core.contracts import Retention, TableContract, struct_field
from meterlake.core.lake import Lake
from meterlake.gold.rebuild import RebuildReport, rebuild_from_silver
from meterlake.silver.sensor_readings import SILVER_SENSOR_READINGS

GOLD_SENSOR_READINGS_1MIN = TableContract(
    layer="gold",
    name="sensor_readings_1min",
    schema=StructType([
        struct_field("sensor_id", StringType(), False, "the sensor"),
        struct_field("minute_start", TimestampType(), False, "start of the UTC minute"),
        struct_field("reading_date", DateType(), False, "the UTC date of minute_start"),
        struct_field("readings", LongType(), False, "readings in the minute"),
        struct_field("mean", DoubleType(), False,
                     "their mean, in the sensor's unit (silver.sensors.unit)"),
        struct_field("min", DoubleType(), False, "the smallest, in the sensor's unit"),
        struct_field("max", DoubleType(), False, "the largest, in the sensor's unit"),
    ]),
    grain="one row per (sensor_id, minute_start): the readings of that UTC minute "
          "[minute_start, minute_start + 1 min)",
    keys=("sensor_id", "minute_start"),
    partition_by=("reading_date",),
    retention=Retention.CONFIGURED,
    fed_by=("silver.sensor_readings",),
)


def minute_means(readings_df: DataFrame) -> DataFrame:
    """Per sensor and UTC minute: count, mean, min and max of the readings."""
    return (
        readings_df.withColumn("minute_start", F.date_trunc("minute", "ts"))
        .groupBy("sensor_id", "minute_start", "reading_date")
        .agg(F.count(F.lit(1)).alias("readings"), F.avg("value").alias("mean"),
             F.min("value").alias("min"), F.max("value").alias("max"))
        .select(*GOLD_SENSOR_READINGS_1MIN.column_names)
    )


def run_sensor_readings_1min(lake: Lake) -> RebuildReport | None:
    """Rebuilds the minute table when silver changed since it was built; None while no sensor
    reading reached silver."""
    if not lake.exists(SILVER_SENSOR_READINGS):
        return None
    return rebuild_from_silver(lake, GOLD_SENSOR_READINGS_1MIN, SILVER_SENSOR_READINGS,
                               minute_means)
