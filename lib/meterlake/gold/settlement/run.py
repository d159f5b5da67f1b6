"""`meterlake settle`: a month's settlement as recorded, reproducible runs.

One run per partner and month, each with a run id and the next revision number. A run computes
from silver pinned at one version, writes its exports (CSV and Parquet, lines and summary) and a
manifest, appends its rows to gold, and is recorded last in ops.report_runs: a run exists once
that row exists. Earlier revisions are never touched.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import meterlake
from meterlake.core.instants import utc_now_ms
from meterlake.core.lake import Lake
from meterlake.gold.settlement.book import SettlementBook, book_from_mapping
from meterlake.gold.settlement.files import rows_sha256, sha256_of, write_single_file, write_text
from meterlake.gold.settlement.inputs import Inputs, pin_inputs, reading_dates, readings_at
from meterlake.gold.settlement.report import (
    LINE_COLUMNS,
    SUMMARY_COLUMNS,
    Settlement,
    settlement_frames,
    with_runs,
)
from meterlake.gold.settlement.tables import (
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    REPORT_RUNS,
)

REPORT = "settlement"
LINE_ORDER = list(GOLD_SETTLEMENT_LINES.ordering)
EXPORTS = (
    ("lines.csv", "lines", "csv"),
    ("lines.parquet", "lines", "parquet"),
    ("summary.csv", "summary", "csv"),
    ("summary.parquet", "summary", "parquet"),
)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    partner: str
    month: str
    revision: int
    export_path: str
    outputs: dict[str, dict[str, object]]
    row_counts: dict[str, int]
    total: str  # amount and currency
    completeness: str

    def __str__(self) -> str:
        return (f"{self.partner} {self.month} revision {self.revision}: run {self.run_id}, "
                f"{self.row_counts['lines']} lines, total {self.total}, completeness "
                f"{self.completeness} -> {self.export_path}")


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
            cwd=Path(meterlake.__file__).parent, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"meterlake {meterlake.__version__}" + (f" ({commit})" if commit else "")


def export_dir(lake: Lake, partner: str, month: str, revision: int, run_id: str) -> str:
    root = lake.settings.lake_root.rstrip("/")
    return f"{root}/exports/settlements/{partner}/{month}/r{revision:03d}-{run_id}"


def _next_revisions(lake: Lake, month: str, partners: list[str]) -> dict[str, int]:
    done = (
        lake.read(REPORT_RUNS).filter((F.col("month") == month) & F.col("partner").isin(partners))
        .groupBy("partner").agg(F.max("revision").alias("revision")).collect()
    )
    latest = {r["partner"]: int(r["revision"]) for r in done}
    return {p: latest.get(p, 0) + 1 for p in partners}


def write_exports(
    spark: SparkSession, frames: dict[str, DataFrame], partner: str, directory: str
) -> dict[str, dict[str, object]]:
    """One partner's exports under `directory`: name -> {sha256, bytes, rows_sha256}."""
    outputs: dict[str, dict[str, object]] = {}
    for name, frame, fmt in EXPORTS:
        uri = f"{directory}/{name}"
        rows_df = frames[frame].filter(F.col("partner") == partner)
        write_single_file(rows_df, uri, fmt, LINE_ORDER if frame == "lines" else ["partner"])
        sha256, size = sha256_of(spark, uri)
        outputs[name] = {"sha256": sha256, "bytes": size,
                         "rows_sha256": rows_sha256(spark, uri, fmt)}
    return outputs


def compute_runs(
    lake: Lake, book: SettlementBook, month: str, inputs: Inputs, through: str,
    runs: dict[str, tuple[str, int]],
) -> Settlement:
    """Lines and summary of `runs` (partner -> (run id, revision)), with their run columns and
    cached; `release()` when written."""
    spark = lake.spark
    settlement = settlement_frames(
        spark, readings_at(lake, inputs, through, reading_dates(book, month)), book, month)
    runs_df = spark.createDataFrame(
        [(p, run_id, revision) for p, (run_id, revision) in runs.items()],
        "partner string, run_id string, revision int")
    lines_df = with_runs(settlement.lines, runs_df, LINE_COLUMNS).persist()
    summary_df = with_runs(settlement.summary, runs_df, SUMMARY_COLUMNS).persist()
    return Settlement(lines_df, summary_df, (*settlement.cached, lines_df, summary_df))


