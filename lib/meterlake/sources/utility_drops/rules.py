"""Row rules of utility drop lines: a line breaking one is quarantined."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from meterlake.core.rules import RowRule, quoted


def _with_four_fields(check: Column) -> Column:
    """Field rules speak only of lines with the right shape; the field-count rule covers the
    others, whose fields cannot be trusted to be where they belong."""
    return (F.col("field_count") == 4) & check


# Staging columns: the raw text fields of a line (`*_raw`), their count, and their parsed values.
UTILITY_DROP_ROW_RULES: tuple[RowRule, ...] = (
    RowRule(
        "line_has_wrong_field_count",
        "(line)",
        lambda: F.col("field_count") != 4,
        lambda: F.format_string("expected 4 fields, found %d", F.col("field_count")),
    ),
    RowRule(
        "meter_id_is_empty",
        "meter_id",
        lambda: _with_four_fields(F.coalesce(F.trim(F.col("meter_id_raw")), F.lit("")) == ""),
        lambda: F.lit("meter_id is empty"),
    ),
    RowRule(
        "interval_is_not_an_instant",
        "interval_date_time",
        lambda: _with_four_fields(F.col("interval_start").isNull()),
        lambda: F.concat(
            F.lit("not an ISO 8601 timestamp with a UTC offset: "), quoted("interval_raw")
        ),
    ),
    RowRule(
        "interval_is_off_the_quarter_hour",
        "interval_date_time",
        lambda: _with_four_fields(
            F.unix_micros(F.col("interval_start")) % (15 * 60 * 1_000_000) != 0
        ),
        lambda: F.concat(F.lit("not on a 15-minute boundary: "), quoted("interval_raw")),
    ),
    RowRule(
        "energy_wh_is_not_a_number",
        "energy_wh",
        lambda: _with_four_fields(F.col("energy_wh").isNull()),
        lambda: F.concat(F.lit("not a number: "), quoted("energy_raw")),
    ),
    RowRule(
        "energy_wh_is_not_finite",
        "energy_wh",
        lambda: _with_four_fields(
            F.isnan(F.col("energy_wh")) | (F.abs(F.col("energy_wh")) == float("inf"))
        ),
        lambda: F.concat(F.lit("not a finite number: "), quoted("energy_raw")),
    ),
    RowRule(
        "energy_wh_is_negative",
        "energy_wh",
        lambda: _with_four_fields(F.col("energy_wh") < 0),
        lambda: F.concat(F.lit("negative energy: "), quoted("energy_raw")),
    ),
)
