"""Unit tests for the pure steps of meterlake.silver: latest version per key and the MERGE."""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from meterlake.engine.snapshot import merge_condition
from meterlake.silver.meter_readings import SILVER_METER_READINGS, latest_by_arrival, to_silver_rows
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS

T0015 = datetime(2020, 6, 1, 0, 15)
T2345 = datetime(2020, 6, 1, 23, 45)
DAY1 = date(2020, 6, 1)
EARLY = datetime(2020, 6, 1, 9, 0)
LATE = datetime(2020, 6, 2, 9, 0)


def _bronze(meter: str, start: datetime, energy_wh: float, ingest: str, line: int,
            received: datetime) -> tuple:
    return (meter, start, start.date(), energy_wh, ingest, f"{ingest}.csv", line, received,
            f"sha-{ingest}")


def _silver(meter: str, start: datetime, value: float, versions: int, ingest: str, line: int,
            received: datetime) -> tuple:
    return (meter, start, start.date(), value, "Wh", "electricity", 15, "utility_drops",
            versions, ingest, f"{ingest}.csv", line, received, f"sha-{ingest}")


def _silver_rows(spark: SparkSession, bronze_rows: list[tuple]) -> DataFrame:
    bronze_df = spark.createDataFrame(bronze_rows, BRONZE_UTILITY_DROPS.schema)
    return bronze_df.transform(latest_by_arrival, utility_drops_source.READINGS).transform(
        to_silver_rows, utility_drops_source.READINGS
    )


def test_latest_received_wins_even_when_listed_first(spark: SparkSession) -> None:
    actual_df = _silver_rows(spark, [
        _bronze("m1", T0015, 2.0, "b", 2, LATE),
        _bronze("m1", T0015, 1.0, "a", 9, EARLY),
        _bronze("m2", T0015, 0.0, "a", 3, EARLY),
    ])
    expected_df = spark.createDataFrame(
        [
            _silver("m1", T0015, 2.0, 2, "b", 2, LATE),
            _silver("m2", T0015, 0.0, 1, "a", 3, EARLY),
        ],
        SILVER_METER_READINGS.schema,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_equal_arrival_time_greater_source_line_wins(spark: SparkSession) -> None:
    actual_df = _silver_rows(spark, [
        _bronze("m1", T2345, 7.0, "a", 4, EARLY),
        _bronze("m1", T2345, 5.0, "a", 2, EARLY),
        _bronze("m1", T2345, 6.0, "a", 10, EARLY),
        _bronze("m1", T0015, 3.0, "a", 3, EARLY),
    ])
    expected_df = spark.createDataFrame(
        [
            _silver("m1", T2345, 6.0, 3, "a", 10, EARLY),
            _silver("m1", T0015, 3.0, 1, "a", 3, EARLY),
        ],
        SILVER_METER_READINGS.schema,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_version_count_counts_every_version_of_a_key(spark: SparkSession) -> None:
    bronze_df = spark.createDataFrame(
        [
            _bronze("m1", T0015, 1.0, "a", 2, EARLY),
            _bronze("m1", T0015, 1.0, "b", 2, LATE),
            _bronze("m1", T0015, 4.0, "c", 2, datetime(2020, 6, 3)),
            _bronze("m2", T0015, 1.0, "a", 3, EARLY),
        ],
        BRONZE_UTILITY_DROPS.schema,
    )
    actual_df = latest_by_arrival(bronze_df, utility_drops_source.READINGS).select(
        "meter_id", "energy_wh", "_ingest_id", "version_count"
    )
    expected_df = spark.createDataFrame(
        [("m1", 4.0, "c", 3), ("m2", 1.0, "a", 1)],
        "meter_id STRING, energy_wh DOUBLE, _ingest_id STRING, version_count BIGINT",
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_silver_rows_have_the_contract_names_and_types(spark: SparkSession) -> None:
    actual_df = _silver_rows(spark, [_bronze("m1", T2345, 1.0, "a", 2, EARLY)])
    actual = [(f.name, f.dataType) for f in actual_df.schema.fields]
    expected = [(f.name, f.dataType) for f in SILVER_METER_READINGS.schema.fields]
    assert actual == expected
    assert actual_df.first()["interval_date"] == DAY1


def test_merge_condition_sorts_dates_and_names_the_keys() -> None:
    dates = [date(2020, 6, 2), date(2020, 6, 1)]
    assert merge_condition(utility_drops_source.SNAPSHOT, dates) == (
        "t.interval_date IN (DATE'2020-06-01', DATE'2020-06-02') "
        "AND t.meter_id = s.meter_id AND t.interval_start = s.interval_start"
    )


def test_merge_condition_with_one_date() -> None:
    assert merge_condition(utility_drops_source.SNAPSHOT, [date(2019, 12, 31)]) == (
        "t.interval_date IN (DATE'2019-12-31') "
        "AND t.meter_id = s.meter_id AND t.interval_start = s.interval_start"
    )
