"""`gold.sensor_quality`: per sensor and UTC hour (of the readings' `ts`), how good its data is,
and one 0-100 quality indicator.

Measures (README, "Sensor data quality", has the formula with a worked example):

- `expected`: messages the hour should hold (`sensors.expected_per_second` x 3600);
  `readings`: distinct instants in silver; `completeness` = min(1, readings / expected).
- `gaps`: silences longer than two expected periods between consecutive readings (the gap
  counts in the hour of the reading that ends it); `longest_gap_seconds`.
- `out_of_range`: readings outside the range of the registry row valid at their time
  (`silver.sensors`); `unregistered`: readings of a sensor the registry did not know then.
- `duplicates`: valid deliveries beyond the first of each instant (bronze minus silver).
- `clock_skew_median_seconds`: median of `delivered_at - ts` over the hour's first deliveries: a
  sensor clock running behind shows as a positive skew, one ahead as a negative skew.
- `late_messages`: a first delivery whose `ts` is before the previous message's while the next
  one resumes the sequence (held back); `backward_jumps`: one after which the sequence carries on
  from the earlier time (the sensor's clock jumped back). Both in delivery order.
- `untimely`: first deliveries that are late, start a backward jump, or are more than
  `sensors.skew_tolerance_seconds` away from their delivery.
- `quality_indicator` = 100 x completeness x validity x timeliness, where
  validity = (readings - out_of_range - unregistered) / readings and
  timeliness = 1 - untimely / first deliveries.

Rebuilt whole from bronze, silver and the registry at pinned versions after each snapshot that
changed one of them. Malformed payloads have no trustworthy sensor id and are not attributed.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.config import SensorSettings
from meterlake.core.contracts import ARRIVAL_ORDER, Retention, TableContract, struct_field
from meterlake.core.lake import Lake
from meterlake.gold.rebuild import rebuild_from
from meterlake.silver.sensor_readings import SILVER_SENSOR_READINGS
from meterlake.silver.sensors import SILVER_SENSORS
from meterlake.sources.sensors.contract import BRONZE_SENSOR_MESSAGES

GOLD_SENSOR_QUALITY = TableContract(
    layer="gold",
    name="sensor_quality",
    schema=StructType([
        struct_field("sensor_id", StringType(), False, "the sensor"),
        struct_field("hour_start", TimestampType(), False,
                     "start of the UTC hour of the readings' ts"),
        struct_field("reading_date", DateType(), False, "the UTC date of hour_start"),
        struct_field("expected", LongType(), False,
                     "readings the hour should hold (sensors.expected_per_second x 3600)"),
        struct_field("readings", LongType(), False, "distinct instants in silver"),
        struct_field("completeness", DoubleType(), False,
                     "min(1, readings / expected)", "fraction"),
        struct_field("gaps", LongType(), False,
                     "silences longer than two expected periods, counted in the hour they end"),
        struct_field("longest_gap_seconds", DoubleType(), True,
                     "the longest of those silences; null without one", "s"),
        struct_field("out_of_range", LongType(), False,
                     "readings outside the range of the registry row valid at their time"),
        struct_field("unregistered", LongType(), False,
                     "readings of a sensor the registry did not know at their time"),
        struct_field("duplicates", LongType(), False,
                     "valid deliveries beyond the first of each instant"),
        struct_field("clock_skew_median_seconds", DoubleType(), False,
                     "median of delivered_at - ts over the first deliveries (positive: the "
                     "sensor's clock runs behind)", "s"),
        struct_field("late_messages", LongType(), False,
                     "first deliveries held back: ts before the previous one's, and the next "
                     "resumes the sequence"),
        struct_field("backward_jumps", LongType(), False,
                     "first deliveries after which the sequence carries on from an earlier "
                     "time (the clock jumped back)"),
        struct_field("untimely", LongType(), False,
                     "first deliveries late, starting a backward jump, or more than "
                     "sensors.skew_tolerance_seconds from their delivery"),
        struct_field("quality_indicator", DoubleType(), False,
                     "100 x completeness x validity x timeliness (README, sensor data quality)",
                     "0-100"),
    ]),
    grain="one row per (sensor_id, hour_start): the UTC hour of the readings' ts, for every "
          "hour with at least one reading",
    keys=("sensor_id", "hour_start"),
    partition_by=("reading_date",),
    retention=Retention.CONFIGURED,
    fed_by=("bronze.sensor_messages", "silver.sensor_readings", "silver.sensors"),
)

_HOUR = ("sensor_id", "hour_start")


def _seconds(later: Column, earlier: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)) / 1_000_000


def _hour_of(ts: Column) -> Column:
    return F.date_trunc("hour", ts)


def reading_measures(readings_df: DataFrame, sensors_df: DataFrame,
                     settings: SensorSettings) -> DataFrame:
    """Per sensor-hour, from silver: readings, gaps, the longest gap, out of range,
    unregistered."""
    gap_after = 2.0 / settings.expected_per_second
    previous = F.lag("ts").over(Window.partitionBy("sensor_id").orderBy("ts"))
    silence = _seconds(F.col("ts"), previous)
    valid_then = (F.col("r.sensor_id") == F.col("s.sensor_id")) \
        & (F.col("s.valid_from") <= F.col("r.ts")) \
        & (F.col("s.valid_to").isNull() | (F.col("r.ts") < F.col("s.valid_to")))
    ranged = readings_df.alias("r").join(sensors_df.alias("s"), valid_then, "left").select(
        "r.sensor_id", "r.ts", "r.value", "s.range_min", "s.range_max")
    return (
        ranged.withColumn("silence", silence)
        .withColumn("hour_start", _hour_of(F.col("ts")))
        .groupBy(*_HOUR)
        .agg(F.count(F.lit(1)).alias("readings"),
             F.count_if(F.col("silence") > gap_after).alias("gaps"),
             F.max(F.when(F.col("silence") > gap_after, F.col("silence")))
             .alias("longest_gap_seconds"),
             F.count_if((F.col("value") < F.col("range_min"))
                        | (F.col("value") > F.col("range_max"))).alias("out_of_range"),
             F.count_if(F.col("range_min").isNull()).alias("unregistered"))
    )


def delivery_measures(messages_df: DataFrame, settings: SensorSettings) -> DataFrame:
    """Per sensor-hour, from bronze's valid messages in delivery order: duplicates, the median
    clock skew, late messages, backward jumps and untimely first deliveries."""
    valid_df = messages_df.filter(F.col("payload_problem").isNull())
    first = F.row_number().over(Window.partitionBy("sensor_id", "ts").orderBy(*ARRIVAL_ORDER))
    firsts_df = valid_df.withColumn("delivery", first).filter(F.col("delivery") == 1)
    in_order = Window.partitionBy("sensor_id").orderBy(*ARRIVAL_ORDER)
    previous, following = F.lag("ts").over(in_order), F.lead("ts").over(in_order)
    is_back = F.col("ts") < F.col("previous")
    resumes = F.col("following").isNull() | (F.col("following") >= F.col("previous"))
    skew = _seconds(F.col("delivered_at"), F.col("ts"))
    ordered_df = (
        firsts_df.withColumn("previous", previous).withColumn("following", following)
        .withColumn("is_late", F.coalesce(is_back & resumes, F.lit(False)))
        .withColumn("is_jump", F.coalesce(is_back & ~resumes, F.lit(False)))
        .withColumn("skew", skew)
        .withColumn("hour_start", _hour_of(F.col("ts")))
    )
    untimely = (F.col("is_late") | F.col("is_jump")
                | (F.abs(F.col("skew")) > settings.skew_tolerance_seconds))
    per_hour_df = ordered_df.groupBy(*_HOUR).agg(
        F.count(F.lit(1)).alias("first_deliveries"),
        F.percentile_approx("skew", 0.5, 10_000).alias("clock_skew_median_seconds"),
        F.count_if("is_late").alias("late_messages"),
        F.count_if("is_jump").alias("backward_jumps"),
        F.count_if(untimely).alias("untimely"),
    )
    all_df = (valid_df.withColumn("hour_start", _hour_of(F.col("ts"))).groupBy(*_HOUR)
              .agg(F.count(F.lit(1)).alias("deliveries")))
    return per_hour_df.join(all_df, list(_HOUR))


def quality_indicator(completeness: Column, validity: Column, timeliness: Column) -> Column:
    return F.lit(100.0) * completeness * validity * timeliness


def sensor_quality(messages_df: DataFrame, readings_df: DataFrame, sensors_df: DataFrame,
                   settings: SensorSettings) -> DataFrame:
    expected = round(settings.expected_per_second * 3600)
    completeness = F.least(F.lit(1.0), F.col("readings") / F.lit(expected))
    validity = (F.col("readings") - F.col("out_of_range") - F.col("unregistered")) \
        / F.col("readings")
    timeliness = F.lit(1.0) - F.col("untimely") / F.col("first_deliveries")
    return (
        reading_measures(readings_df, sensors_df, settings)
        .join(delivery_measures(messages_df, settings), list(_HOUR))
        .withColumn("reading_date", F.to_date("hour_start"))
        .withColumn("expected", F.lit(expected).cast("long"))
        .withColumn("completeness", completeness)
        .withColumn("duplicates", F.col("deliveries") - F.col("first_deliveries"))
        .withColumn("quality_indicator", quality_indicator(completeness, validity, timeliness))
        .select(*GOLD_SENSOR_QUALITY.column_names)
    )


def run_sensor_quality(lake: Lake) -> dict[str, int] | None:
    """Rebuilds the quality table when bronze, silver or the registry changed since it was
    built (the versions read), None when skipped or while no reading reached silver."""
    if not lake.exists(SILVER_SENSOR_READINGS):
        return None
    lake.ensure(SILVER_SENSORS)  # no registry loaded yet: every sensor is unregistered

    def build(messages_df: DataFrame, readings_df: DataFrame, sensors_df: DataFrame
              ) -> DataFrame:
        return sensor_quality(messages_df, readings_df, sensors_df, lake.settings.sensors)

    return rebuild_from(lake, GOLD_SENSOR_QUALITY,
                        (BRONZE_SENSOR_MESSAGES, SILVER_SENSOR_READINGS, SILVER_SENSORS), build)
