"""Unit tests for the dropzone steps on inline bodies and rows: payloads read from request
bodies, per-payload statistics, silver's latest and pooled statistics and the daily rollup."""

from __future__ import annotations

import math
from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from meterlake.gold.dropzone_daily import GOLD_DROPZONE_DAILY, daily_rollup
from meterlake.silver.dropzone_measurements import (
    SILVER_DROPZONE_MEASUREMENTS,
    latest_statistics,
    pooled_statistics,
    pooled_std,
)
from meterlake.sources.dropzone.parse import explode_payloads, with_payloads, with_statistics

DAY1, DAY2, DAY3 = date(2019, 5, 1), date(2019, 5, 2), date(2019, 5, 3)
T1, T2 = datetime(2019, 5, 1, 10, 0), datetime(2019, 5, 1, 10, 15)
T3 = datetime(2019, 5, 2, 0, 0)
PAYLOADS_DDL = "ARRAY<STRUCT<time_stamp: STRING, data: ARRAY<STRING>>>"
PAYLOADS_DDL_ROW = "_ingest_id STRING, time_stamp_utc TIMESTAMP, stamp_date DATE, " \
    "_received_at TIMESTAMP, _source_line INT, value_count BIGINT, sum DOUBLE, " \
    "sum_squares DOUBLE, mean DOUBLE, std DOUBLE"


def _bodies(spark: SparkSession, bodies: list[tuple[str, bytes | None]]) -> DataFrame:
    """Request bodies as landed files: `_ingest_id`, `byte_size`, `content` (None: empty)."""
    rows = [(name, len(body or b""), None if body is None else bytearray(body))
            for name, body in bodies]
    return spark.createDataFrame(rows, "_ingest_id STRING, byte_size BIGINT, content BINARY")


