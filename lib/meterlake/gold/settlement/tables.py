"""The settlement tables: lines and summaries of every run, and the manifest of every report
run."""

from __future__ import annotations

from pyspark.sql.types import (
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.contracts import (
    APPEND_ONLY,
    TableContract,
    struct_field,
)

# Settlement amounts and energy are decimals: sums are exact and independent of partitioning,
# so a reproduced report has the same bytes.
KWH_OUT = DecimalType(24, 6)


MONEY = DecimalType(22, 2)


PRICE = DecimalType(18, 6)


_RUN_FIELDS = (
    struct_field("run_id", StringType(), False),
    struct_field("revision", IntegerType(), False),
    struct_field("partner", StringType(), False),
    struct_field("month", StringType(), False),
)


GOLD_SETTLEMENT_LINES = TableContract(
    layer="gold",
    name="settlement_lines",
    schema=StructType([
        *_RUN_FIELDS,
        struct_field("meter_id", StringType(), False),
        struct_field("line_type", StringType(), False),
        struct_field("line_name", StringType(), False),
        struct_field("intervals_expected", LongType(), False),
        struct_field("intervals_present", LongType(), False),
        struct_field("intervals_estimated", LongType(), False),
        struct_field("kwh_measured", KWH_OUT, False),
        struct_field("kwh_estimated", KWH_OUT, False),
        struct_field("kwh_baseline", KWH_OUT),
        struct_field("kwh_reduction", KWH_OUT),
        struct_field("adjustment_factor", DecimalType(12, 9)),
        struct_field("price", PRICE, False),
        struct_field("currency", StringType(), False),
        struct_field("amount", MONEY, False),
        struct_field("completeness", DecimalType(9, 6), False),
    ]),
    grain="one row per settlement run, meter and line: a time-of-use window (line_type energy) "
          "or a demand-response event (line_type event); every revision is kept",
    keys=("run_id", "meter_id", "line_type", "line_name"),
    ordering=("partner", "meter_id", "line_type", "line_name"),
    partition_by=("month",),
    properties=APPEND_ONLY,
)


GOLD_SETTLEMENT_SUMMARY = TableContract(
    layer="gold",
    name="settlement_summary",
    schema=StructType([
        *_RUN_FIELDS,
        struct_field("currency", StringType(), False),
        struct_field("meters", LongType(), False),
        struct_field("intervals_expected", LongType(), False),
        struct_field("intervals_present", LongType(), False),
        struct_field("intervals_estimated", LongType(), False),
        struct_field("kwh_measured", KWH_OUT, False),
        struct_field("kwh_estimated", KWH_OUT, False),
        struct_field("energy_amount", MONEY, False),
        struct_field("kwh_reduction", KWH_OUT, False),
        struct_field("event_amount", MONEY, False),
        struct_field("total_amount", MONEY, False),
        struct_field("completeness", DecimalType(9, 6)),
    ]),
    grain="one row per settlement run (one partner and month): the totals of its lines",
    keys=("run_id",),
    partition_by=("month",),
    properties=APPEND_ONLY,
)


REPORT_RUNS = TableContract(
    layer="ops",
    name="report_runs",
    schema=StructType([
        *_RUN_FIELDS,
        struct_field("report", StringType(), False),
        struct_field("started_at", TimestampType(), False),
        struct_field("finished_at", TimestampType(), False),
        struct_field("as_known_at", TimestampType()),
        struct_field("inputs", StringType(), False),
        struct_field("parameters", StringType(), False),
        struct_field("book_sha256", StringType(), False),
        struct_field("code_version", StringType(), False),
        struct_field("row_counts", StringType(), False),
        struct_field("outputs", StringType(), False),
        struct_field("export_path", StringType(), False),
    ]),
    grain="one row per report run; written last, so a run exists once it is here. inputs, "
          "parameters, row_counts and outputs are JSON (the manifest's fields)",
    keys=("run_id",),
    properties=APPEND_ONLY,
)
