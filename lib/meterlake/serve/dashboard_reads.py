"""The dashboard's reads other than the usage chart, through delta-rs and Arrow (no JVM).

The tables' names and the meter sources' bronze columns are repeated from their contracts
(which import pyspark); a test checks them against the contracts.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from meterlake.serve.delta_reads import LatestTables, MissingTableError, TableRef, TableVersion

GOLD_METER_INTERVALS = TableRef("gold", "meter_intervals_15min", "run `meterlake grid`")
GOLD_METER_USAGE_HOURLY = TableRef("gold", "meter_usage_hourly", "run `meterlake grid`")
GOLD_SETTLEMENT_LINES = TableRef("gold", "settlement_lines", "run `meterlake settle`")
GOLD_SETTLEMENT_SUMMARY = TableRef("gold", "settlement_summary", "run `meterlake settle`")
QUARANTINE = TableRef("bronze", "quarantine", "run `meterlake ingest`")
DQ_RESULTS = TableRef("ops", "dq_results", "run `meterlake snapshot`")


@dataclass(frozen=True)
class BronzeMeterTable:
    """What the history of a reading needs from one meter source's bronze table."""

    source: str
    ref: TableRef
    value_column: str
    ordering: tuple[str, ...]


BRONZE_METER_TABLES = (
    BronzeMeterTable("utility_drops", TableRef("bronze", "utility_drops", "run `meterlake "
                     "ingest`"), "energy_wh", ("_received_at", "_source_line", "_ingest_id")),
    BronzeMeterTable("smrt", TableRef("bronze", "smrt", "run `meterlake ingest smrt`"),
                     "consumption",
                     ("file_created_at", "generation_number", "_received_at", "_source_line",
                      "_ingest_id")),
)


@dataclass(frozen=True)
class MeterSpan:
    meter_id: str
    first_hour: datetime
    end: datetime  # the end of the meter's last hour in the rollup


_SPANS: dict[tuple[str, int], dict[str, MeterSpan]] = {}
_SPANS_LOCK = threading.Lock()


def meter_spans(hourly: TableVersion) -> dict[str, MeterSpan]:
    """Every meter of the rollup with its span, in id order; computed once per table version
    (a scan of two columns), then kept until the table moves."""
    key = (hourly.table.table_uri, hourly.version)
    with _SPANS_LOCK:
        found = _SPANS.get(key)
    if found is None:
        spans = hourly.files.to_table(columns=["meter_id", "hour_start"]).group_by(
            "meter_id").aggregate([("hour_start", "min"), ("hour_start", "max")]).sort_by(
            "meter_id")
        found = {r["meter_id"]: MeterSpan(r["meter_id"], r["hour_start_min"],
                                          r["hour_start_max"] + timedelta(hours=1))
                 for r in spans.to_pylist()}
        with _SPANS_LOCK:
            _SPANS.clear()
            _SPANS[key] = found
    return found


def reading_history(tables: LatestTables, meter_id: str, interval_start: datetime
                    ) -> list[dict[str, Any]]:
    """Every version of one reading, as `meterlake audit history` lists them: in arrival order,
    with value, source, file, line, arrival, ingest id, landing path and whether it is the
    current one by its source's ordering. Reads one date partition of each bronze table."""
    at = pa.scalar(interval_start.astimezone(UTC), type=pa.timestamp("us", tz="UTC"))
    versions: list[dict[str, Any]] = []
    for bronze in BRONZE_METER_TABLES:
        try:
            table = tables.latest(bronze.ref)
        except MissingTableError:
            continue
        rows = table.files.to_table(filter=(
            (pc.field("interval_date") == interval_start.astimezone(UTC).date())
            & (pc.field("meter_id") == meter_id) & (pc.field("interval_start") == at)))
        newest_first = rows.sort_by([(c, "descending") for c in bronze.ordering]).to_pylist()
        for i, row in enumerate(newest_first):
            versions.append({
                "source": bronze.source, "value": float(row[bronze.value_column]),
                "file": row["_source_file"], "line": row["_source_line"],
                "received_at": row["_received_at"], "ingest_id": row["_ingest_id"],
                "sha256": row["_file_sha256"], "is_current": i == 0})
    landing = _landing_paths(tables, sorted({v["ingest_id"] for v in versions}))
    for version in versions:
        version["landing_path"] = landing.get(version["ingest_id"])
    return sorted(versions, key=lambda v: (v["received_at"], v["line"]))


