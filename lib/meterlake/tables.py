"""Table contracts, declared once: name, schema, grain, keys, ordering, layout and properties.

Readers and writers go through `meterlake.lake`, which checks a DataFrame against its contract
before any write. Tables live at `<lake>/<layer>/<name>` and are registered as `<layer>.<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from meterlake.rules import (
    DROPZONE_PAYLOAD_RULES,
    SMRT_LINE_RULES,
    UTILITY_DROP_ROW_RULES,
    RowRule,
)


class Retention(Enum):
    """How long a table keeps Delta time travel."""

    # Bronze, quarantine and ops logs: the audit trail itself; never vacuumed.
    FOREVER = "forever"
    # Silver and gold: `retention.time_travel_days` from the configuration.
    CONFIGURED = "configured"


@dataclass(frozen=True)
class ExpectationSpec:
    """A table-level expectation, run with great-expectations after the table is written.

    `expectation` names a class of `great_expectations.expectations`. With `max_per_unit`, one
    range check runs per unit, its upper bound from `quality.max_value_per_unit`.
    """

    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_per_unit: bool = False


@dataclass(frozen=True)
class TableContract:
    layer: str
    name: str
    schema: StructType
    grain: str
    keys: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    retention: Retention = Retention.FOREVER
    properties: dict[str, str] = field(default_factory=dict)
    row_rules: tuple[RowRule, ...] = ()
    expectations: tuple[ExpectationSpec, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, lake_root: str) -> str:
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.schema.fields]


def _field(name: str, kind: DataType, nullable: bool = True) -> StructField:
    return StructField(name, kind, nullable)


LINEAGE_FIELDS: tuple[StructField, ...] = (
    _field("_ingest_id", StringType(), False),
    _field("_source_file", StringType(), False),
    _field("_source_line", IntegerType(), False),
    _field("_received_at", TimestampType(), False),
    _field("_file_sha256", StringType(), False),
)
LINEAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in LINEAGE_FIELDS)

# Arrival order: the time the file was received, then the line inside it; the ingest id only
# breaks ties between two files received in the same microsecond.
ARRIVAL_ORDER: tuple[str, ...] = ("_received_at", "_source_line", "_ingest_id")

_APPEND_ONLY = {"delta.appendOnly": "true"}


def interval_date_of(interval_start: Column) -> Column:
    """The UTC date partition of an interval: the one derivation every writer and MERGE uses.

    Sessions run with spark.sql.session.timeZone=UTC (meterlake.spark), so to_date is UTC.
    """
    return F.to_date(interval_start)


BRONZE_UTILITY_DROPS = TableContract(
    layer="bronze",
    name="utility_drops",
    schema=StructType([
        _field("meter_id", StringType(), False),
        _field("interval_start", TimestampType(), False),
        _field("interval_date", DateType(), False),
        _field("energy_wh", DoubleType(), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid line of every utility drop file ever received (every version)",
    keys=("meter_id", "interval_start"),
    ordering=ARRIVAL_ORDER,
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    # The change feed lets `snapshot` read only the rows appended since its last run.
    properties={**_APPEND_ONLY, "delta.enableChangeDataFeed": "true"},
    row_rules=UTILITY_DROP_ROW_RULES,
)

BRONZE_SMRT = TableContract(
    layer="bronze",
    name="smrt",
    schema=StructType([
        _field("meter_id", StringType(), False),
        _field("interval_start", TimestampType(), False),
        _field("interval_date", DateType(), False),
        _field("consumption", DoubleType(), False),
        _field("company_id", StringType(), False),
        _field("file_created_at", TimestampType(), False),
        _field("generation", StringType(), False),
        _field("generation_number", LongType(), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per CONSU record of every SMRT file ever loaded (every version)",
    keys=("meter_id", "interval_start"),
    # Newer means generated later: the header's creation time, then the generation number, so
    # files arriving out of order still end with the latest generated value.
    ordering=("file_created_at", "generation_number", "_received_at", "_source_line",
              "_ingest_id"),
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    properties={**_APPEND_ONLY, "delta.enableChangeDataFeed": "true"},
    row_rules=SMRT_LINE_RULES,
)

BRONZE_DROPZONE = TableContract(
    layer="bronze",
    name="dropzone",
    schema=StructType([
        _field("time_stamp", StringType(), False),
        _field("time_stamp_utc", TimestampType(), False),
        _field("stamp_date", DateType(), False),
        _field("value_count", LongType(), False),
        _field("sum", DoubleType(), False),
        _field("sum_squares", DoubleType(), False),
        _field("mean", DoubleType(), False),
        _field("std", DoubleType()),
        _field("values", ArrayType(DoubleType()), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid payload of every landed dropzone request (every version); "
          "_source_line is the payload's position in its request (1 for a single object)",
    keys=("time_stamp_utc",),
    ordering=ARRIVAL_ORDER,
    partition_by=("stamp_date",),
    properties={**_APPEND_ONLY, "delta.enableChangeDataFeed": "true"},
    row_rules=DROPZONE_PAYLOAD_RULES,
)

SILVER_DROPZONE_MEASUREMENTS = TableContract(
    layer="silver",
    name="dropzone_measurements",
    schema=StructType([
        _field("time_stamp_utc", TimestampType(), False),
        _field("stamp_date", DateType(), False),
        _field("payload_count", LongType(), False),
        _field("value_count", LongType(), False),
        _field("mean", DoubleType(), False),
        _field("std", DoubleType()),
        _field("sum", DoubleType(), False),
        _field("sum_squares", DoubleType(), False),
        _field("_ingest_id", StringType(), False),
        _field("_received_at", TimestampType(), False),
    ]),
    grain="one row per UTC timestamp: the latest payload's statistics, or all payloads pooled "
          "(dropzone.statistics in the configuration); lineage names the latest payload",
    keys=("time_stamp_utc",),
    partition_by=("stamp_date",),
    retention=Retention.CONFIGURED,
    expectations=(
        ExpectationSpec("ExpectColumnValuesToBeUnique", {"column": "time_stamp_utc"}),
        *(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": column})
          for column in ("time_stamp_utc", "mean", "value_count", "_ingest_id")),
    ),
)

GOLD_DROPZONE_DAILY = TableContract(
    layer="gold",
    name="dropzone_daily",
    schema=StructType([
        _field("stamp_date", DateType(), False),
        _field("timestamps", LongType(), False),
        _field("value_count", LongType(), False),
        _field("mean", DoubleType(), False),
        _field("std", DoubleType()),
        _field("min_mean", DoubleType(), False),
        _field("max_mean", DoubleType(), False),
    ]),
    grain="one row per UTC day: every value of every timestamp's statistics pooled exactly",
    keys=("stamp_date",),
    retention=Retention.CONFIGURED,
)

QUARANTINE = TableContract(
    layer="bronze",
    name="quarantine",
    schema=StructType([
        _field("source", StringType(), False),
        *LINEAGE_FIELDS,
        _field("raw_line", StringType()),
        _field("field", StringType(), False),
        _field("reason", StringType(), False),
    ]),
    grain="one row per rejected line of a loaded file, with the raw text and why",
    partition_by=("source",),
    properties=_APPEND_ONLY,
)

SILVER_METER_READINGS = TableContract(
    layer="silver",
    name="meter_readings",
    schema=StructType([
        _field("meter_id", StringType(), False),
        _field("interval_start", TimestampType(), False),
        _field("interval_date", DateType(), False),
        _field("value", DoubleType(), False),
        _field("unit", StringType(), False),
        _field("commodity", StringType(), False),
        _field("interval_minutes", IntegerType(), False),
        _field("source", StringType(), False),
        _field("version_count", LongType(), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per (meter_id, interval_start): the latest-arrived version",
    keys=("meter_id", "interval_start"),
    ordering=ARRIVAL_ORDER,
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    retention=Retention.CONFIGURED,
    expectations=(
        ExpectationSpec(
            "ExpectCompoundColumnsToBeUnique", {"column_list": ["meter_id", "interval_start"]}
        ),
        *(
            ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": column})
            for column in ("meter_id", "interval_start", "value", "unit", "source", "_ingest_id")
        ),
        ExpectationSpec("ExpectColumnValuesToBeBetween", {"column": "value"}, max_per_unit=True),
    ),
)

GOLD_METER_INTERVALS_15MIN = TableContract(
    layer="gold",
    name="meter_intervals_15min",
    schema=StructType([
        _field("meter_id", StringType(), False),
        _field("interval_start", TimestampType(), False),
        _field("interval_date", DateType(), False),
        _field("energy_wh", DoubleType()),
        _field("is_missing", BooleanType(), False),
        _field("hour_start", TimestampType(), False),
        _field("hour_mean_energy_wh", DoubleType()),
    ]),
    grain="one row per meter and 15-minute interval between its first and last reading",
    keys=("meter_id", "interval_start"),
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    retention=Retention.CONFIGURED,
)

INGEST_LOG = TableContract(
    layer="ops",
    name="ingest_log",
    schema=StructType([
        _field("batch", LongType(), False),
        _field("ingest_id", StringType(), False),
        _field("source", StringType(), False),
        _field("original_name", StringType(), False),
        _field("landing_path", StringType(), False),
        _field("received_at", TimestampType(), False),
        _field("sha256", StringType(), False),
        _field("byte_size", LongType(), False),
        _field("sender", StringType()),
        _field("outcome", StringType(), False),
        _field("reason", StringType()),
        _field("rows_loaded", LongType(), False),
        _field("rows_quarantined", LongType(), False),
        _field("duplicate_of", StringType()),
        _field("logged_at", TimestampType(), False),
    ]),
    grain="one row per received file: loaded, rejected or duplicate",
    keys=("ingest_id",),
    properties=_APPEND_ONLY,
)

INGEST_BATCHES = TableContract(
    layer="ops",
    name="ingest_batches",
    schema=StructType([
        _field("batch", LongType(), False),
        _field("source", StringType(), False),
        _field("ingest_ids", ArrayType(StringType(), False), False),
        _field("planned_at", TimestampType(), False),
    ]),
    grain="one row per planned ingest batch; a batch without ingest_log rows is resumed",
    keys=("source", "batch"),
    properties=_APPEND_ONLY,
)

SNAPSHOT_PROGRESS = TableContract(
    layer="ops",
    name="snapshot_progress",
    schema=StructType([
        _field("source", StringType(), False),
        _field("bronze_version", LongType(), False),
        _field("silver_version", LongType()),
        _field("rows_read", LongType(), False),
        _field("rows_inserted", LongType(), False),
        _field("rows_updated", LongType(), False),
        _field("finished_at", TimestampType(), False),
    ]),
    grain="one row per snapshot run that merged something: the bronze version it reached",
    keys=("source", "bronze_version"),
    properties=_APPEND_ONLY,
)

DQ_RESULTS = TableContract(
    layer="ops",
    name="dq_results",
    schema=StructType([
        _field("checked_at", TimestampType(), False),
        _field("table_name", StringType(), False),
        _field("table_version", LongType(), False),
        _field("scope", StringType(), False),
        _field("expectation", StringType(), False),
        _field("success", BooleanType(), False),
        _field("element_count", LongType()),
        _field("unexpected_count", LongType()),
        _field("details", StringType()),
    ]),
    grain="one row per expectation evaluated on one table version",
    properties=_APPEND_ONLY,
)

# Settlement amounts and energy are decimals: sums are exact and independent of partitioning,
# so a reproduced report has the same bytes.
KWH_OUT = DecimalType(24, 6)
MONEY = DecimalType(22, 2)
PRICE = DecimalType(18, 6)
_RUN_FIELDS = (
    _field("run_id", StringType(), False),
    _field("revision", IntegerType(), False),
    _field("partner", StringType(), False),
    _field("month", StringType(), False),
)

GOLD_SETTLEMENT_LINES = TableContract(
    layer="gold",
    name="settlement_lines",
    schema=StructType([
        *_RUN_FIELDS,
        _field("meter_id", StringType(), False),
        _field("line_type", StringType(), False),
        _field("line_name", StringType(), False),
        _field("intervals_expected", LongType(), False),
        _field("intervals_present", LongType(), False),
        _field("intervals_estimated", LongType(), False),
        _field("kwh_measured", KWH_OUT, False),
        _field("kwh_estimated", KWH_OUT, False),
        _field("kwh_baseline", KWH_OUT),
        _field("kwh_reduction", KWH_OUT),
        _field("adjustment_factor", DecimalType(12, 9)),
        _field("price", PRICE, False),
        _field("currency", StringType(), False),
        _field("amount", MONEY, False),
        _field("completeness", DecimalType(9, 6), False),
    ]),
    grain="one row per settlement run, meter and line: a time-of-use window (line_type energy) "
          "or a demand-response event (line_type event); every revision is kept",
    keys=("run_id", "meter_id", "line_type", "line_name"),
    ordering=("partner", "meter_id", "line_type", "line_name"),
    partition_by=("month",),
    properties=_APPEND_ONLY,
)

GOLD_SETTLEMENT_SUMMARY = TableContract(
    layer="gold",
    name="settlement_summary",
    schema=StructType([
        *_RUN_FIELDS,
        _field("currency", StringType(), False),
        _field("meters", LongType(), False),
        _field("intervals_expected", LongType(), False),
        _field("intervals_present", LongType(), False),
        _field("intervals_estimated", LongType(), False),
        _field("kwh_measured", KWH_OUT, False),
        _field("kwh_estimated", KWH_OUT, False),
        _field("energy_amount", MONEY, False),
        _field("kwh_reduction", KWH_OUT, False),
        _field("event_amount", MONEY, False),
        _field("total_amount", MONEY, False),
        _field("completeness", DecimalType(9, 6)),
    ]),
    grain="one row per settlement run (one partner and month): the totals of its lines",
    keys=("run_id",),
    partition_by=("month",),
    properties=_APPEND_ONLY,
)

REPORT_RUNS = TableContract(
    layer="ops",
    name="report_runs",
    schema=StructType([
        *_RUN_FIELDS,
        _field("report", StringType(), False),
        _field("started_at", TimestampType(), False),
        _field("finished_at", TimestampType(), False),
        _field("as_known_at", TimestampType()),
        _field("inputs", StringType(), False),
        _field("parameters", StringType(), False),
        _field("book_sha256", StringType(), False),
        _field("code_version", StringType(), False),
        _field("row_counts", StringType(), False),
        _field("outputs", StringType(), False),
        _field("export_path", StringType(), False),
    ]),
    grain="one row per report run; written last, so a run exists once it is here. inputs, "
          "parameters, row_counts and outputs are JSON (the manifest's fields)",
    keys=("run_id",),
    properties=_APPEND_ONLY,
)

ALL_TABLES: tuple[TableContract, ...] = (
    BRONZE_UTILITY_DROPS,
    BRONZE_SMRT,
    BRONZE_DROPZONE,
    SILVER_DROPZONE_MEASUREMENTS,
    GOLD_DROPZONE_DAILY,
    QUARANTINE,
    SILVER_METER_READINGS,
    GOLD_METER_INTERVALS_15MIN,
    INGEST_LOG,
    INGEST_BATCHES,
    SNAPSHOT_PROGRESS,
    DQ_RESULTS,
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    REPORT_RUNS,
)