def settle(
    lake: Lake, book: SettlementBook, month: str, partners: list[str] | None = None
) -> list[RunRecord]:
    """Settles `month` for `partners` (default: every partner of the book)."""
    started = utc_now_ms()
    lake.hold_all([GOLD_SETTLEMENT_LINES, GOLD_SETTLEMENT_SUMMARY, REPORT_RUNS])
    book = book.for_partners(partners or sorted(book.partners))
    inputs = pin_inputs(lake)
    revisions = _next_revisions(lake, month, sorted(book.partners))
    runs = {p: (uuid.uuid4().hex, revisions[p]) for p in sorted(book.partners)}
    computed = compute_runs(lake, book, month, inputs, "silver", runs)
    lines_df, summary_df = computed.lines, computed.summary
    counts = {r["run_id"]: int(r["count"]) for r in lines_df.groupBy("run_id").count().collect()}
    totals = {r["partner"]: r for r in summary_df.collect()}  # one row per partner
    records = []
    for partner, (run_id, revision) in runs.items():
        directory = export_dir(lake, partner, month, revision, run_id)
        outputs = write_exports(lake.spark, {"lines": lines_df, "summary": summary_df}, partner,
                                directory)
        total = totals[partner]
        records.append(RunRecord(
            run_id, partner, month, revision, directory, outputs,
            {"lines": counts.get(run_id, 0), "summary": 1},
            f"{total['total_amount']} {total['currency']}", str(total["completeness"])))
    lake.append(GOLD_SETTLEMENT_LINES, lines_df)
    lake.append(GOLD_SETTLEMENT_SUMMARY, summary_df)
    computed.release()
    finished = utc_now_ms()
    rows = [_run_row(record, book, inputs, started, finished) for record in records]
    for record, row in zip(records, rows, strict=True):
        write_text(lake.spark, f"{record.export_path}/manifest.json", manifest_json(row))
    lake.append_rows(REPORT_RUNS, rows)
    return records


def _run_row(
    record: RunRecord, book: SettlementBook, inputs: Inputs, started: datetime,
    finished: datetime,
) -> tuple:
    partner_book = book.for_partners([record.partner])
    parameters = {"month": record.month, "partner": record.partner, "book": partner_book.raw}
    values = {
        "run_id": record.run_id, "revision": record.revision, "partner": record.partner,
        "month": record.month, "report": REPORT, "started_at": started, "finished_at": finished,
        "as_known_at": inputs.as_known_at, "inputs": inputs.to_json(),
        "parameters": json.dumps(parameters, sort_keys=True),
        "book_sha256": partner_book.sha256(), "code_version": code_version(),
        "row_counts": json.dumps(record.row_counts, sort_keys=True),
        "outputs": json.dumps(record.outputs, sort_keys=True), "export_path": record.export_path,
    }
    return tuple(values[name] for name in REPORT_RUNS.column_names)


def manifest_json(row: tuple) -> str:
    """The manifest of a run: its ops.report_runs row with the JSON fields expanded."""
    manifest: dict[str, object] = {}
    for name, value in zip(REPORT_RUNS.column_names, row, strict=True):
        if name in ("inputs", "parameters", "row_counts", "outputs"):
            manifest[name] = json.loads(value)
        elif isinstance(value, datetime):
            manifest[name] = value.isoformat()
        else:
            manifest[name] = value
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class RecordedRun:
    """A run read back from ops.report_runs."""

    run_id: str
    partner: str
    month: str
    revision: int
    inputs: Inputs
    book: SettlementBook
    outputs: dict[str, dict[str, object]]
    export_path: str
    as_known_at: datetime | None


class UnknownRunError(LookupError):
    """No ops.report_runs row has this run id."""


def recorded_run(lake: Lake, run_id: str) -> RecordedRun:
    row = lake.read(REPORT_RUNS).filter(F.col("run_id") == run_id).first()
    if row is None:
        raise UnknownRunError(f"no settlement run {run_id!r} in ops.report_runs")
    parameters = json.loads(row["parameters"])
    known = row["as_known_at"]
    return RecordedRun(
        run_id=run_id, partner=row["partner"], month=row["month"], revision=row["revision"],
        inputs=Inputs.from_json(row["inputs"]),
        book=book_from_mapping(parameters["book"], f"run {run_id}"),
        outputs=json.loads(row["outputs"]), export_path=row["export_path"],
        as_known_at=None if known is None else known.replace(tzinfo=UTC),
    )
