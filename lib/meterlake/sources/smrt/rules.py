"""Row rules of SMRT records: a file with any violation is rejected whole."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from meterlake.core.rules import RowRule, quoted


def _record(kind: str, check: Column) -> Column:
    return (F.col("record_type") == kind) & check


def _not_matching(column: str, pattern: str) -> Column:
    return ~F.coalesce(F.col(column), F.lit("")).rlike(pattern)


def _field_count_rule(kind: str, expected: int) -> RowRule:
    return RowRule(
        f"{kind.lower()}_has_wrong_field_count",
        "(record)",
        lambda: _record(kind, F.col("field_count") != expected),
        lambda: F.format_string(f"{kind} has %d fields, expected {expected}", F.col("field_count")),
    )


# SMRT staging columns: `record_type`, `field_count`, the raw fields named in
# `parse.HEADER_FIELDS` and `parse.CONSU_FIELDS`, and the parsed `file_created_at`,
# `interval_start`, `consumption`. A file with any violation is rejected whole.
SMRT_LINE_RULES: tuple[RowRule, ...] = (
    RowRule(
        "record_type_is_unknown",
        "record type",
        lambda: ~F.coalesce(F.col("record_type"), F.lit("")).isin("HEADR", "CONSU", "TRAIL"),
        lambda: F.concat(F.lit("unknown "), quoted("record_type")),
    ),
    _field_count_rule("HEADR", 6),
    _field_count_rule("CONSU", 5),
    _field_count_rule("TRAIL", 1),
    RowRule(
        "file_type_is_not_smrt",
        "file type",
        lambda: _record("HEADR", F.coalesce(F.col("file_type"), F.lit("")) != "SMRT"),
        lambda: F.concat(quoted("file_type"), F.lit(", expected 'SMRT'")),
    ),
    RowRule(
        "company_id_is_empty",
        "company id",
        lambda: _record("HEADR", F.coalesce(F.trim(F.col("company_id")), F.lit("")) == ""),
        lambda: F.lit("empty"),
    ),
    RowRule(
        "creation_time_is_malformed",
        "creation date and time",
        lambda: _record("HEADR", F.col("file_created_at").isNull()),
        lambda: F.concat(F.lit("not YYYYMMDD and HHMMSS: "), quoted("created_date"), F.lit(" "),
                         quoted("created_time")),
    ),
    RowRule(
        "generation_number_is_malformed",
        "generation number",
        lambda: _record("HEADR", _not_matching("generation", r"^(PN|DV)[0-9]{6}$")),
        lambda: F.concat(quoted("generation"), F.lit(" does not match (PN|DV)[0-9]{6}")),
    ),
    RowRule(
        "meter_number_is_not_digits",
        "meter number",
        lambda: _record("CONSU", _not_matching("meter_number", r"^[0-9]+$")),
        lambda: F.concat(F.lit("not a string of digits: "), quoted("meter_number")),
    ),
    RowRule(
        "measurement_date_is_malformed",
        "measurement date",
        lambda: _record("CONSU", _not_matching("measurement_date", r"^[0-9]{8}$")
                        | F.try_to_timestamp(F.col("measurement_date"),
                                             F.lit("yyyyMMdd")).isNull()),
        lambda: F.concat(F.lit("not a YYYYMMDD date: "), quoted("measurement_date")),
    ),
    RowRule(
        "time_is_not_an_hour_start",
        "time",
        lambda: _record("CONSU", _not_matching("measurement_time", r"^([01][0-9]|2[0-3])00$")),
        lambda: F.concat(F.lit("not HHMM at the start of an hour: "), quoted("measurement_time")),
    ),
    RowRule(
        "consumption_is_not_a_number",
        "consumption",
        lambda: _record("CONSU", F.col("consumption").isNull() | F.isnan("consumption")
                        | (F.abs(F.col("consumption")) == float("inf"))),
        lambda: F.concat(F.lit("not a number: "), quoted("consumption_raw")),
    ),
    RowRule(
        "consumption_is_negative",
        "consumption",
        lambda: _record("CONSU", F.col("consumption") < 0),
        lambda: F.concat(F.lit("negative: "), quoted("consumption_raw")),
    ),
)
