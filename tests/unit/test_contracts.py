"""Unit tests for the table contracts in meterlake.tables and their use in meterlake.lake."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    ArrayType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from meterlake.catalog import ALL_TABLES
from meterlake.core.config import RetentionSettings
from meterlake.core.contracts import LINEAGE_FIELDS, TableContract
from meterlake.core.lake import ContractViolationError, conform, table_properties
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN
from meterlake.quality.quarantine import QUARANTINE
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from tests.helpers.lakes import local_test_settings as settings_for

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
    # A contract holds its fields bare and their descriptions apart: compare like with like.
    lineage = TableContract(layer="ops", name="lineage", schema=StructType(list(LINEAGE_FIELDS)),
                            grain="the lineage columns")
    fields = {f.name: f for f in contract.schema.fields}
    assert [fields.get(f.name) for f in lineage.schema.fields] == lineage.schema.fields
    assert {name: contract.column_docs[name] for name in lineage.column_names} == \
        lineage.column_docs


def test_silver_and_gold_retention_comes_from_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    for contract in (SILVER_METER_READINGS, GOLD_METER_INTERVALS_15MIN):
        assert table_properties(contract, settings) == {
            "delta.logRetentionDuration": "interval 365 days",
            "delta.deletedFileRetentionDuration": "interval 365 days",
            "delta.enableInCommitTimestamps": "true",
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
        "delta.enableInCommitTimestamps": "true",
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


def test_conform_fits_staged_rows_to_a_real_contract(spark: SparkSession) -> None:
    # Staged rows as a parse step leaves them: another column order, a staging column, a None.
    staged_df = spark.createDataFrame(
        [("bad", "value", None, "sha-a", 2, "a.csv", "i1", PLANNED, "utility_drops", "x"),
         ("worse", "(line)", "0,m1", "sha-b", 3, "b.csv", "i2", PLANNED, "utility_drops", "y")],
        "reason STRING, field STRING, raw_line STRING, _file_sha256 STRING, _source_line INT, "
        "_source_file STRING, _ingest_id STRING, _received_at TIMESTAMP, source STRING, "
        "violations STRING",
    )
    expected_df = spark.createDataFrame([
        ("utility_drops", "i1", "a.csv", 2, PLANNED, "sha-a", None, "value", "bad"),
        ("utility_drops", "i2", "b.csv", 3, PLANNED, "sha-b", "0,m1", "(line)", "worse"),
    ], QUARANTINE.schema)
    actual_df = conform(staged_df, QUARANTINE)
    assert actual_df.columns == ["source", "_ingest_id", "_source_file", "_source_line",
                                 "_received_at", "_file_sha256", "raw_line", "field", "reason"]
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_conform_refuses_a_nested_type_that_differs(spark: SparkSession) -> None:
    # An int array where the contract says bigint: refused, not cast.
    contract = TableContract(
        layer="ops", name="nested",
        schema=StructType([StructField("ids", ArrayType(LongType()), False)]),
        grain="one row per list of ids",
    )
    df = spark.createDataFrame([([1, 2],), (None,)], "ids ARRAY<INT>")
    message = "ops.nested: column 'ids' is array<int>, expected array<bigint>"
    with pytest.raises(ContractViolationError, match=f"^{re.escape(message)}$"):
        conform(df, contract)