def _landing_paths(tables: LatestTables, ingest_ids: list[str]) -> dict[str, str]:
    if not ingest_ids:
        return {}
    log = tables.latest(TableRef("ops", "ingest_log", "run `meterlake ingest`"))
    rows = log.files.to_table(columns=["ingest_id", "landing_path"],
                              filter=pc.field("ingest_id").isin(ingest_ids))
    return {r["ingest_id"]: r["landing_path"] for r in rows.to_pylist()}


def settlement_runs(summary: TableVersion) -> list[dict[str, Any]]:
    """Every settlement run by partner, month and revision, with the change of its total amount
    and measured kWh from the partner-month's previous revision (None for the first)."""
    rows = summary.files.to_table(columns=[
        "partner", "month", "revision", "run_id", "currency", "meters", "kwh_measured",
        "kwh_estimated", "total_amount", "completeness",
    ]).sort_by([("partner", "ascending"), ("month", "ascending"), ("revision", "ascending")])
    runs: list[dict[str, Any]] = []
    for row in rows.to_pylist():
        previous = runs[-1] if runs and (runs[-1]["partner"], runs[-1]["month"]) == (
            row["partner"], row["month"]) else None
        row["amount_change"] = (None if previous is None
                                else row["total_amount"] - previous["total_amount"])
        row["kwh_change"] = (None if previous is None
                             else row["kwh_measured"] - previous["kwh_measured"])
        runs.append(row)
    return runs


def consumption_by_window(lines: TableVersion, partner: str) -> list[dict[str, Any]]:
    """A partner's energy per month and time-of-use window from the latest revision of each
    month: measured and estimated kWh and the amount (decimals, exact)."""
    rows = lines.files.to_table(
        columns=["month", "revision", "line_name", "kwh_measured", "kwh_estimated", "amount",
                 "currency"],
        filter=(pc.field("partner") == partner) & (pc.field("line_type") == "energy"))
    latest: dict[str, int] = {}
    for month, revision in zip(rows["month"].to_pylist(), rows["revision"].to_pylist(),
                               strict=True):
        latest[month] = max(latest.get(month, 0), revision)
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows.to_pylist():
        if row["revision"] != latest[row["month"]]:
            continue
        key = (row["month"], row["line_name"])
        total = totals.setdefault(key, {
            "month": row["month"], "revision": row["revision"], "window": row["line_name"],
            "kwh_measured": Decimal(0), "kwh_estimated": Decimal(0), "amount": Decimal(0),
            "currency": row["currency"]})
        for column in ("kwh_measured", "kwh_estimated", "amount"):
            total[column] += row[column]
    return [totals[k] for k in sorted(totals)]


def partners(summary: TableVersion) -> list[str]:
    return sorted(pc.unique(summary.files.to_table(columns=["partner"])["partner"]).to_pylist())


def files_per_day(log: TableVersion, days: int) -> list[dict[str, Any]]:
    """Files received per UTC day and outcome over the last `days` days with any file."""
    rows = log.files.to_table(columns=["received_at", "outcome"])
    counts: dict[str, dict[str, Any]] = {}
    for row in rows.to_pylist():
        day = row["received_at"].astimezone(UTC).date().isoformat()
        entry = counts.setdefault(day, {"day": day, "loaded": 0, "rejected": 0, "duplicate": 0})
        entry[row["outcome"]] = entry.get(row["outcome"], 0) + 1
    return [counts[d] for d in sorted(counts)[-days:]]


# A reason ends with the offending raw value in quotes; without it, reasons group by rule.
_QUOTED_VALUE = re.compile(r": '.*'$", re.DOTALL)


def quarantine_by_reason(quarantine: TableVersion) -> list[dict[str, Any]]:
    """Quarantined rows per source, field and reason (the quoted raw value left out)."""
    rows = quarantine.files.to_table(columns=["source", "field", "reason"])
    counts: dict[tuple[str, str, str], int] = {}
    for row in rows.to_pylist():
        key = (row["source"], row["field"], _QUOTED_VALUE.sub("", row["reason"]))
        counts[key] = counts.get(key, 0) + 1
    return [{"source": s, "field": f, "reason": r, "rows": n}
            for (s, f, r), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def recent_expectations(results: TableVersion, limit: int) -> list[dict[str, Any]]:
    """The `limit` latest expectation results, newest first."""
    rows = results.files.to_table(columns=[
        "checked_at", "table_name", "table_version", "scope", "expectation", "success",
        "element_count", "unexpected_count"])
    ordered = rows.sort_by([("checked_at", "descending"), ("expectation", "ascending")])
    return ordered.slice(0, limit).to_pylist()
