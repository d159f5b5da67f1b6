"""Row rules of temperature records: a record breaking one is quarantined with its field and
raw value; the response's other records load.

A null `temperature` is not a violation: the partner says it has no reading for that point.
Such a record is kept (bronze and silver) and left out of the hourly means.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from meterlake.core.rules import RowRule, quoted

# The widest range a surface air temperature can take (the records are about -89 and +57 °C):
# a value outside it is a unit or sensor error, not weather.
PLAUSIBLE_CELSIUS = (-90.0, 60.0)


def _is_not_a_number(text_column: str, value_column: str) -> Column:
    value = F.col(value_column)
    return F.col(text_column).isNotNull() & (
        value.isNull() | F.isnan(value) | (F.abs(value) == float("inf")))


def _coordinate_rules(name: str, limit: float) -> tuple[RowRule, ...]:
    text = f"{name}_text"
    return (
        RowRule(f"{name}_is_missing", name, lambda: F.col(text).isNull(),
                lambda: F.lit("missing")),
        RowRule(f"{name}_is_not_a_number", name, lambda: _is_not_a_number(text, name),
                lambda: F.concat(F.lit("not a number: "), quoted(text))),
        RowRule(f"{name}_is_out_of_range", name,
                lambda: ~F.col(name).between(-limit, limit),
                lambda: F.concat(F.lit(f"outside [-{limit:g}, {limit:g}]: "), quoted(text))),
    )


TEMPERATURE_RECORD_RULES: tuple[RowRule, ...] = (
    RowRule(
        "record_is_not_an_object",
        "record",
        lambda: ~F.col("raw_line").startswith("{"),
        lambda: F.lit("not a JSON object"),
    ),
    RowRule(
        "id_is_missing",
        "id",
        lambda: F.coalesce(F.trim(F.col("record_id")), F.lit("")) == "",
        lambda: F.lit("missing or empty"),
    ),
    RowRule(
        "timestamp_is_not_a_timestamp",
        "timestamp",
        lambda: F.col("measured_at").isNull(),
        lambda: F.concat(F.lit("not a 'YYYY-MM-DD HH:MM:SS' timestamp: "), quoted("timestamp")),
    ),
    *_coordinate_rules("lat", 90.0),
    *_coordinate_rules("lon", 180.0),
    RowRule(
        "temperature_is_not_a_number",
        "temperature",
        lambda: _is_not_a_number("temperature_text", "temperature"),
        lambda: F.concat(F.lit("not a number: "), quoted("temperature_text")),
    ),
    RowRule(
        "temperature_is_implausible",
        "temperature",
        lambda: ~F.col("temperature").between(*PLAUSIBLE_CELSIUS),
        lambda: F.concat(
            F.lit(f"outside [{PLAUSIBLE_CELSIUS[0]:g}, {PLAUSIBLE_CELSIUS[1]:g}] °C: "),
            quoted("temperature_text")),
    ),
)
