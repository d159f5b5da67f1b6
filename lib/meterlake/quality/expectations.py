"""Table expectations: run with great-expectations after a write; one that fails stops the
publication, and every result is kept in `ops.dq_results`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructType, TimestampType

from meterlake.core.config import QualitySettings
from meterlake.core.contracts import APPEND_ONLY, ExpectationSpec, TableContract, struct_field
from meterlake.core.instants import utc_now_ms

# great-expectations must not try to phone home: this platform runs without internet.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


class ExpectationFailedError(RuntimeError):
    """A table-level expectation failed; the write it guarded was not published."""


@dataclass(frozen=True)
class ExpectationResult:
    expectation: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    details: str


def _describe(spec: ExpectationSpec, extra: dict[str, Any]) -> str:
    arguments = ", ".join(f"{k}={v}" for k, v in {**spec.kwargs, **extra}.items())
    return f"{spec.expectation}({arguments})"


def _expanded(
    specs: tuple[ExpectationSpec, ...], units: list[str], quality: QualitySettings
) -> Iterator[tuple[ExpectationSpec, dict[str, Any], str | None]]:
    """Each spec with its concrete arguments; per-unit specs once per unit present."""
    for spec in specs:
        if not spec.max_per_unit:
            yield spec, {}, None
            continue
        for unit in units:
            limit = quality.max_value_per_unit.get(unit)
            yield spec, {"min_value": 0.0, "max_value": limit, "unit": unit}, unit


@functools.cache
def _gx_context() -> Any:
    """One ephemeral context per process: building it costs more than most validations."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@functools.cache
def _batch_definition(asset_name: str) -> Any:
    """The whole-DataFrame batch definition of one asset (the DataFrame comes per batch)."""
    sources = _gx_context().data_sources
    if "meterlake" not in sources.all():
        # persist=False: great-expectations would cache every batch and never free it; the
        # caller caches the rows it checks.
        sources.add_spark("meterlake", persist=False)
    asset = sources.get("meterlake").add_dataframe_asset(asset_name)
    return asset.add_batch_definition_whole_dataframe("whole")


def _validate_suite(
    batch_definition: Any, df: DataFrame, named: list[tuple[str, Any]]
) -> list[ExpectationResult]:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"suite_{len(named)}_{id(df)}")
    for _name, expectation in named:
        suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    outcome = batch.validate(suite)
    results = []
    for (name, _expectation), checked in zip(named, outcome.results, strict=True):
        result = checked.result or {}
        results.append(ExpectationResult(
            expectation=name,
            success=bool(checked.success),
            element_count=result.get("element_count"),
            unexpected_count=result.get("unexpected_count"),
            details=json.dumps(result.get("partial_unexpected_list", [])[:5], default=str),
        ))
    return results


# (name, great-expectations class, its arguments, the unit it is scoped to or None)
_Planned = tuple[str, str, dict[str, Any], str | None]


def _flagged(expectation: str, kwargs: dict[str, Any]) -> Column | None:
    """Rows a column expectation flags, as a condition; None for the ones not mirrored here."""
    if expectation == "ExpectColumnValuesToNotBeNull":
        return F.col(kwargs["column"]).isNull()
    if expectation == "ExpectColumnValuesToBeBetween":
        value, inside = F.col(kwargs["column"]), F.lit(True)
        if kwargs.get("min_value") is not None:
            inside &= value >= kwargs["min_value"]
        if kwargs.get("max_value") is not None:
            inside &= value <= kwargs["max_value"]
        return value.isNotNull() & ~inside
    return None


_UNIQUENESS = ("ExpectCompoundColumnsToBeUnique", "ExpectColumnValuesToBeUnique")


def _duplicated_rows(df: DataFrame, expectation: str, kwargs: dict[str, Any]) -> int:
    """Rows sharing their key with another (rows whose key columns are all null ignored)."""
    columns = (kwargs["column_list"] if expectation == "ExpectCompoundColumnsToBeUnique"
               else [kwargs["column"]])
    keyed_df = df.dropna(how="all", subset=columns)
    repeated_df = keyed_df.groupBy(*columns).count().filter(F.col("count") > 1)
    return int(repeated_df.agg(F.sum("count")).first()[0] or 0)  # type: ignore[index]


