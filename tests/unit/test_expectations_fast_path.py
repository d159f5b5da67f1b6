"""`run_expectations` on small frames: one result per expectation of the table's contract, with
its success, the rows it looked at and the rows it flagged, both when every expectation holds
(decided by a few aggregations) and when one fails (decided by great-expectations)."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructField, StructType

from meterlake.core.config import QualitySettings
from meterlake.quality.expectations import ExpectationResult, run_expectations
from meterlake.silver.dropzone_measurements import SILVER_DROPZONE_MEASUREMENTS
from meterlake.silver.meter_readings import SILVER_METER_READINGS

T = datetime(2020, 6, 1, 0, 15)
T2 = datetime(2020, 6, 1, 0, 30)
QUALITY = QualitySettings(max_value_per_unit={"Wh": 500.0, "kWh": 10.0})
UNIQUE_KEY = "ExpectCompoundColumnsToBeUnique(column_list=['meter_id', 'interval_start'])"
NOT_NULL = [f"ExpectColumnValuesToNotBeNull(column={c})"
            for c in ("meter_id", "interval_start", "value", "unit", "source", "_ingest_id")]
WH_RANGE = "ExpectColumnValuesToBeBetween(column=value, min_value=0.0, max_value=500.0, unit=Wh)"
KWH_RANGE = "ExpectColumnValuesToBeBetween(column=value, min_value=0.0, max_value=10.0, unit=kWh)"
DROPZONE_UNIQUE = "ExpectColumnValuesToBeUnique(column=time_stamp_utc)"
DROPZONE_NOT_NULL = [f"ExpectColumnValuesToNotBeNull(column={c})"
                     for c in ("time_stamp_utc", "mean", "value_count", "_ingest_id")]


def _nullable(schema: StructType) -> StructType:
    """The contract's schema with every column nullable, so a frame can hold what it forbids."""
    return StructType([StructField(f.name, f.dataType, True) for f in schema.fields])


def _readings(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Silver readings from (meter_id, interval_start, value, unit)."""
    lineage = ("i1", "a.csv", 2, datetime(2020, 6, 2), "sha")
    full = [(m, t, date(2020, 6, 1), v, u, "electricity", 15, "utility_drops", 1, *lineage)
            for m, t, v, u in rows]
    return spark.createDataFrame(full, _nullable(SILVER_METER_READINGS.schema))


def _measurements(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Silver dropzone rows from (time_stamp_utc, mean)."""
    full = [(t, date(2020, 6, 1), 1, 1, mean, None, mean, None if mean is None else mean * mean,
             "i1", datetime(2020, 6, 2)) for t, mean in rows]
    return spark.createDataFrame(full, _nullable(SILVER_DROPZONE_MEASUREMENTS.schema))


def _counts(results: list[ExpectationResult]) -> list[tuple]:
    return [(r.expectation, r.success, r.element_count, r.unexpected_count) for r in results]


def test_passing_readings_report_every_expectation_with_its_rows(spark: SparkSession) -> None:
    readings_df = _readings(spark, [
        ("m1", T, 0.0, "Wh"), ("m1", T2, 500.0, "Wh"),  # both bounds are inside
        ("m2", T, 1.0, "Wh"), ("m3", T, 9.5, "kWh"),
    ])
    assert run_expectations(readings_df, SILVER_METER_READINGS, QUALITY) == [
        ExpectationResult(UNIQUE_KEY, True, 4, 0, "[]"),
        *(ExpectationResult(name, True, 4, 0, "[]") for name in NOT_NULL),
        # One range per unit present, over that unit's rows, in unit order.
        ExpectationResult(WH_RANGE, True, 3, 0, "[]"),
        ExpectationResult(KWH_RANGE, True, 1, 0, "[]"),
    ]


def test_failing_readings_count_the_duplicate_key_the_null_and_the_value_over_the_max(
    spark: SparkSession,
) -> None:
    readings_df = _readings(spark, [
        ("m1", T, 1.0, "Wh"), ("m1", T, 2.0, "Wh"),  # one key twice
        ("m2", T, 900.0, "Wh"),  # over the Wh maximum
        ("m3", T, None, "kWh"),
        ("m4", T, 10.0, "kWh"),  # at the kWh maximum
    ])
    results = run_expectations(readings_df, SILVER_METER_READINGS, QUALITY)
    assert _counts(results) == [
        (UNIQUE_KEY, False, 5, 2),
        (NOT_NULL[0], True, 5, 0), (NOT_NULL[1], True, 5, 0),
        (NOT_NULL[2], False, 5, 1),
        (NOT_NULL[3], True, 5, 0), (NOT_NULL[4], True, 5, 0), (NOT_NULL[5], True, 5, 0),
        (WH_RANGE, False, 3, 1),
        (KWH_RANGE, True, 2, 0),  # a missing value is the not-null check's business
    ]
    assert results[7].details == "[900.0]"


def test_a_unit_without_a_configured_maximum_fails_without_counts(spark: SparkSession) -> None:
    readings_df = _readings(spark, [
        ("m1", T, 1.0, "Wh"), ("m2", T, 7.0, "MWh"), ("m1", T2, 0.0, "Wh"),
    ])
    results = run_expectations(readings_df, SILVER_METER_READINGS, QUALITY)
    assert results[0] == ExpectationResult(
        "ExpectColumnValuesToBeBetween(column=value, min_value=0.0, max_value=None, unit=MWh)",
        False, None, None, "no quality.max_value_per_unit configured for MWh")
    assert _counts(results[1:]) == [
        (UNIQUE_KEY, True, 3, 0),
        *((name, True, 3, 0) for name in NOT_NULL),
        (WH_RANGE, True, 2, 0),
    ]


def test_unique_timestamps_pass(spark: SparkSession) -> None:
    measurements_df = _measurements(spark, [(T, 1.5), (T2, 0.0)])
    assert run_expectations(measurements_df, SILVER_DROPZONE_MEASUREMENTS, QUALITY) == [
        ExpectationResult(DROPZONE_UNIQUE, True, 2, 0, "[]"),
        *(ExpectationResult(name, True, 2, 0, "[]") for name in DROPZONE_NOT_NULL),
    ]


def test_a_repeated_timestamp_and_a_missing_mean_fail(spark: SparkSession) -> None:
    measurements_df = _measurements(spark, [(T, 1.5), (T, 2.5), (T2, None)])
    results = run_expectations(measurements_df, SILVER_DROPZONE_MEASUREMENTS, QUALITY)
    assert _counts(results) == [
        (DROPZONE_UNIQUE, False, 3, 2),
        (DROPZONE_NOT_NULL[0], True, 3, 0),
        (DROPZONE_NOT_NULL[1], False, 3, 1),
        (DROPZONE_NOT_NULL[2], True, 3, 0),
        (DROPZONE_NOT_NULL[3], True, 3, 0),
    ]