def test_with_payloads_reads_an_object_or_an_array_of_them(spark: SparkSession) -> None:
    actual_df = _bodies(spark, [
        ("object", b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1, 2.5]}'),
        ("array", b'[{"time_stamp": "2019-05-01T10:00:00Z", "data": [3]},'
                  b' {"time_stamp": "2019-05-01T10:00:00Z", "data": []}]'),
        ("padded", b'  {"time_stamp": "2019-05-01T10:00:00Z", "data": [-0.5]}  '),
        ("no_data", b'{"time_stamp": "2019-05-01T10:00:00Z"}'),
        ("empty_array", b"[]"),
    ]).transform(with_payloads).select("_ingest_id", "payloads", "rejection")
    expected_df = spark.createDataFrame([
        # Numbers stay text, so that a bad one is reported rather than nulling the payload.
        ("object", [("2019-05-01T06:00:00-04:00", ["1", "2.5"])], None),
        ("array", [("2019-05-01T10:00:00Z", ["3"]), ("2019-05-01T10:00:00Z", [])], None),
        ("padded", [("2019-05-01T10:00:00Z", ["-0.5"])], None),
        ("no_data", [("2019-05-01T10:00:00Z", None)], None),
        ("empty_array", [], None),
    ], f"_ingest_id STRING, payloads {PAYLOADS_DDL}, rejection STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_payloads_reads_a_body_led_by_a_line_break_like_the_door(
    spark: SparkSession,
) -> None:
    actual_df = _bodies(spark, [
        ("newline", b'\n{"time_stamp": "2019-05-01T10:00:00Z", "data": [1]}\n'),
        ("tab", b'\t[{"time_stamp": "2019-05-01T10:00:00Z", "data": [2]}]'),
        ("crlf", b'\r\n{"time_stamp": "2019-05-01T10:00:00Z", "data": [3]}'),
    ]).transform(with_payloads).select("_ingest_id", "payloads", "rejection")
    expected_df = spark.createDataFrame([
        ("newline", [("2019-05-01T10:00:00Z", ["1"])], None),
        ("tab", [("2019-05-01T10:00:00Z", ["2"])], None),
        ("crlf", [("2019-05-01T10:00:00Z", ["3"])], None),
    ], f"_ingest_id STRING, payloads {PAYLOADS_DDL}, rejection STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_payloads_rejects_bodies_that_are_not_json_payloads(spark: SparkSession) -> None:
    actual_df = _bodies(spark, [
        ("prose", b"not json"),
        ("number", b"42"),
        ("truncated", b'{"time_stamp": "2019-05-01T10:00:00Z", "data": [1'),
        ("empty", None),
        ("binary", b"\xff\xfe{"),
    ]).transform(with_payloads).select("_ingest_id", "rejection")
    not_json = "not a JSON object or array of objects"
    expected_df = spark.createDataFrame([
        ("prose", not_json),
        ("number", not_json),
        ("truncated", not_json),
        ("empty", "file is empty"),
        ("binary", "not a text file: invalid UTF-8"),
    ], "_ingest_id STRING, rejection STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_explode_payloads_numbers_payloads_and_reads_instants_and_values(
    spark: SparkSession,
) -> None:
    actual_df = _bodies(spark, [
        ("i1", b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1, 2.5]}'),
        ("i2", b'[{"time_stamp": "2019-05-01T10:00:00Z", "data": [3]},'
               b' {"time_stamp": "2019-05-01T10:00:00", "data": [4, "x"]},'
               b' {"time_stamp": "2019-05-01T23:30:00.5+01:00"}]'),
    ]).transform(with_payloads).transform(explode_payloads).select(
        "_ingest_id", "_source_line", "raw_line", "time_stamp", "time_stamp_utc", "values")
    expected_df = spark.createDataFrame([
        ("i1", 1, '{"time_stamp":"2019-05-01T06:00:00-04:00","data":["1","2.5"]}',
         "2019-05-01T06:00:00-04:00", datetime(2019, 5, 1, 10, 0), [1.0, 2.5]),
        ("i2", 1, '{"time_stamp":"2019-05-01T10:00:00Z","data":["3"]}',
         "2019-05-01T10:00:00Z", datetime(2019, 5, 1, 10, 0), [3.0]),
        # No offset: no instant. A value that is no number: a null for the row rules to name.
        ("i2", 2, '{"time_stamp":"2019-05-01T10:00:00","data":["4","x"]}',
         "2019-05-01T10:00:00", None, [4.0, None]),
        ("i2", 3, '{"time_stamp":"2019-05-01T23:30:00.5+01:00"}',
         "2019-05-01T23:30:00.5+01:00", datetime(2019, 5, 1, 22, 30, 0, 500000), None),
    ], "_ingest_id STRING, _source_line INT, raw_line STRING, time_stamp STRING, "
       "time_stamp_utc TIMESTAMP, values ARRAY<DOUBLE>")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_statistics_gives_sums_mean_and_sample_std(spark: SparkSession) -> None:
    payloads_df = spark.createDataFrame([
        ("four", T1, [1.0, 2.0, 3.0, 4.0]),
        ("single", datetime(2019, 5, 1, 23, 59, 59), [7.5]),
        ("symmetric", T3, [-2.0, 2.0]),
        ("constant", datetime(2019, 5, 2, 0, 15), [0.0, 0.0, 0.0]),
    ], "_ingest_id STRING, time_stamp_utc TIMESTAMP, values ARRAY<DOUBLE>")
    actual_df = payloads_df.transform(with_statistics).select(
        "_ingest_id", "value_count", "sum", "sum_squares", "mean", "std", "stamp_date")
    expected_df = spark.createDataFrame([
        # Deviations 1.5, 0.5, 0.5, 1.5: squares sum to 5, over n - 1 = 3.
        ("four", 4, 10.0, 30.0, 2.5, math.sqrt(5 / 3), DAY1),
        ("single", 1, 7.5, 56.25, 7.5, None, DAY1),  # one value has no sample std
        ("symmetric", 2, 0.0, 8.0, 0.0, math.sqrt(8), DAY2),
        ("constant", 3, 0.0, 0.0, 0.0, 0.0, DAY2),
    ], "_ingest_id STRING, value_count BIGINT, sum DOUBLE, sum_squares DOUBLE, mean DOUBLE, "
       "std DOUBLE, stamp_date DATE")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def _payload_statistics(spark: SparkSession) -> DataFrame:
    """Bronze payloads of three timestamps: T1 received twice (the later arrival has the lower
    line), T2 twice in one request, T3 once."""
    return spark.createDataFrame([
        ("i1", T1, DAY1, datetime(2019, 5, 1, 8, 0), 2, 2, 4.0, 10.0, 2.0, math.sqrt(2)),  # 1, 3
        ("i2", T1, DAY1, datetime(2019, 5, 1, 9, 0), 1, 1, 5.0, 25.0, 5.0, None),  # 5
        ("i3", T2, DAY1, datetime(2019, 5, 1, 8, 30), 1, 2, 4.0, 8.0, 2.0, 0.0),  # 2, 2
        ("i3", T2, DAY1, datetime(2019, 5, 1, 8, 30), 2, 2, 4.0, 16.0, 2.0, math.sqrt(8)),  # 0, 4
        ("i4", T3, DAY2, datetime(2019, 5, 2, 8, 0), 1, 1, 7.5, 56.25, 7.5, None),  # 7.5
    ], PAYLOADS_DDL_ROW)


