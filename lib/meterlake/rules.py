"""Row rules: which staging rows a source quarantines (or, for file flows, rejects), and why.

Each rule is declared once, as Spark column expressions, and attached to its bronze contract in
`meterlake.tables`; `meterlake.quality` applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F


@dataclass(frozen=True)
class RowRule:
    """A row-level check on a source's parsed staging rows: a row failing it is quarantined.

    `is_violated` and `message` build Spark columns lazily (a Column needs a running session).
    """

    field: str
    is_violated: Callable[[], Column]
    message: Callable[[], Column]


def quoted(column: str) -> Column:
    """The raw value of `column` in quotes for a message, `(empty)` when there is none."""
    return F.coalesce(F.concat(F.lit("'"), F.col(column), F.lit("'")), F.lit("(empty)"))


def _with_four_fields(check: Column) -> Column:
    """Field rules speak only of lines with the right shape; the field-count rule covers the
    others, whose fields cannot be trusted to be where they belong."""
    return (F.col("field_count") == 4) & check


# Staging columns: the raw text fields of a line (`*_raw`), their count, and their parsed values.
UTILITY_DROP_ROW_RULES: tuple[RowRule, ...] = (
    RowRule(
        "(line)",
        lambda: F.col("field_count") != 4,
        lambda: F.format_string("expected 4 fields, found %d", F.col("field_count")),
    ),
    RowRule(
        "meter_id",
        lambda: _with_four_fields(F.coalesce(F.trim(F.col("meter_id_raw")), F.lit("")) == ""),
        lambda: F.lit("meter_id is empty"),
    ),
    RowRule(
        "interval_date_time",
        lambda: _with_four_fields(F.col("interval_start").isNull()),
        lambda: F.concat(
            F.lit("not an ISO 8601 timestamp with a UTC offset: "), quoted("interval_raw")
        ),
    ),
    RowRule(
        "interval_date_time",
        lambda: _with_four_fields(
            F.unix_micros(F.col("interval_start")) % (15 * 60 * 1_000_000) != 0
        ),
        lambda: F.concat(F.lit("not on a 15-minute boundary: "), quoted("interval_raw")),
    ),
    RowRule(
        "energy_wh",
        lambda: _with_four_fields(F.col("energy_wh").isNull()),
        lambda: F.concat(F.lit("not a number: "), quoted("energy_raw")),
    ),
    RowRule(
        "energy_wh",
        lambda: _with_four_fields(
            F.isnan(F.col("energy_wh")) | (F.abs(F.col("energy_wh")) == float("inf"))
        ),
        lambda: F.concat(F.lit("not a finite number: "), quoted("energy_raw")),
    ),
    RowRule(
        "energy_wh",
        lambda: _with_four_fields(F.col("energy_wh") < 0),
        lambda: F.concat(F.lit("negative energy: "), quoted("energy_raw")),
    ),
)

def _record(kind: str, check: Column) -> Column:
    return (F.col("record_type") == kind) & check


def _not_matching(column: str, pattern: str) -> Column:
    return ~F.coalesce(F.col(column), F.lit("")).rlike(pattern)


def _field_count_rule(kind: str, expected: int) -> RowRule:
    return RowRule(
        "(record)",
        lambda: _record(kind, F.col("field_count") != expected),
        lambda: F.format_string(f"{kind} has %d fields, expected {expected}", F.col("field_count")),
    )


# SMRT staging columns: `record_type`, `field_count`, the raw fields `f1`..`f5`, and the parsed
# `file_created_at`, `interval_start`, `consumption`. A file with any violation is rejected whole.
SMRT_LINE_RULES: tuple[RowRule, ...] = (
    RowRule(
        "record type",
        lambda: ~F.coalesce(F.col("record_type"), F.lit("")).isin("HEADR", "CONSU", "TRAIL"),
        lambda: F.concat(F.lit("unknown "), quoted("record_type")),
    ),
    _field_count_rule("HEADR", 6),
    _field_count_rule("CONSU", 5),
    _field_count_rule("TRAIL", 1),
    RowRule(
        "file type",
        lambda: _record("HEADR", F.coalesce(F.col("f1"), F.lit("")) != "SMRT"),
        lambda: F.concat(quoted("f1"), F.lit(", expected 'SMRT'")),
    ),
    RowRule(
        "company id",
        lambda: _record("HEADR", F.coalesce(F.trim(F.col("f2")), F.lit("")) == ""),
        lambda: F.lit("empty"),
    ),
    RowRule(
        "creation date and time",
        lambda: _record("HEADR", F.col("file_created_at").isNull()),
        lambda: F.concat(F.lit("not YYYYMMDD and HHMMSS: "), quoted("f3"), F.lit(" "),
                         quoted("f4")),
    ),
    RowRule(
        "generation number",
        lambda: _record("HEADR", _not_matching("f5", r"^(PN|DV)[0-9]{6}$")),
        lambda: F.concat(quoted("f5"), F.lit(" does not match (PN|DV)[0-9]{6}")),
    ),
    RowRule(
        "meter number",
        lambda: _record("CONSU", _not_matching("f1", r"^[0-9]+$")),
        lambda: F.concat(F.lit("not a string of digits: "), quoted("f1")),
    ),
    RowRule(
        "measurement date",
        lambda: _record("CONSU", _not_matching("f2", r"^[0-9]{8}$")
                        | F.try_to_timestamp(F.col("f2"), F.lit("yyyyMMdd")).isNull()),
        lambda: F.concat(F.lit("not a YYYYMMDD date: "), quoted("f2")),
    ),
    RowRule(
        "time",
        lambda: _record("CONSU", _not_matching("f3", r"^([01][0-9]|2[0-3])00$")),
        lambda: F.concat(F.lit("not HHMM at the start of an hour: "), quoted("f3")),
    ),
    RowRule(
        "consumption",
        lambda: _record("CONSU", F.col("consumption").isNull() | F.isnan("consumption")
                        | (F.abs(F.col("consumption")) == float("inf"))),
        lambda: F.concat(F.lit("not a number: "), quoted("f4")),
    ),
    RowRule(
        "consumption",
        lambda: _record("CONSU", F.col("consumption") < 0),
        lambda: F.concat(F.lit("negative: "), quoted("f4")),
    ),
)

DROPZONE_PAYLOAD_RULES: tuple[RowRule, ...] = (
    RowRule(
        "time_stamp",
        lambda: F.col("time_stamp_utc").isNull(),
        lambda: F.concat(F.lit("not an ISO 8601 timestamp with a UTC offset: "),
                         quoted("time_stamp")),
    ),
    RowRule(
        "data",
        lambda: F.coalesce(F.size("data"), F.lit(0)) <= 0,
        lambda: F.lit("missing or empty"),
    ),
    RowRule(
        "data",
        lambda: F.exists("values", lambda v: v.isNull()),
        lambda: F.format_string("not a number at position %d",
                                F.array_position(F.transform("values", lambda v: v.isNull()),
                                                 F.lit(True))),
    ),
    RowRule(
        "data",
        lambda: F.exists("values", lambda v: F.isnan(v) | (F.abs(v) == float("inf"))),
        lambda: F.lit("NaN or infinite value"),
    ),
)
