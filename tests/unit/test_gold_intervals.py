"""Unit tests for meterlake.gold.intervals.build_meter_intervals: grid, gaps and hour means."""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN, build_meter_intervals
from meterlake.silver.meter_readings import SILVER_METER_READINGS

RECEIVED = datetime(2020, 6, 3, 8, 0)
DAY1 = date(2020, 6, 1)
DAY2 = date(2020, 6, 2)


def _at(hour: int, minute: int, day: int = 1) -> datetime:
    return datetime(2020, 6, day, hour, minute)


def _silver(meter: str, start: datetime, value: float, minutes: int = 15) -> tuple:
    return (meter, start, start.date(), value, "Wh", "electricity", minutes, "utility_drops", 1,
            "a", "a.csv", 2, RECEIVED, "sha-a")


def _gold(spark: SparkSession, silver_rows: list[tuple]) -> DataFrame:
    silver_df = spark.createDataFrame(silver_rows, SILVER_METER_READINGS.schema)
    return build_meter_intervals(silver_df)


def _expected(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, GOLD_METER_INTERVALS_15MIN.schema)


def test_gaps_are_filled_and_hours_averaged_over_present_intervals(spark: SparkSession) -> None:
    actual_df = _gold(spark, [
        _silver("m1", _at(0, 0), 10.0),
        _silver("m1", _at(0, 15), 20.0),
        _silver("m1", _at(0, 45), 60.0),
        _silver("m1", _at(1, 30), 0.0),
    ])
    h0, h1 = _at(0, 0), _at(1, 0)
    expected_df = _expected(spark, [
        ("m1", _at(0, 0), DAY1, 10.0, False, h0, 30.0),
        ("m1", _at(0, 15), DAY1, 20.0, False, h0, 30.0),
        ("m1", _at(0, 30), DAY1, None, True, h0, 30.0),
        ("m1", _at(0, 45), DAY1, 60.0, False, h0, 30.0),
        ("m1", _at(1, 0), DAY1, None, True, h1, 0.0),
        ("m1", _at(1, 15), DAY1, None, True, h1, 0.0),
        ("m1", _at(1, 30), DAY1, 0.0, False, h1, 0.0),
    ])
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_grid_crosses_midnight_and_switches_interval_date(spark: SparkSession) -> None:
    actual_df = _gold(spark, [
        _silver("m2", _at(0, 15, day=2), 3.0),
        _silver("m2", _at(23, 30), 1.0),
    ])
    h23, h00 = _at(23, 0), _at(0, 0, day=2)
    expected_df = _expected(spark, [
        ("m2", _at(23, 30), DAY1, 1.0, False, h23, 1.0),
        ("m2", _at(23, 45), DAY1, None, True, h23, 1.0),
        ("m2", _at(0, 0, day=2), DAY2, None, True, h00, 3.0),
        ("m2", _at(0, 15, day=2), DAY2, 3.0, False, h00, 3.0),
    ])
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_meters_get_separate_grids_and_hourly_rows_are_ignored(spark: SparkSession) -> None:
    actual_df = _gold(spark, [
        _silver("m3", _at(12, 0), 4.5),
        _silver("m3", _at(14, 0), 99.0, minutes=60),
        _silver("m4", _at(12, 15), 2.0),
        _silver("m4", _at(12, 30), 6.0),
        _silver("m5", _at(9, 0), 1.0, minutes=60),
    ])
    h12 = _at(12, 0)
    expected_df = _expected(spark, [
        ("m3", _at(12, 0), DAY1, 4.5, False, h12, 4.5),
        ("m4", _at(12, 15), DAY1, 2.0, False, h12, 4.0),
        ("m4", _at(12, 30), DAY1, 6.0, False, h12, 4.0),
    ])
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_no_quarter_hour_readings_give_an_empty_grid(spark: SparkSession) -> None:
    actual_df = _gold(spark, [_silver("m5", _at(9, 0), 1.0, minutes=60)])
    assert actual_df.collect() == []
    assert actual_df.columns == GOLD_METER_INTERVALS_15MIN.column_names