def _all_passing(df: DataFrame, planned: list[_Planned]) -> list[ExpectationResult] | None:
    """The results when every expectation holds, decided in a few aggregations instead of
    great-expectations' dozen Spark jobs; None when one fails or is not mirrored here, and
    great-expectations then decides and describes (its results are the reference)."""
    counts: list[Column] = []
    for _name, expectation, kwargs, unit in planned:
        flagged = _flagged(expectation, kwargs)
        if flagged is None and expectation not in _UNIQUENESS:
            return None
        in_scope = F.lit(True) if unit is None else F.col("unit") == unit
        counts.append(F.count_if(in_scope).alias(f"n{len(counts)}"))
        counts.append(F.count_if(in_scope & flagged).alias(f"u{len(counts)}")
                      if flagged is not None else F.lit(0).alias(f"u{len(counts)}"))
    totals = df.agg(*counts).first()
    assert totals is not None
    results = []
    for i, (name, expectation, kwargs, _unit) in enumerate(planned):
        unexpected = int(totals[2 * i + 1])
        if _flagged(expectation, kwargs) is None:
            unexpected = _duplicated_rows(df, expectation, kwargs)
        if unexpected:
            return None
        results.append(ExpectationResult(name, True, int(totals[2 * i]), 0, "[]"))
    return results


def run_expectations(
    df: DataFrame, contract: TableContract, quality: QualitySettings
) -> list[ExpectationResult]:
    """Evaluates the contract's expectations on `df`: one suite over the whole frame, and one
    per unit for the per-unit value ranges. When all hold (the usual case) a few Spark
    aggregations say so; otherwise great-expectations evaluates and describes them all."""
    per_unit = any(spec.max_per_unit for spec in contract.expectations)
    units = sorted(r["unit"] for r in df.select("unit").distinct().collect()) if per_unit else []
    planned: list[_Planned] = []
    results = []
    for spec, extra, unit in _expanded(contract.expectations, units, quality):
        name = _describe(spec, extra)
        if unit is not None and extra["max_value"] is None:
            results.append(ExpectationResult(
                name, False, None, None, f"no quality.max_value_per_unit configured for {unit}"
            ))
            continue
        kwargs = {**spec.kwargs, **{k: v for k, v in extra.items() if k != "unit"}}
        planned.append((name, spec.expectation, kwargs, unit))
    # Suites in the order great-expectations runs them: the whole frame, then unit by unit.
    suites = list(dict.fromkeys(unit for *_, unit in planned))
    planned.sort(key=lambda p: suites.index(p[3]))
    passing = None if results else _all_passing(df, planned)
    if passing is not None:
        return passing
    return results + _validate_with_gx(df, contract, planned)


def _validate_with_gx(
    df: DataFrame, contract: TableContract, planned: list[_Planned]
) -> list[ExpectationResult]:
    import great_expectations.expectations as gxe

    batch_definition = _batch_definition(contract.name)
    groups: dict[str | None, list[tuple[str, Any]]] = {}
    for name, expectation, kwargs, unit in planned:
        groups.setdefault(unit, []).append((name, getattr(gxe, expectation)(**kwargs)))
    results = []
    for unit, named in groups.items():
        scoped_df = df if unit is None else df.filter(F.col("unit") == unit)
        results.extend(_validate_suite(batch_definition, scoped_df, named))
    return results


def dq_result_rows(
    results: list[ExpectationResult], table_name: str, table_version: int, scope: str
) -> list[tuple]:
    """Rows for `ops.dq_results`."""
    checked_at = utc_now_ms()
    return [
        (checked_at, table_name, table_version, scope, r.expectation, r.success,
         r.element_count, r.unexpected_count, r.details)
        for r in results
    ]


def raise_on_failure(results: list[ExpectationResult], table_name: str) -> None:
    failed = [r for r in results if not r.success]
    if failed:
        described = "; ".join(
            f"{r.expectation} failed ({r.unexpected_count} unexpected: {r.details})" for r in failed
        )
        raise ExpectationFailedError(f"{table_name}: {described}")


DQ_RESULTS = TableContract(
    layer="ops",
    name="dq_results",
    schema=StructType([
        struct_field("checked_at", TimestampType(), False, "when it was evaluated (UTC)"),
        struct_field("table_name", StringType(), False, "the table checked, layer.name"),
        struct_field("table_version", LongType(), False, "the version checked"),
        struct_field("scope", StringType(), False,
                     "which rows: the date partitions written, or the France points of a "
                     "region rebuild"),
        struct_field("expectation", StringType(), False,
                     "the expectation with its arguments, e.g. "
                     "ExpectColumnValuesToNotBeNull(column=value), or meterlake's own check"),
        struct_field("success", BooleanType(), False, "whether it held"),
        struct_field("element_count", LongType(), True, "rows evaluated"),
        struct_field("unexpected_count", LongType(), True, "rows that broke it"),
        struct_field("details", StringType(), True,
                     "examples of what broke it (JSON, or record ids)"),
    ]),
    grain="one row per expectation evaluated on one table version",
    properties=APPEND_ONLY,
    fed_by=("silver.meter_readings", "silver.dropzone_measurements",
            "silver.temperature_records", "silver.sensor_readings"),
)
