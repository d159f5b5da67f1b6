"""Energy settlement: kWh per partner, meter and time-of-use window of a local month.

Native Spark only. Energy is summed as decimals, never doubles, so a report's totals do not depend
on how the rows were partitioned: a reproduction gives the same bytes. Missing intervals are
estimated from the same local interval on the 7 preceding local days and kept apart from the
measured energy in every line.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, StringType, StructField, StructType, TimestampType

from meterlake.gold.settlement.book import INTERVAL_MINUTES, SettlementBook, month_bounds

# Readings and estimates: exact to the nWh, summed without rounding.
KWH = DecimalType(28, 9)
ESTIMATE_DAYS = 7


def _step() -> Column:
    return F.expr(f"INTERVAL {INTERVAL_MINUTES} MINUTES")


MEMBERSHIP_SCHEMA = StructType([
    StructField("partner", StringType(), False),
    StructField("meter_id", StringType(), False),
    StructField("time_zone", StringType(), False),
    StructField("period_start", TimestampType(), False),
    StructField("period_end", TimestampType(), False),
])


def membership(spark: SparkSession, book: SettlementBook, month: str) -> DataFrame:
    """Who belonged to whom during `month`: one row per assignment, clipped to the partner's
    local month (UTC instants). A meter that moved mid-month has one row per partner."""
    rows = []
    for assignment in book.assignments:
        partner = book.partners[assignment.partner]
        month_start, month_end = month_bounds(month, partner.zone)
        starts = max(assignment.starts, month_start)
        ends = min(assignment.ends or month_end, month_end)
        if starts < ends:
            rows.append((partner.name, assignment.meter_id, partner.time_zone, starts, ends))
    return spark.createDataFrame(rows, MEMBERSHIP_SCHEMA)


def with_kwh(readings_df: DataFrame) -> DataFrame:
    """`meter_id, interval_start, kwh` from silver rows, converted exactly from Wh or kWh (the
    unit and resolution stay, for `check_settleable`)."""
    value = F.col("value")
    kwh = (
        F.when(F.col("unit") == "Wh", value.cast(DecimalType(28, 6)) / F.lit(1000))
        .when(F.col("unit") == "kWh", value.cast(KWH))
    )
    return readings_df.select("meter_id", "interval_start", kwh.cast(KWH).alias("kwh"), "unit",
                              "interval_minutes")


def with_local_time(df: DataFrame, zones: list[str]) -> DataFrame:
    """Adds the local date, minute of day and weekday (0 = Monday) of `interval_start` in the
    row's `time_zone`, one of `zones`.

    One branch per zone with the zone as a literal: Spark then resolves each zone once, not
    once per row."""
    utc = F.col("interval_start")
    first, *rest = [(F.col("time_zone") == zone, F.from_utc_timestamp(utc, zone))
                    for zone in zones]
    local = reduce(lambda chain, branch: chain.when(*branch), rest, F.when(*first))
    return (
        df.withColumn("_local", local)
        .withColumn("local_date", F.to_date("_local"))
        .withColumn("local_minute", F.hour("_local") * 60 + F.minute("_local"))
        .withColumn("local_weekday", (F.dayofweek("_local") + 5) % 7)
        .drop("_local")
    )


def zones_of(book: SettlementBook) -> list[str]:
    return sorted({partner.time_zone for partner in book.partners.values()})


def local_readings(kwh_readings_df: DataFrame, members_df: DataFrame, book: SettlementBook
                   ) -> DataFrame:
    """Readings with their local date, minute and weekday in each zone their meter is settled
    in, inside its membership periods or not (estimates and baselines look back before them)."""
    zones_df = F.broadcast(members_df.select("meter_id", "time_zone").distinct())
    return (kwh_readings_df.join(zones_df, "meter_id", how="inner")
            .transform(with_local_time, zones_of(book)))


def expected_intervals(members_df: DataFrame) -> DataFrame:
    """One row per partner, meter and 15-minute interval of its membership period; a local day
    has 92, 96 or 100 of them, because the sequence runs in UTC."""
    step = _step()
    return members_df.withColumn(
        "interval_start",
        F.explode(F.sequence(F.col("period_start"), F.col("period_end") - step, step)),
    ).drop("period_start", "period_end")


def tou_window(book: SettlementBook) -> Column:
    """The time-of-use window of a row's local weekday and minute, by its partner's book."""
    branches = [
        ((F.col("partner") == partner.name)
         & F.col("local_weekday").isin(list(window.days))
         & (F.col("local_minute") >= window.start_minute)
         & (F.col("local_minute") < window.end_minute), window.name)
        for partner in book.partners.values() for window in partner.windows
    ]
    first, *rest = branches
    return reduce(lambda chain, branch: chain.when(*branch), rest, F.when(*first))


def measured_intervals(
    by_local_time_df: DataFrame, members_df: DataFrame, book: SettlementBook
) -> DataFrame:
    """The readings inside a membership period, with their partner and time-of-use window."""
    inside = (F.col("period_start") <= F.col("interval_start")) & (
        F.col("interval_start") < F.col("period_end"))
    return (
        by_local_time_df.join(F.broadcast(members_df), ["meter_id", "time_zone"], how="inner")
        .filter(inside)
        .withColumn("window", tou_window(book))
    )


def missing_intervals(expected_df: DataFrame, measured_df: DataFrame,
                      short_days_df: DataFrame, book: SettlementBook) -> DataFrame:
    """The expected intervals without a reading, on the days that have fewer readings than
    intervals (usually none): only those days' intervals are compared one by one."""
    day = ["partner", "meter_id", "time_zone", "local_date"]
    keys = ["partner", "meter_id", "time_zone", "interval_start"]
    return (
        expected_df.join(F.broadcast(short_days_df), day, how="left_semi")
        .join(measured_df.join(F.broadcast(short_days_df), day, how="left_semi")
              .select(*keys), keys, how="left_anti")
        .select(*keys).transform(with_local_time, zones_of(book))
        .withColumn("window", tou_window(book))
    )


