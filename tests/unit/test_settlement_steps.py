"""Unit tests for the settlement steps on a tiny book and a handful of readings: membership,
kWh and local time, time-of-use windows, energy lines with estimates, event reductions, prices
and the partner summary."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from meterlake.gold.settlement.book import book_from_mapping
from meterlake.gold.settlement.energy import (
    MEMBERSHIP_SCHEMA,
    energy_lines,
    estimates,
    expected_intervals,
    local_readings,
    membership,
    tou_window,
    with_kwh,
    with_local_time,
)
from meterlake.gold.settlement.events import earliest_baseline_day, event_lines
from meterlake.gold.settlement.report import (
    SettlementInputError,
    check_settleable,
    priced_lines,
    summarize,
)

AMS = "Europe/Amsterdam"
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# north: Amsterdam time, day 06:00-18:00 and night around it; south: UTC, weekday and weekend.
BOOK = book_from_mapping({
    "partners": {
        "north": {
            "time_zone": AMS, "currency": "EUR",
            "windows": [
                {"name": "day", "days": EVERY_DAY, "start": "06:00", "end": "18:00"},
                {"name": "night", "days": EVERY_DAY, "start": "00:00", "end": "06:00"},
                {"name": "night", "days": EVERY_DAY, "start": "18:00", "end": "24:00"},
            ],
            "prices": {"day": "0.30", "night": "0.10"},
        },
        "south": {
            "time_zone": "UTC", "currency": "EUR",
            "windows": [
                {"name": "weekday", "days": EVERY_DAY[:5], "start": "00:00", "end": "24:00"},
                {"name": "weekend", "days": EVERY_DAY[5:], "start": "00:00", "end": "24:00"},
            ],
            "prices": {"weekday": "0.25", "weekend": "0.15"},
        },
    },
    "assignments": [
        {"meter": "M1", "partner": "north", "from": "2024-01-01T00:00"},
        {"meter": "M2", "partner": "north", "from": "2024-03-10T00:00",
         "until": "2024-03-20T00:00"},
        {"meter": "M3", "partner": "north", "from": "2024-01-01T00:00",
         "until": "2024-03-16T00:00"},
        {"meter": "M3", "partner": "south", "from": "2024-03-16T00:00"},
        {"meter": "M4", "partner": "south", "from": "2024-04-05T00:00"},
    ],
    # 17:00-17:30 in Amsterdam (UTC+1): 16:00-16:30 UTC, a Wednesday.
    "events": [{"id": "dr-0320", "partner": "north", "start": "2024-03-20T17:00",
                "end": "2024-03-20T17:30", "price": "0.50"}],
}, "test book")
READINGS_DDL = "meter_id STRING, interval_start TIMESTAMP, value DOUBLE, unit STRING, " \
    "interval_minutes INT"
LINES_DDL = "partner STRING, meter_id STRING, window STRING, intervals_expected BIGINT, " \
    "intervals_present BIGINT, intervals_estimated BIGINT, kwh_measured DECIMAL(38,9), " \
    "kwh_estimated DECIMAL(38,9)"


def _kwh(*digits: str) -> list[Decimal]:
    return [Decimal(d) for d in digits]


def _by_local_time(spark: SparkSession, readings: list[tuple], members_df: DataFrame
                   ) -> DataFrame:
    """kWh readings `(meter, interval_start, kWh)` in local time, as settlement_frames has them."""
    readings_df = spark.createDataFrame([(m, t, v, "kWh", 15) for m, t, v in readings],
                                        READINGS_DDL)
    return local_readings(with_kwh(readings_df), members_df, BOOK)


def test_membership_clips_assignments_to_each_partners_local_month(spark: SparkSession) -> None:
    expected_df = spark.createDataFrame([
        # The Amsterdam month runs from 23:00 UTC the day before to 22:00 UTC (DST on the 31st).
        ("north", "M1", AMS, datetime(2024, 2, 29, 23), datetime(2024, 3, 31, 22)),
        ("north", "M2", AMS, datetime(2024, 3, 9, 23), datetime(2024, 3, 19, 23)),
        # M3 moved mid-month: a row per partner, each in its zone. M4 starts in April: none.
        ("north", "M3", AMS, datetime(2024, 2, 29, 23), datetime(2024, 3, 15, 23)),
        ("south", "M3", "UTC", datetime(2024, 3, 16, 0), datetime(2024, 4, 1, 0)),
    ], MEMBERSHIP_SCHEMA)
    assert_df_equality(membership(spark, BOOK, "2024-03"), expected_df, ignore_row_order=True)


def test_with_kwh_converts_wh_and_kwh_exactly(spark: SparkSession) -> None:
    at = datetime(2024, 3, 12, 4, 30)
    readings_df = spark.createDataFrame([
        ("M1", at, 1500.0, "Wh", 15),
        ("M2", at, 0.1, "Wh", 15),
        ("M3", at, 1234.5678, "Wh", 15),
        ("M4", at, 0.25, "kWh", 15),
        ("M5", at, 2.0, "MWh", 60),
    ], READINGS_DDL)
    expected_df = spark.createDataFrame([
        ("M1", at, Decimal("1.5"), "Wh", 15),
        ("M2", at, Decimal("0.0001"), "Wh", 15),  # not the double's 0.000100000000000000005
        ("M3", at, Decimal("1.2345678"), "Wh", 15),
        ("M4", at, Decimal("0.25"), "kWh", 15),
        ("M5", at, None, "MWh", 60),  # kept for check_settleable to name
    ], "meter_id STRING, interval_start TIMESTAMP, kwh DECIMAL(28,9), unit STRING, "
       "interval_minutes INT")
    assert_df_equality(with_kwh(readings_df), expected_df, ignore_row_order=True,
                       ignore_nullable=True)


def test_with_local_time_follows_each_zone_through_dst(spark: SparkSession) -> None:
    rows_df = spark.createDataFrame([
        ("before_dst", AMS, datetime(2024, 3, 31, 0, 30)),
        ("after_dst", AMS, datetime(2024, 3, 31, 1, 0)),
        ("next_local_day", AMS, datetime(2024, 3, 31, 22, 0)),
        ("utc", "UTC", datetime(2024, 3, 31, 23, 45)),
        ("unknown_zone", "America/New_York", datetime(2024, 3, 31, 12, 0)),
    ], "name STRING, time_zone STRING, interval_start TIMESTAMP")
    actual_df = with_local_time(rows_df, [AMS, "UTC"]).select(
        "name", "local_date", "local_minute", "local_weekday")
    sunday, monday = date(2024, 3, 31), date(2024, 4, 1)
    expected_df = spark.createDataFrame([
        ("before_dst", sunday, 90, 6),  # 01:30 local, UTC+1
        ("after_dst", sunday, 180, 6),  # 03:00 local, UTC+2
        ("next_local_day", monday, 0, 0),
        ("utc", sunday, 1425, 6),
        ("unknown_zone", None, None, None),
    ], "name STRING, local_date DATE, local_minute INT, local_weekday INT")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_tou_window_picks_the_partners_window_with_exclusive_ends(spark: SparkSession) -> None:
    rows_df = spark.createDataFrame([
        ("north", 2, 359), ("north", 2, 360), ("north", 6, 1080),
        ("south", 5, 0), ("south", 4, 1439), ("east", 0, 600),
    ], "partner STRING, local_weekday INT, local_minute INT")
    actual_df = rows_df.withColumn("window", tou_window(BOOK))
    expected_df = spark.createDataFrame([
        ("north", 2, 359, "night"), ("north", 2, 360, "day"), ("north", 6, 1080, "night"),
        ("south", 5, 0, "weekend"), ("south", 4, 1439, "weekday"), ("east", 0, 600, None),
    ], "partner STRING, local_weekday INT, local_minute INT, window STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_local_readings_put_a_meter_in_every_zone_it_is_settled_in(spark: SparkSession) -> None:
    members_df = membership(spark, BOOK, "2024-03")
    actual_df = _by_local_time(spark, [
        ("M3", datetime(2024, 3, 16, 12, 0), 1.0),
        ("M1", datetime(2024, 3, 1, 6, 0), 2.0),
        ("M2", datetime(2024, 3, 5, 12, 0), 3.0),  # before M2's period: kept for look-backs
        ("M9", datetime(2024, 3, 5, 12, 0), 4.0),  # in no assignment
    ], members_df).select("meter_id", "time_zone", "kwh", "local_date", "local_minute",
                          "local_weekday")
    expected_df = spark.createDataFrame([
        ("M3", AMS, Decimal("1"), date(2024, 3, 16), 780, 5),
        ("M3", "UTC", Decimal("1"), date(2024, 3, 16), 720, 5),
        ("M1", AMS, Decimal("2"), date(2024, 3, 1), 420, 4),
        ("M2", AMS, Decimal("3"), date(2024, 3, 5), 780, 1),
    ], "meter_id STRING, time_zone STRING, kwh DECIMAL(28,9), local_date DATE, "
       "local_minute INT, local_weekday INT")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_expected_intervals_run_in_utc_across_a_dst_change(spark: SparkSession) -> None:
    members_df = spark.createDataFrame([
        ("north", "M1", AMS, datetime(2024, 3, 12, 4, 30), datetime(2024, 3, 12, 5, 0)),
        # 01:30 to 04:15 local time on the night DST starts: 45 minutes.
        ("north", "M2", AMS, datetime(2024, 3, 31, 0, 30), datetime(2024, 3, 31, 1, 15)),
    ], MEMBERSHIP_SCHEMA)
    expected_df = spark.createDataFrame([
        ("north", "M1", AMS, datetime(2024, 3, 12, 4, 30)),
        ("north", "M1", AMS, datetime(2024, 3, 12, 4, 45)),
        ("north", "M2", AMS, datetime(2024, 3, 31, 0, 30)),
        ("north", "M2", AMS, datetime(2024, 3, 31, 0, 45)),
        ("north", "M2", AMS, datetime(2024, 3, 31, 1, 0)),
    ], "partner STRING, meter_id STRING, time_zone STRING, interval_start TIMESTAMP")
    assert_df_equality(expected_intervals(members_df), expected_df, ignore_row_order=True,
                       ignore_nullable=True)


def test_energy_lines_count_measure_and_estimate_each_window(spark: SparkSession) -> None:
    members_df = spark.createDataFrame([
        # 05:30-06:30 local: two night intervals, then two day intervals.
        ("north", "M1", AMS, datetime(2024, 3, 12, 4, 30), datetime(2024, 3, 12, 5, 30)),
        ("north", "M2", AMS, datetime(2024, 3, 12, 5, 0), datetime(2024, 3, 12, 5, 30)),
    ], MEMBERSHIP_SCHEMA)
    by_local_time_df = _by_local_time(spark, [
        ("M1", datetime(2024, 3, 12, 4, 30), 0.5),
        ("M1", datetime(2024, 3, 12, 5, 0), 1.25),
        ("M1", datetime(2024, 3, 12, 5, 15), 0.75),
        # 04:45 is missing: estimated from 05:45 local on the 7 days before (two have it)...
        ("M1", datetime(2024, 3, 11, 4, 45), 0.2),
        ("M1", datetime(2024, 3, 10, 4, 45), 0.4),
        ("M1", datetime(2024, 3, 4, 4, 45), 5.0),  # ...and not from 8 days before.
    ], members_df)
    lines_df, days_df = energy_lines(by_local_time_df, members_df, BOOK)
    expected_df = spark.createDataFrame([
        ("north", "M1", "night", 2, 1, 1, *_kwh("0.5", "0.3")),
        ("north", "M1", "day", 2, 2, 0, *_kwh("2.0", "0")),
        ("north", "M2", "day", 2, 0, 0, *_kwh("0", "0")),  # nothing to estimate from
    ], LINES_DDL)
    try:
        assert_df_equality(lines_df, expected_df, ignore_row_order=True, ignore_nullable=True)
    finally:
        days_df.unpersist()


def test_estimates_average_the_same_local_interval_of_the_week_before(
    spark: SparkSession,
) -> None:
    missing_df = spark.createDataFrame([
        ("north", "M1", AMS, datetime(2024, 3, 12, 4, 45), "night", 345, date(2024, 3, 12)),
        ("north", "M1", AMS, datetime(2024, 3, 12, 5, 0), "day", 360, date(2024, 3, 12)),
        ("south", "M3", "UTC", datetime(2024, 3, 18, 0, 0), "weekday", 0, date(2024, 3, 18)),
    ], "partner STRING, meter_id STRING, time_zone STRING, interval_start TIMESTAMP, "
       "window STRING, local_minute INT, local_date DATE")
    by_local_time_df = spark.createDataFrame([
        ("M1", AMS, date(2024, 3, 11), 345, Decimal("0.000000001")),
        ("M1", AMS, date(2024, 3, 10), 345, Decimal("0.000000002")),
        ("M1", AMS, date(2024, 3, 4), 360, Decimal("9")),  # 8 days before: too old
        ("M3", "UTC", date(2024, 3, 11), 0, Decimal("0.7")),  # exactly 7 days before
        ("M3", AMS, date(2024, 3, 11), 0, Decimal("5")),  # the same meter in another zone
    ], "meter_id STRING, time_zone STRING, local_date DATE, local_minute INT, "
       "kwh DECIMAL(28,9)")
    expected_df = spark.createDataFrame([
        # The mean 0.0000000015 rounds half up to the nWh.
        ("north", "M1", "night", datetime(2024, 3, 12, 4, 45), Decimal("0.000000002")),
        ("south", "M3", "weekday", datetime(2024, 3, 18, 0, 0), Decimal("0.7")),
    ], "partner STRING, meter_id STRING, window STRING, interval_start TIMESTAMP, "
       "estimated_kwh DECIMAL(28,9)")
    assert_df_equality(estimates(missing_df, by_local_time_df), expected_df,
                       ignore_row_order=True, ignore_nullable=True)


EVENT_LINE_DDL = "partner STRING, meter_id STRING, window STRING, intervals_expected BIGINT, " \
    "intervals_present BIGINT, kwh_measured DECIMAL(38,9), kwh_baseline DECIMAL(38,9), " \
    "kwh_reduction DECIMAL(38,9), adjustment_factor DECIMAL(12,9)"


def test_an_event_pays_the_reduction_below_the_baseline_of_metered_intervals(
    spark: SparkSession,
) -> None:
    members_df = membership(spark, BOOK, "2024-03")
    by_local_time_df = _by_local_time(spark, [
        ("M1", datetime(2024, 3, 20, 16, 0), 0.5),  # 16:15 on the event day is unmetered
        ("M1", datetime(2024, 3, 19, 16, 0), 1.0),
        ("M1", datetime(2024, 3, 19, 16, 15), 0.8),
        ("M1", datetime(2024, 3, 18, 16, 0), 1.5),
        ("M2", datetime(2024, 3, 20, 16, 0), 3.0),  # M2 left north on the 20th at 00:00
    ], members_df)
    expected_df = spark.createDataFrame([
        # No adjustment window readings: factor 1. Baselines 1.25 (16:00) and 0.8 (16:15);
        # the reduction is 1.25 - 0.5 at 16:00, nothing at the unmetered 16:15.
        ("north", "M1", "dr-0320", 2, 1, *_kwh("0.5", "2.05", "0.75", "1")),
    ], EVENT_LINE_DDL)
    actual_df = event_lines(spark, members_df, by_local_time_df, BOOK, "2024-03")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_the_day_of_adjustment_is_capped_at_1_2(spark: SparkSession) -> None:
    members_df = membership(spark, BOOK, "2024-03")
    # The adjustment window: 12:00-15:00 UTC, 12 intervals; twice the baseline on the event day.
    window = [datetime(2024, 3, 20, 12, 0) + timedelta(minutes=15 * i) for i in range(12)]
    by_local_time_df = _by_local_time(spark, [
        *(("M1", at, 2.0) for at in window),
        *(("M1", at - timedelta(days=1), 1.0) for at in window),
        ("M1", datetime(2024, 3, 19, 16, 0), 1.0), ("M1", datetime(2024, 3, 19, 16, 15), 1.0),
        ("M1", datetime(2024, 3, 20, 16, 0), 0.2), ("M1", datetime(2024, 3, 20, 16, 15), 1.5),
    ], members_df)
    expected_df = spark.createDataFrame([
        # Adjusted baseline 1.2 per interval: reductions 1.0 and none (1.5 is above it).
        ("north", "M1", "dr-0320", 2, 2, *_kwh("1.7", "2.4", "1.0", "1.2")),
    ], EVENT_LINE_DDL)
    actual_df = event_lines(spark, members_df, by_local_time_df, BOOK, "2024-03")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_earliest_baseline_day_looks_back_ten_weekdays() -> None:
    assert earliest_baseline_day(BOOK, "2024-03") == date(2024, 3, 6)
    assert earliest_baseline_day(BOOK, "2024-04") is None


def test_priced_lines_bill_energy_and_pay_reductions(spark: SparkSession) -> None:
    lines_df = spark.createDataFrame([
        ("north", "M1", "energy", "night", 2, 1, 1, *_kwh("0.5", "0.3"), None, None, None),
        ("north", "M1", "energy", "day", 3, 2, 0, *_kwh("2.0000005", "0"), None, None, None),
        ("north", "M1", "event", "dr-0320", 2, 1, 0, *_kwh("0.5", "0", "2.05", "0.75", "1")),
        ("north", "M9", "energy", "peak", 1, 1, 0, *_kwh("1", "0"), None, None, None),
    ], "partner STRING, meter_id STRING, line_type STRING, line_name STRING, "
       "intervals_expected BIGINT, intervals_present BIGINT, intervals_estimated BIGINT, "
       "kwh_measured DECIMAL(38,9), kwh_estimated DECIMAL(38,9), kwh_baseline DECIMAL(38,9), "
       "kwh_reduction DECIMAL(38,9), adjustment_factor DECIMAL(12,9)")
    prices_df = spark.createDataFrame([
        ("north", "energy", "night", Decimal("0.10"), "EUR"),
        ("north", "energy", "day", Decimal("0.30"), "EUR"),
        ("north", "event", "dr-0320", Decimal("0.50"), "EUR"),
    ], "partner STRING, line_type STRING, line_name STRING, price DECIMAL(18,6), "
       "currency STRING")
    columns = ["meter_id", "line_name", "kwh_measured", "kwh_estimated", "kwh_reduction",
               "price", "amount", "completeness", "month"]
    actual_df = priced_lines(lines_df, prices_df, "2024-03").select(*columns)
    expected_df = spark.createDataFrame([
        # (0.5 + 0.3) x 0.10
        ("M1", "night", *_kwh("0.5", "0.3"), None, *_kwh("0.1", "0.08", "0.5"), "2024-03"),
        # kWh rounded half up to 6 places; 2.0000005 x 0.30 = 0.60000015
        ("M1", "day", *_kwh("2.000001", "0"), None, *_kwh("0.3", "0.60", "0.666667"),
         "2024-03"),
        # 0.75 x 0.50 = 0.375, half up to the cent; M9's unpriced window is no line
        ("M1", "dr-0320", *_kwh("0.5", "0", "0.75", "0.5", "0.38", "0.5"), "2024-03"),
    ], "meter_id STRING, line_name STRING, kwh_measured DECIMAL(24,6), "
       "kwh_estimated DECIMAL(24,6), kwh_reduction DECIMAL(24,6), price DECIMAL(18,6), "
       "amount DECIMAL(22,2), completeness DECIMAL(9,6), month STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


SUMMARY_COLUMNS = ["partner", "meters", "intervals_expected", "intervals_present",
                   "intervals_estimated", "kwh_measured", "kwh_estimated", "energy_amount",
                   "kwh_reduction", "event_amount", "total_amount", "completeness"]
SUMMARY_DDL = "partner STRING, meters BIGINT, intervals_expected BIGINT, " \
    "intervals_present BIGINT, intervals_estimated BIGINT, kwh_measured DECIMAL(24,6), " \
    "kwh_estimated DECIMAL(24,6), energy_amount DECIMAL(22,2), kwh_reduction DECIMAL(24,6), " \
    "event_amount DECIMAL(22,2), total_amount DECIMAL(22,2), completeness DECIMAL(9,6)"
PRICED_DDL = "partner STRING, meter_id STRING, line_type STRING, intervals_expected BIGINT, " \
    "intervals_present BIGINT, intervals_estimated BIGINT, kwh_measured DECIMAL(24,6), " \
    "kwh_estimated DECIMAL(24,6), amount DECIMAL(22,2), kwh_reduction DECIMAL(24,6)"


def _partners(spark: SparkSession, *names: str) -> DataFrame:
    return spark.createDataFrame([(name, "EUR", "2024-03") for name in names],
                                 "partner STRING, currency STRING, month STRING")


def test_summarize_totals_a_partners_energy_and_event_lines(spark: SparkSession) -> None:
    lines_df = spark.createDataFrame([
        ("north", "M1", "energy", 2, 1, 1, *_kwh("0.5", "0.3", "0.08"), None),
        ("north", "M1", "energy", 3, 2, 0, *_kwh("2.000001", "0", "0.60"), None),
        ("north", "M1", "event", 2, 1, 0, *_kwh("0.5", "0", "0.38", "0.75")),
        ("north", "M2", "energy", 2, 0, 0, *_kwh("0", "0", "0"), None),
    ], PRICED_DDL)
    actual_df = summarize(lines_df, _partners(spark, "north")).select(*SUMMARY_COLUMNS)
    expected_df = spark.createDataFrame([
        # Intervals and kWh of energy lines only; 3 of 7 intervals present.
        ("north", 2, 7, 3, 1, *_kwh("2.500001", "0.3", "0.68", "0.75", "0.38", "1.06",
                                    "0.428571")),
    ], SUMMARY_DDL)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_summarize_zeroes_a_partner_without_meters(spark: SparkSession) -> None:
    lines_df = spark.createDataFrame(
        [("north", "M1", "energy", 2, 2, 0, *_kwh("1", "0", "0.30"), None)], PRICED_DDL)
    actual_df = summarize(lines_df, _partners(spark, "north", "south")).select(*SUMMARY_COLUMNS)
    expected_df = spark.createDataFrame([
        ("north", 1, 2, 2, 0, *_kwh("1", "0", "0.30", "0", "0", "0.30", "1")),
        ("south", 0, 0, 0, 0, *_kwh("0", "0", "0", "0", "0", "0"), None),
    ], SUMMARY_DDL)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_check_settleable_names_meters_that_are_not_quarter_hour_wh_or_kwh(
    spark: SparkSession,
) -> None:
    at = datetime(2024, 3, 12, 4, 30)
    good_df = spark.createDataFrame([("M1", at, 1.0, "Wh", 15), ("M2", at, 1.0, "kWh", 15)],
                                    READINGS_DDL)
    check_settleable(good_df)
    bad_df = good_df.unionByName(spark.createDataFrame(
        [("M5", at, 1.0, "kWh", 60), ("M6", at, 1.0, "MWh", 15), ("M6", at, 2.0, "MWh", 15)],
        READINGS_DDL))
    with pytest.raises(SettlementInputError) as error:
        check_settleable(bad_df)
    message = str(error.value)
    assert message.startswith("settlement prices 15-minute Wh or kWh readings; assigned meters "
                              "with others: ")
    listed = message.split("with others: ")[1].split(", ")
    # Each meter once, however many of its readings are wrong.
    assert sorted(listed) == ["M5 (60-minute kWh)", "M6 (15-minute MWh)"]
