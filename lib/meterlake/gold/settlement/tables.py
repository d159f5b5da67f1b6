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
    struct_field("run_id", StringType(), False, "the settlement run (ops.report_runs)"),
    struct_field("revision", IntegerType(), False,
                 "the run's revision of its partner and month (1, 2, ...)"),
    struct_field("partner", StringType(), False, "the partner of the settlement book"),
    struct_field("month", StringType(), False, "the settled month, YYYY-MM in the partner's time"),
)
# Settlements answer to the people who bill them.
_OWNER = "billing team"


GOLD_SETTLEMENT_LINES = TableContract(
    layer="gold",
    name="settlement_lines",
    schema=StructType([
        *_RUN_FIELDS,
        struct_field("meter_id", StringType(), False, "the meter"),
        struct_field("line_type", StringType(), False,
                     "energy (a time-of-use window) or event (a demand-response event)"),
        struct_field("line_name", StringType(), False, "the window's or the event's name"),
        struct_field("intervals_expected", LongType(), False,
                     "15-minute intervals the line covers while the meter was assigned"),
        struct_field("intervals_present", LongType(), False, "of those, intervals with a reading"),
        struct_field("intervals_estimated", LongType(), False,
                     "missing intervals estimated from the 7 preceding days (energy lines)"),
        struct_field("kwh_measured", KWH_OUT, False, "energy read", "kWh"),
        struct_field("kwh_estimated", KWH_OUT, False, "energy estimated", "kWh"),
        struct_field("kwh_baseline", KWH_OUT, True,
                     "the adjusted 10-in-10 baseline (event lines; null on energy lines)", "kWh"),
        struct_field("kwh_reduction", KWH_OUT, True,
                     "the reduction delivered against the baseline (event lines)", "kWh"),
        struct_field("adjustment_factor", DecimalType(12, 9), True,
                     "the day-of adjustment, 0.8 to 1.2 (event lines)"),
        struct_field("price", PRICE, False, "the price per kWh, in currency"),
        struct_field("currency", StringType(), False, "the partner's currency (ISO 4217)"),
        struct_field("amount", MONEY, False,
                     "price x (measured + estimated kWh), or x the reduction for an event, "
                     "in currency, rounded half up to cents"),
        struct_field("completeness", DecimalType(9, 6), False,
                     "intervals_present / intervals_expected", "fraction"),
    ]),
    grain="one row per settlement run, meter and line: a time-of-use window (line_type energy) "
          "or a demand-response event (line_type event); every revision is kept",
    keys=("run_id", "meter_id", "line_type", "line_name"),
    ordering=("partner", "meter_id", "line_type", "line_name"),
    partition_by=("month",),
    properties=APPEND_ONLY,
    owner=_OWNER,
    fed_by=("silver.meter_readings", "reference:settlement_book"),
)


GOLD_SETTLEMENT_SUMMARY = TableContract(
    layer="gold",
    name="settlement_summary",
    schema=StructType([
        *_RUN_FIELDS,
        struct_field("currency", StringType(), False, "the partner's currency (ISO 4217)"),
        struct_field("meters", LongType(), False, "meters with a line"),
        struct_field("intervals_expected", LongType(), False,
                     "the energy lines' expected intervals"),
        struct_field("intervals_present", LongType(), False,
                     "the energy lines' intervals with a reading"),
        struct_field("intervals_estimated", LongType(), False,
                     "the energy lines' estimated intervals"),
        struct_field("kwh_measured", KWH_OUT, False, "the energy lines' energy read", "kWh"),
        struct_field("kwh_estimated", KWH_OUT, False, "the energy lines' energy estimated",
                     "kWh"),
        struct_field("energy_amount", MONEY, False, "the energy lines' amount, in currency"),
        struct_field("kwh_reduction", KWH_OUT, False, "the event lines' reduction", "kWh"),
        struct_field("event_amount", MONEY, False, "the event lines' amount, in currency"),
        struct_field("total_amount", MONEY, False,
                     "energy_amount + event_amount, in currency"),
        struct_field("completeness", DecimalType(9, 6), True,
                     "intervals_present / intervals_expected; null when nothing was expected",
                     "fraction"),
    ]),
    grain="one row per settlement run (one partner and month): the totals of its lines",
    keys=("run_id",),
    partition_by=("month",),
    properties=APPEND_ONLY,
    owner=_OWNER,
    fed_by=("gold.settlement_lines",),
)


REPORT_RUNS = TableContract(
    layer="ops",
    name="report_runs",
    schema=StructType([
        *_RUN_FIELDS,
        struct_field("report", StringType(), False, "the kind of report: settlement"),
        struct_field("started_at", TimestampType(), False, "when the run started (UTC)"),
        struct_field("finished_at", TimestampType(), False,
                     "when its exports and gold rows were written (UTC)"),
        struct_field("as_known_at", TimestampType(), True,
                     "when the newest bronze version its silver reflects was committed (UTC): "
                     "what the lake knew; null before any snapshot"),
        struct_field("inputs", StringType(), False,
                     "JSON: the silver version read, its commit, and per meter source the bronze "
                     "version it reflects"),
        struct_field("parameters", StringType(), False,
                     "JSON: month, partner and the partner's part of the book"),
        struct_field("book_sha256", StringType(), False, "SHA-256 of that part of the book"),
        struct_field("code_version", StringType(), False,
                     "meterlake's version (and git commit, from a checkout)"),
        struct_field("row_counts", StringType(), False, "JSON: rows per output"),
        struct_field("outputs", StringType(), False,
                     "JSON: per export file, its SHA-256, size and the SHA-256 of its "
                     "rows"),
        struct_field("export_path", StringType(), False, "the directory of the exports"),
    ]),
    grain="one row per report run; written last, so a run exists once it is here. inputs, "
          "parameters, row_counts and outputs are JSON (the manifest's fields)",
    keys=("run_id",),
    properties=APPEND_ONLY,
    owner=_OWNER,
    fed_by=("gold.settlement_lines", "gold.settlement_summary", "silver.meter_readings",
            "ops.snapshot_progress", "reference:settlement_book"),
)
