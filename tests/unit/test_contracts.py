"""Unit tests for the table contracts in meterlake.tables and their use in meterlake.lake."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from meterlake.config import RetentionSettings
from meterlake.lake import ContractViolationError, conform, table_properties
from meterlake.tables import (
    ALL_TABLES,
    BRONZE_UTILITY_DROPS,
    GOLD_METER_INTERVALS_15MIN,
    LINEAGE_FIELDS,
    QUARANTINE,
    SILVER_METER_READINGS,
    TableContract,
)
from tests.conftest import test_settings as settings_for

PLANNED = datetime(2020, 6, 1, 0, 15)
EXAMPLE = TableContract(
    layer="ops",
    name="example",
    schema=StructType([
        StructField("batch", LongType(), False),
        StructField("source", StringType(), False),
        StructField("planned_at", TimestampType()),
    ]),
    grain="one row per example",
)


@pytest.mark.parametrize("contract", ALL_TABLES, ids=lambda c: c.qualified_name)
def test_declared_columns_exist_in_the_schema(contract: TableContract) -> None:
    declared = (*contract.keys, *contract.ordering, *contract.partition_by, *contract.cluster_by)
    assert [c for c in declared if c not in contract.column_names] == []


@pytest.mark.parametrize("contract", ALL_TABLES, ids=lambda c: c.qualified_name)
def test_keys_are_not_nullable_and_names_are_unique(contract: TableContract) -> None:
    nullable = {f.name for f in contract.schema.fields if f.nullable}
    assert nullable.isdisjoint(contract.keys)
    assert len(set(contract.column_names)) == len(contract.column_names)


@pytest.mark.parametrize(
    "contract", [BRONZE_UTILITY_DROPS, QUARANTINE, SILVER_METER_READINGS],
    ids=lambda c: c.qualified_name,
)
def test_bronze_and_silver_carry_every_lineage_column(contract: TableContract) -> None:
    fields = {f.name: f for f in contract.schema.fields}
    assert [fields.get(f.name) for f in LINEAGE_FIELDS] == list(LINEAGE_FIELDS)


def test_silver_and_gold_retention_comes_from_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    for contract in (SILVER_METER_READINGS, GOLD_METER_INTERVALS_15MIN):
        assert table_properties(contract, settings) == {
            "delta.logRetentionDuration": "interval 365 days",
            "delta.deletedFileRetentionDuration": "interval 365 days",
        }
    shorter = replace(settings, retention=RetentionSettings(time_travel_days=30))
    assert table_properties(SILVER_METER_READINGS, shorter)["delta.logRetentionDuration"] == (
        "interval 30 days"
    )


def test_bronze_is_append_only_and_kept_forever(tmp_path: Path) -> None:
    settings = replace(settings_for(tmp_path), retention=RetentionSettings(time_travel_days=7))
    assert table_properties(BRONZE_UTILITY_DROPS, settings) == {
        "delta.logRetentionDuration": "interval 36500 days",
        "delta.deletedFileRetentionDuration": "interval 36500 days",
        "delta.appendOnly": "true",
        "delta.enableChangeDataFeed": "true",
    }
    assert table_properties(QUARANTINE, settings)["delta.appendOnly"] == "true"


def test_conform_reorders_to_contract_and_drops_extra_columns(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(PLANNED, "utility_drops", 2, "x"), (None, "", 1, None)],
        "planned_at TIMESTAMP, source STRING, batch BIGINT, note STRING",
    )
    expected_df = spark.createDataFrame(
        [(2, "utility_drops", PLANNED), (1, "", None)], "batch BIGINT, source STRING, "
        "planned_at TIMESTAMP",
    )
    actual_df = conform(df, EXAMPLE)
    assert actual_df.columns == ["batch", "source", "planned_at"]
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_conform_names_missing_and_mistyped_columns(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, "utility_drops")], "batch INT, source STRING")
    message = "ops.example: column 'batch' is int, expected bigint; missing column 'planned_at'"
    with pytest.raises(ContractViolationError, match=f"^{re.escape(message)}$"):
        conform(df, EXAMPLE)


def test_conform_accepts_the_real_contract_schema(spark: SparkSession) -> None:
    rows = [("utility_drops", "a", "a.csv", 2, PLANNED, "sha-a", None, "(line)", "bad")]
    df = spark.createDataFrame(rows, QUARANTINE.schema)
    assert conform(df, QUARANTINE).collect() == df.collect()
