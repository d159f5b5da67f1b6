"""Row rules of dropzone payloads: a payload breaking one is quarantined."""

from __future__ import annotations

from pyspark.sql import functions as F

from meterlake.core.rules import RowRule, quoted

DROPZONE_PAYLOAD_RULES: tuple[RowRule, ...] = (
    RowRule(
        "time_stamp_is_not_an_instant",
        "time_stamp",
        lambda: F.col("time_stamp_utc").isNull(),
        lambda: F.concat(F.lit("not an ISO 8601 timestamp with a UTC offset: "),
                         quoted("time_stamp")),
    ),
    RowRule(
        "data_is_empty",
        "data",
        lambda: F.coalesce(F.size("data"), F.lit(0)) <= 0,
        lambda: F.lit("missing or empty"),
    ),
    RowRule(
        "data_has_a_non_number",
        "data",
        lambda: F.exists("values", lambda v: v.isNull()),
        lambda: F.format_string("not a number at position %d",
                                F.array_position(F.transform("values", lambda v: v.isNull()),
                                                 F.lit(True))),
    ),
    RowRule(
        "data_has_a_non_finite_value",
        "data",
        lambda: F.exists("values", lambda v: F.isnan(v) | (F.abs(v) == float("inf"))),
        lambda: F.lit("NaN or infinite value"),
    ),
)