def test_latest_statistics_keep_the_newest_payload_by_arrival(spark: SparkSession) -> None:
    actual_df = latest_statistics(_payload_statistics(spark))
    expected_df = spark.createDataFrame([
        (T1, DAY1, 2, 1, 5.0, None, 5.0, 25.0, "i2", datetime(2019, 5, 1, 9, 0)),
        (T2, DAY1, 2, 2, 2.0, math.sqrt(8), 4.0, 16.0, "i3", datetime(2019, 5, 1, 8, 30)),
        (T3, DAY2, 1, 1, 7.5, None, 7.5, 56.25, "i4", datetime(2019, 5, 2, 8, 0)),
    ], SILVER_DROPZONE_MEASUREMENTS.schema)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_pooled_statistics_pool_every_payload_exactly(spark: SparkSession) -> None:
    actual_df = pooled_statistics(_payload_statistics(spark))
    expected_df = spark.createDataFrame([
        # Values 1, 3, 5: mean 3, squared deviations 4 + 0 + 4 over 2.
        (T1, DAY1, 2, 3, 3.0, 2.0, 9.0, 35.0, "i2", datetime(2019, 5, 1, 9, 0)),
        # Values 2, 2, 0, 4: mean 2, squared deviations 0 + 0 + 4 + 4 over 3.
        (T2, DAY1, 2, 4, 2.0, math.sqrt(8 / 3), 8.0, 24.0, "i3", datetime(2019, 5, 1, 8, 30)),
        (T3, DAY2, 1, 1, 7.5, None, 7.5, 56.25, "i4", datetime(2019, 5, 2, 8, 0)),
    ], SILVER_DROPZONE_MEASUREMENTS.schema)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_pooled_std_from_count_and_sums(spark: SparkSession) -> None:
    sums_df = spark.createDataFrame([
        ("four", 4, 10.0, 30.0),  # 1, 2, 3, 4
        ("single", 1, 7.5, 56.25),
        ("unknown", None, None, None),
        # Three times 0.1: the rounded sums give a variance of -1.7e-18, which is 0.
        ("rounded", 3, 0.1 + 0.1 + 0.1, 0.1 * 0.1 + 0.1 * 0.1 + 0.1 * 0.1),
    ], "name STRING, value_count BIGINT, sum DOUBLE, sum_squares DOUBLE")
    actual_df = sums_df.select(
        "name", pooled_std(F.col("value_count"), F.col("sum"), F.col("sum_squares")).alias("std"))
    expected_df = spark.createDataFrame([
        ("four", math.sqrt(5 / 3)), ("single", None), ("unknown", None), ("rounded", 0.0),
    ], "name STRING, std DOUBLE")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_daily_rollup_pools_every_timestamp_of_a_utc_day(spark: SparkSession) -> None:
    received = datetime(2019, 5, 4, 8, 0)
    measurements_df = spark.createDataFrame([
        (T1, DAY1, 2, 3, 3.0, 2.0, 9.0, 35.0, "i1", received),  # 1, 3, 5
        (T2, DAY1, 1, 1, 5.0, None, 5.0, 25.0, "i2", received),  # 5
        (T3, DAY2, 1, 1, 7.5, None, 7.5, 56.25, "i3", received),  # 7.5
        (datetime(2019, 5, 3, 0, 0), DAY3, 1, 1, 2.0, None, 2.0, 4.0, "i4", received),  # 2
        (datetime(2019, 5, 3, 23, 45), DAY3, 1, 1, 4.0, None, 4.0, 16.0, "i5", received),  # 4
    ], SILVER_DROPZONE_MEASUREMENTS.schema)
    expected_df = spark.createDataFrame([
        # 1, 3, 5, 5: mean 3.5, squared deviations 6.25 + 0.25 + 2.25 + 2.25 over 3.
        (DAY1, 2, 4, 3.5, math.sqrt(11 / 3), 3.0, 5.0),
        (DAY2, 1, 1, 7.5, None, 7.5, 7.5),
        # Two timestamps of one value each still pool to a sample std: 2, 4.
        (DAY3, 2, 2, 3.0, math.sqrt(2), 2.0, 4.0),
    ], GOLD_DROPZONE_DAILY.schema)
    assert_df_equality(daily_rollup(measurements_df), expected_df, ignore_row_order=True,
                       ignore_nullable=True)