def estimates(missing_df: DataFrame, by_local_time_df: DataFrame) -> DataFrame:
    """For each missing interval, the mean of the same local interval on the 7 preceding local
    days where a reading is present; intervals with none of those days stay unestimated."""
    candidates_df = missing_df.select(
        "partner", "meter_id", "time_zone", "interval_start", "window", "local_minute",
        F.explode(F.sequence(F.date_sub("local_date", ESTIMATE_DAYS),
                             F.date_sub("local_date", 1))).alias("local_date"),
    )
    keys = ["meter_id", "time_zone", "local_date", "local_minute"]
    return (
        candidates_df.join(by_local_time_df.select(*keys, "kwh"), keys, how="inner")
        .groupBy("partner", "meter_id", "window", "interval_start")
        .agg(F.round(F.avg("kwh"), 9).cast(KWH).alias("estimated_kwh"))
    )


ESTIMATED_SCHEMA = "partner string, meter_id string, window string, intervals_estimated long, " \
    "kwh_estimated decimal(38,9)"


def energy_lines(by_local_time_df: DataFrame, members_df: DataFrame, book: SettlementBook
                 ) -> tuple[DataFrame, DataFrame]:
    """Per partner, meter and window: intervals expected, present and estimated, kWh measured
    and kWh estimated (kept apart); and the cached per-day counts, to release after use.

    Counted per local day first: the same small aggregate gives the lines and the days with a
    gap, and the interval-level search for missing intervals runs only when there are some."""
    expected_df = (
        expected_intervals(members_df).transform(with_local_time, zones_of(book))
        .withColumn("window", tou_window(book))
    )
    measured_df = measured_intervals(by_local_time_df, members_df, book)
    day = ["partner", "meter_id", "time_zone", "local_date", "window"]
    days_df = (
        expected_df.groupBy(*day).agg(F.count(F.lit(1)).alias("intervals_expected"))
        .join(measured_df.groupBy(*day).agg(F.count(F.lit(1)).alias("intervals_present"),
                                            F.sum("kwh").alias("kwh_measured")), day, how="left")
        .persist()
    )
    keys = ["partner", "meter_id", "window"]
    short_days_df = (
        days_df.filter(F.coalesce(F.col("intervals_present"), F.lit(0))
                       < F.col("intervals_expected"))
        .select("partner", "meter_id", "time_zone", "local_date").distinct()
    )
    if short_days_df.isEmpty():
        estimated_df = by_local_time_df.sparkSession.createDataFrame([], ESTIMATED_SCHEMA)
    else:
        estimated_df = (
            estimates(missing_intervals(expected_df, measured_df, short_days_df, book),
                      by_local_time_df)
            .groupBy(*keys)
            .agg(F.count(F.lit(1)).alias("intervals_estimated"),
                 F.sum("estimated_kwh").alias("kwh_estimated"))
        )
    lines_df = (
        days_df.groupBy(*keys).agg(
            F.sum("intervals_expected").alias("intervals_expected"),
            F.coalesce(F.sum("intervals_present"), F.lit(0)).alias("intervals_present"),
            F.coalesce(F.sum("kwh_measured"), F.lit(0)).alias("kwh_measured"),
        )
        .join(estimated_df, keys, how="left")
        .select(*keys, "intervals_expected", "intervals_present",
                F.coalesce("intervals_estimated", F.lit(0)).alias("intervals_estimated"),
                "kwh_measured",
                F.coalesce("kwh_estimated", F.lit(0)).alias("kwh_estimated"))
    )
    return lines_df, days_df
