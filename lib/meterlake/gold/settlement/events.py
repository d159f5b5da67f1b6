"""Demand-response events: a 10-in-10 customer baseline and the reduction delivered against it.

For each event and each meter of its partner at the event's start:
- baseline of an interval: the mean of the same local interval on the 10 most recent weekdays
  before the event day that had no event of that partner (days where the reading is missing are
  left out of that interval's mean);
- day-of adjustment: actual / baseline energy over the three hours ending one hour before the
  event start on the event day, capped to [0.8, 1.2]; 1 when that window is not fully metered or
  its baseline is zero;
- reduction per interval: max(0, baseline x adjustment - actual); an unmetered event interval
  delivers nothing;
- payment: total reduction x the event's price.
Which days, intervals and factors are used is computed from the book (parameters, small); every
reading is joined and aggregated in Spark.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from meterlake.gold.settlement.book import INTERVAL_MINUTES, Event, SettlementBook, parse_month
from meterlake.gold.settlement.energy import KWH

BASELINE_DAYS = 10
ADJUSTMENT_HOURS = 3
ADJUSTMENT_GAP_HOURS = 1
ADJUSTMENT_CAP = (0.8, 1.2)
FACTOR = DecimalType(12, 9)

SLOT_SCHEMA = StructType([
    StructField("event_id", StringType(), False),
    StructField("partner", StringType(), False),
    StructField("slot", StringType(), False),
    StructField("interval_start", TimestampType(), False),
    StructField("local_minute", IntegerType(), False),
])
BASELINE_DAY_SCHEMA = StructType([
    StructField("event_id", StringType(), False),
    StructField("local_date", DateType(), False),
])


def events_in_month(book: SettlementBook, month: str) -> list[Event]:
    """The events whose local start falls in `month` of their partner."""
    first = parse_month(month)

    def local_month(event: Event) -> tuple[int, int]:
        day = event.starts.astimezone(book.partners[event.partner].zone).date()
        return day.year, day.month

    return [event for event in book.events if local_month(event) == (first.year, first.month)]


def baseline_days(event: Event, book: SettlementBook) -> list[date]:
    """The 10 most recent weekdays before the event's local day without an event of its
    partner."""
    zone = book.partners[event.partner].zone
    event_days = {e.starts.astimezone(zone).date() for e in book.events
                  if e.partner == event.partner}
    day, chosen = event.starts.astimezone(zone).date(), list[date]()
    while len(chosen) < BASELINE_DAYS:
        day -= timedelta(days=1)
        if day.weekday() < 5 and day not in event_days:
            chosen.append(day)
    return chosen


def earliest_baseline_day(book: SettlementBook, month: str) -> date | None:
    days = [min(baseline_days(e, book)) for e in events_in_month(book, month)]
    return min(days) if days else None


def _slots(event: Event, book: SettlementBook) -> list[tuple[str, str, str, datetime, int]]:
    zone, step = book.partners[event.partner].zone, timedelta(minutes=INTERVAL_MINUTES)
    adjustment_start = event.starts - timedelta(hours=ADJUSTMENT_HOURS + ADJUSTMENT_GAP_HOURS)
    adjustment_end = event.starts - timedelta(hours=ADJUSTMENT_GAP_HOURS)
    slots = []
    for slot, start, end in (("adjustment", adjustment_start, adjustment_end),
                             ("event", event.starts, event.ends)):
        at = start
        while at < end:
            local = at.astimezone(zone)
            slots.append((event.event_id, event.partner, slot, at, local.hour * 60 + local.minute))
            at += step
    return slots


def event_lines(
    spark: SparkSession, members_df: DataFrame, by_local_time_df: DataFrame,
    book: SettlementBook, month: str,
) -> DataFrame:
    """Per event and meter: intervals, actual kWh, adjusted baseline kWh and reduction kWh."""
    events = events_in_month(book, month)
    slots_df = spark.createDataFrame([s for e in events for s in _slots(e, book)], SLOT_SCHEMA)
    chosen = {e.event_id: baseline_days(e, book) for e in events}
    days_df = spark.createDataFrame(
        [(event_id, d) for event_id, ds in chosen.items() for d in ds], BASELINE_DAY_SCHEMA)
    starts_df = spark.createDataFrame([(e.event_id, e.starts) for e in events],
                                      "event_id string, event_start timestamp")
    meters_df = (
        members_df.join(
            F.broadcast(starts_df.join(slots_df.select("event_id", "partner").distinct(),
                                       "event_id", how="inner")),
            "partner", how="inner")
        .filter((F.col("period_start") <= F.col("event_start"))
                & (F.col("event_start") < F.col("period_end")))
        .select("event_id", "partner", "meter_id", "time_zone")
    )
    meter_slots_df = meters_df.join(F.broadcast(slots_df), ["event_id", "partner"], how="inner")
    # Only the event days and their baseline days are read (local dates, a handful).
    event_days = {e.starts.astimezone(book.partners[e.partner].zone).date() for e in events}
    wanted = sorted(event_days | {d for ds in chosen.values() for d in ds})
    readings_df = by_local_time_df.filter(F.col("local_date").isin(wanted))
    keys = ["meter_id", "time_zone", "local_date", "local_minute"]
    baseline_df = (
        meter_slots_df.join(F.broadcast(days_df), "event_id", how="inner")
        .join(readings_df.select(*keys, "kwh"), keys, how="inner")
        .groupBy("event_id", "meter_id", "interval_start")
        .agg(F.avg("kwh").alias("baseline_kwh"))
    )
    actual_df = readings_df.select("meter_id", "time_zone", "interval_start",
                                   F.col("kwh").alias("actual_kwh"))
    per_slot_df = (
        meter_slots_df.join(actual_df, ["meter_id", "time_zone", "interval_start"], how="left")
        .join(baseline_df, ["event_id", "meter_id", "interval_start"], how="left")
    )
    return _reductions(per_slot_df)


def _reductions(per_slot_df: DataFrame) -> DataFrame:
    is_adjustment = F.col("slot") == "adjustment"
    adjustment_slots = F.sum(is_adjustment.cast("int"))
    factors_df = per_slot_df.groupBy("event_id", "partner", "meter_id").agg(
        F.sum(F.when(is_adjustment, F.col("actual_kwh"))).alias("adjustment_actual"),
        F.sum(F.when(is_adjustment, F.col("baseline_kwh"))).alias("adjustment_baseline"),
        (F.count(F.when(is_adjustment, F.col("actual_kwh"))) == adjustment_slots).alias("a_ok"),
        (F.count(F.when(is_adjustment, F.col("baseline_kwh"))) == adjustment_slots).alias("b_ok"),
    )
    low, high = (F.lit(bound).cast(FACTOR) for bound in ADJUSTMENT_CAP)
    ratio = F.col("adjustment_actual") / F.col("adjustment_baseline")
    factor = (
        F.when(F.col("a_ok") & F.col("b_ok") & (F.col("adjustment_baseline") > 0),
               F.least(F.greatest(ratio, low), high))
        .otherwise(F.lit(1)).cast(FACTOR)
    )
    adjusted = F.round(F.col("baseline_kwh") * F.col("factor"), 9).cast(KWH)
    reduction = F.when(
        F.col("actual_kwh").isNotNull() & F.col("baseline_kwh").isNotNull(),
        F.greatest(F.lit(0).cast(KWH), adjusted - F.col("actual_kwh")),
    ).otherwise(F.lit(0))
    return (
        per_slot_df.filter(F.col("slot") == "event")
        .join(factors_df.select("event_id", "partner", "meter_id", factor.alias("factor")),
              ["event_id", "partner", "meter_id"], how="inner")
        .groupBy("partner", "meter_id", F.col("event_id").alias("window"))
        .agg(
            F.count(F.lit(1)).alias("intervals_expected"),
            F.count("actual_kwh").alias("intervals_present"),
            F.coalesce(F.sum("actual_kwh"), F.lit(0)).alias("kwh_measured"),
            F.sum(F.when(F.col("baseline_kwh").isNotNull(), adjusted)).alias("kwh_baseline"),
            F.sum(reduction.cast(KWH)).alias("kwh_reduction"),
            F.first("factor").alias("adjustment_factor"),
        )
    )
