"""Data quality: row rules split staging rows into valid and quarantined; table expectations
run with great-expectations after a write and stop publication when one fails.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.config import QualitySettings
from meterlake.rules import RowRule
from meterlake.tables import QUARANTINE, ExpectationSpec, TableContract

# great-expectations must not try to phone home: this platform runs without internet.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


class ExpectationFailedError(RuntimeError):
    """A table-level expectation failed; the write it guarded was not published."""


def with_violations(staging_df: DataFrame, rules: tuple[RowRule, ...]) -> DataFrame:
    """Adds `violations`: an array of (field, message) for every rule the row breaks."""
    checks = [
        F.when(F.coalesce(rule.is_violated(), F.lit(False)), F.struct(
            F.lit(rule.field).alias("field"), rule.message().alias("message")
        ))
        for rule in rules
    ]
    return staging_df.withColumn("violations", F.filter(F.array(*checks), lambda v: v.isNotNull()))


def filter_valid(checked_df: DataFrame) -> DataFrame:
    """Rows that broke no rule (input from `with_violations`)."""
    return checked_df.filter(F.size("violations") == 0).drop("violations")


def to_quarantine_rows(checked_df: DataFrame, source: str) -> DataFrame:
    """Rows that broke a rule, as `bronze.quarantine` rows: the first field, every reason."""
    messages = F.transform("violations", lambda v: F.concat(v["field"], F.lit(": "), v["message"]))
    return (
        checked_df.filter(F.size("violations") > 0)
        .withColumn("source", F.lit(source))
        .withColumn("field", F.col("violations")[0]["field"])
        .withColumn("reason", F.array_join(messages, "; "))
        .select(*QUARANTINE.column_names)
    )


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


def _gx_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


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


def run_expectations(
    df: DataFrame, contract: TableContract, quality: QualitySettings
) -> list[ExpectationResult]:
    """Evaluates the contract's expectations on `df` with great-expectations: one suite over the
    whole frame, and one per unit for the per-unit value ranges."""
    import great_expectations.expectations as gxe

    context = _gx_context()
    asset = context.data_sources.add_spark("meterlake").add_dataframe_asset(contract.name)
    batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    per_unit = any(spec.max_per_unit for spec in contract.expectations)
    units = sorted(r["unit"] for r in df.select("unit").distinct().collect()) if per_unit else []
    groups: dict[str | None, list[tuple[str, Any]]] = {}
    results = []
    for spec, extra, unit in _expanded(contract.expectations, units, quality):
        name = _describe(spec, extra)
        if unit is not None and extra["max_value"] is None:
            results.append(ExpectationResult(
                name, False, None, None, f"no quality.max_value_per_unit configured for {unit}"
            ))
            continue
        kwargs = {**spec.kwargs, **{k: v for k, v in extra.items() if k != "unit"}}
        groups.setdefault(unit, []).append((name, getattr(gxe, spec.expectation)(**kwargs)))
    for unit, named in groups.items():
        scoped_df = df if unit is None else df.filter(F.col("unit") == unit)
        results.extend(_validate_suite(batch_definition, scoped_df, named))
    return results


def dq_result_rows(
    results: list[ExpectationResult], table_name: str, table_version: int, scope: str
) -> list[tuple]:
    """Rows for `ops.dq_results`."""
    checked_at = datetime.now(UTC)
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
