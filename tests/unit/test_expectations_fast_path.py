"""The aggregation fast path of `run_expectations` agrees with great-expectations when every
expectation holds, and hands over to it when one fails."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession

from meterlake.config import QualitySettings
from meterlake.quality import (
    _all_passing,
    _expanded,
    _validate_with_gx,
    run_expectations,
)
from meterlake.tables import SILVER_DROPZONE_MEASUREMENTS, SILVER_METER_READINGS, TableContract

T = datetime(2020, 6, 1, 0, 15)
QUALITY = QualitySettings(max_value_per_unit={"Wh": 500.0, "kWh": 10.0})


def _readings(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    lineage = ("i1", "a.csv", 2, datetime(2020, 6, 2), "sha")
    full = [(m, t, date(2020, 6, 1), v, u, "electricity", 15, "utility_drops", 1, *lineage)
            for m, t, v, u in rows]
    return spark.createDataFrame(full, SILVER_METER_READINGS.schema)


def _planned(contract: TableContract, units: list[str]) -> list:
    return [(name, spec.expectation, kwargs, unit)
            for spec, extra, unit in _expanded(contract.expectations, units, QUALITY)
            for name in [spec.expectation]
            for kwargs in [{**spec.kwargs, **{k: v for k, v in extra.items() if k != "unit"}}]]


def test_passing_results_equal_great_expectations(spark: SparkSession) -> None:
    readings_df = _readings(spark, [
        ("m1", T, 0.0, "Wh"), ("m1", datetime(2020, 6, 1, 0, 30), 500.0, "Wh"),
        ("m2", T, 1.0, "Wh"), ("m3", T, 9.5, "kWh"),
    ])
    planned = _planned(SILVER_METER_READINGS, ["Wh", "kWh"])
    planned.sort(key=lambda p: p[3] is not None)
    assert _all_passing(readings_df, planned) == _validate_with_gx(
        readings_df, SILVER_METER_READINGS, planned)


def test_unique_values_pass_like_great_expectations(spark: SparkSession) -> None:
    stats_df = spark.createDataFrame(
        [(T, date(2020, 6, 1), 1, 2, 1.5, None, 3.0, 4.5, "i1", datetime(2020, 6, 2))],
        SILVER_DROPZONE_MEASUREMENTS.schema,
    )
    planned = _planned(SILVER_DROPZONE_MEASUREMENTS, [])
    assert _all_passing(stats_df, planned) == _validate_with_gx(
        stats_df, SILVER_DROPZONE_MEASUREMENTS, planned)


def test_a_failure_is_described_by_great_expectations(spark: SparkSession) -> None:
    readings_df = _readings(spark, [("m1", T, 1.0, "Wh"), ("m1", T, 2.0, "Wh"),
                                    ("m2", T, 900.0, "Wh")])
    results = run_expectations(readings_df, SILVER_METER_READINGS, QUALITY)
    failed = {r.expectation: r.unexpected_count for r in results if not r.success}
    assert failed == {
        "ExpectCompoundColumnsToBeUnique(column_list=['meter_id', 'interval_start'])": 2,
        "ExpectColumnValuesToBeBetween(column=value, min_value=0.0, max_value=500.0, unit=Wh)": 1,
    }
    assert _all_passing(readings_df, _planned(SILVER_METER_READINGS, ["Wh"])) is None
