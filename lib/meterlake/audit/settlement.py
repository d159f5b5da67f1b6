"""An auditor's questions about a settlement run: can you reproduce it, what changed between two
revisions and why, and everything about one partner's year in one archive."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.engine.snapshot import new_bronze_rows
from meterlake.gold.settlement.energy import membership
from meterlake.gold.settlement.files import read_bytes
from meterlake.gold.settlement.inputs import readable_through, reading_dates, readings_at
from meterlake.gold.settlement.run import (
    EXPORTS,
    RecordedRun,
    compute_runs,
    manifest_json,
    recorded_run,
    write_exports,
)
from meterlake.gold.settlement.tables import GOLD_SETTLEMENT_LINES, REPORT_RUNS
from meterlake.sources.registry import METER_SOURCES


@dataclass
class Reproduction:
    """A run recomputed: per output, the recorded and the reproduced checksum of its rows.

    CSV exports are compared byte for byte (their rows checksum is the file's sha256); Parquet
    exports by their rows, because parquet-mr's bytes differ between JVMs for the same rows.
    Each file's own sha256 is reported too."""

    run_id: str
    through: str
    directory: str
    # name -> (recorded rows sha256, reproduced rows sha256)
    checksums: dict[str, tuple[str, str]] = field(default_factory=dict)
    # name -> whether the file's bytes are identical as well
    same_bytes: dict[str, bool] = field(default_factory=dict)
    fallback_reason: str | None = None

    @property
    def matches(self) -> bool:
        return bool(self.checksums) and all(a == b for a, b in self.checksums.values())

    def __str__(self) -> str:
        lines = [f"run {self.run_id} reproduced through {self.through} into {self.directory}"]
        if self.fallback_reason:
            lines.append(f"  silver time travel unavailable ({self.fallback_reason}); "
                         "rebuilt from bronze at the recorded versions")
        for name, (recorded, reproduced) in sorted(self.checksums.items()):
            verdict = "match" if recorded == reproduced else "DIFFERS"
            same = "identical bytes" if self.same_bytes.get(name) else "bytes differ"
            lines.append(f"  {name}: {verdict} (recorded {recorded[:16]}, now "
                         f"{reproduced[:16]}; {same})")
        lines.append("every checksum matches" if self.matches else "checksums DIFFER")
        return "\n".join(lines)


def _reproduce_through(lake: Lake, run: RecordedRun, through: str, directory: str) -> dict:
    computed = compute_runs(lake, run.book, run.month, run.inputs, through,
                            {run.partner: (run.run_id, run.revision)})
    try:
        return write_exports(lake.spark, {"lines": computed.lines, "summary": computed.summary},
                             run.partner, directory)
    finally:
        computed.release()


def reproduce(lake: Lake, run_id: str, through: str | None = None) -> Reproduction:
    """Recomputes a run from its manifest and compares every output's sha256.

    By default silver is read by time travel at the recorded version while it can be (log
    retained, files not vacuumed); otherwise the same rows are rebuilt from bronze at the
    recorded versions."""
    run = recorded_run(lake, run_id)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    directory = f"{lake.settings.lake_root.rstrip('/')}/exports/reproductions/{run_id}/{stamp}"
    reason = None
    if through is None:
        through, reason = readable_through(lake, run.inputs, reading_dates(run.book, run.month))
    outputs = _reproduce_through(lake, run, through, directory)
    chosen = through
    result = Reproduction(run_id, chosen, directory, fallback_reason=reason)
    for name, recorded in run.outputs.items():
        now = outputs.get(name, {})
        result.checksums[name] = (str(recorded["rows_sha256"]),
                                  str(now.get("rows_sha256", "missing")))
        result.same_bytes[name] = recorded["sha256"] == now.get("sha256")
    return result


def _lines_of(lake: Lake, run_id: str) -> DataFrame:
    return lake.read(GOLD_SETTLEMENT_LINES).filter(F.col("run_id") == run_id)


def line_changes(lake: Lake, run_a: str, run_b: str) -> DataFrame:
    """Lines that differ between two runs: amounts, energy or intervals, side by side."""
    keys = ["meter_id", "line_type", "line_name"]
    compared = ("amount", "kwh_measured", "kwh_estimated", "kwh_reduction", "intervals_present",
                "intervals_estimated")
    a_df = _lines_of(lake, run_a).select(*keys, *(F.col(c).alias(f"{c}_a") for c in compared))
    b_df = _lines_of(lake, run_b).select(*keys, *(F.col(c).alias(f"{c}_b") for c in compared))
    differs = reduce(lambda x, y: x | y,
                     [~F.col(f"{c}_a").eqNullSafe(F.col(f"{c}_b")) for c in compared])
    return (
        a_df.join(b_df, keys, how="full_outer").filter(differs)
        .withColumn("amount_change", F.coalesce("amount_b", F.lit(0))
                    - F.coalesce("amount_a", F.lit(0)))
        .orderBy(*keys)
    )


def reading_changes(lake: Lake, run_a: RecordedRun, run_b: RecordedRun,
                    meters_df: DataFrame) -> DataFrame:
    """The readings of `meters_df` that differ between the two runs' inputs: the corrections (or
    late arrivals) that moved the amounts, with the file that brought each."""
    dates = reading_dates(run_b.book, run_b.month)
    keys = ["meter_id", "interval_start"]

    def side(run: RecordedRun, suffix: str) -> DataFrame:
        through, _ = readable_through(lake, run.inputs, dates)
        readings_df = readings_at(lake, run.inputs, through, dates).join(
            meters_df, "meter_id", how="left_semi")
        return readings_df.select(*keys, *(F.col(c).alias(f"{c}_{suffix}") for c in (
            "value", "unit", "_source_file", "_received_at", "_ingest_id")))

    a_df, b_df = side(run_a, "a"), side(run_b, "b")
    return (
        a_df.join(b_df, keys, how="full_outer")
        .filter(~F.col("value_a").eqNullSafe(F.col("value_b"))
                | ~F.col("_ingest_id_a").eqNullSafe(F.col("_ingest_id_b")))
        .select(*keys, "value_a", "value_b", "unit_b", F.col("_source_file_b").alias("file"),
                F.col("_received_at_b").alias("received_at"))
        .orderBy(*keys)
    )


def diff_runs(lake: Lake, run_a: str, run_b: str) -> tuple[DataFrame, DataFrame]:
    """(changed lines, readings that changed for the meters of those lines)."""
    first, second = recorded_run(lake, run_a), recorded_run(lake, run_b)
    if (first.partner, first.month) != (second.partner, second.month):
        raise ValueError(f"runs {run_a} ({first.partner} {first.month}) and {run_b} "
                         f"({second.partner} {second.month}) settle different partner-months")
    changes_df = line_changes(lake, run_a, run_b).persist()
    meters_df = changes_df.select("meter_id").distinct()
    return changes_df, reading_changes(lake, first, second, meters_df)


def _csv(rows: list[dict[str, object]], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _run_readings(lake: Lake, run: RecordedRun) -> DataFrame:
    meters_df = membership(lake.spark, run.book, run.month).select("meter_id").distinct()
    dates = reading_dates(run.book, run.month)
    through, _ = readable_through(lake, run.inputs, dates)
    return readings_at(lake, run.inputs, through, dates).join(meters_df, "meter_id",
                                                              how="left_semi")


def source_files(lake: Lake, run: RecordedRun) -> list[dict[str, object]]:
    """Every file that contributed a reading the run read: name, arrival and sha256."""
    rows = (
        _run_readings(lake, run)
        .groupBy("source", "_source_file", "_received_at", "_file_sha256", "_ingest_id")
        .agg(F.count(F.lit(1)).alias("readings")).orderBy("_received_at", "_source_file")
        .collect()
    )
    return [r.asDict() for r in rows]


def corrections_after(lake: Lake, run: RecordedRun) -> list[dict[str, object]]:
    """Versions of the run's readings that reached bronze after the run's inputs."""
    first, last = (F.lit(d).cast("date") for d in reading_dates(run.book, run.month))
    meters_df = membership(lake.spark, run.book, run.month).select("meter_id").distinct()
    later = []
    for source in METER_SOURCES:
        since = run.inputs.bronze_versions.get(source.name)
        until = lake.version(source.bronze)
        if since == until:
            continue
        later.append(
            new_bronze_rows(lake, source.bronze, since, until)
            .filter(F.col("interval_date").between(first, last))
            .join(meters_df, "meter_id", how="left_semi")
            .select("meter_id", "interval_start",
                    F.col(source.value_column).cast("double").alias("new_value"),
                    "_source_file", "_received_at", "_file_sha256")
        )
    if not later:
        return []
    in_run_df = _run_readings(lake, run).select("meter_id", "interval_start",
                                                F.col("value").alias("value_in_run"))
    rows = (
        reduce(DataFrame.unionByName, later)
        .join(in_run_df, ["meter_id", "interval_start"], how="left")
        .orderBy("_received_at", "meter_id", "interval_start").collect()
    )
    return [r.asDict() for r in rows]


def package(lake: Lake, partner: str, year: int, out_dir: Path) -> Path:
    """One zip with every run of `partner` in `year`: manifest, exports, source files and the
    corrections applied after it. Returns the archive's path."""
    runs = (
        lake.read(REPORT_RUNS)
        .filter((F.col("partner") == partner) & F.col("month").startswith(f"{year:04d}-"))
        .orderBy("month", "revision").collect()
    )
    if not runs:
        raise LookupError(f"no settlement runs of partner {partner!r} in {year}")
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"meterlake-audit-{partner}-{year:04d}.zip"
    index = []
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for row in runs:
            run = recorded_run(lake, row["run_id"])
            folder = f"{run.month}/r{run.revision:03d}-{run.run_id}"
            zipped.writestr(f"{folder}/manifest.json", manifest_json(
                tuple(row[c] for c in REPORT_RUNS.column_names)))
            for name, _, _ in EXPORTS:
                zipped.writestr(f"{folder}/{name}",
                                read_bytes(lake.spark, f"{run.export_path}/{name}"))
            zipped.writestr(f"{folder}/source_files.csv", _csv(
                source_files(lake, run), ["source", "_source_file", "_received_at",
                                          "_file_sha256", "_ingest_id", "readings"]))
            zipped.writestr(f"{folder}/corrections_after.csv", _csv(
                corrections_after(lake, run), ["meter_id", "interval_start", "value_in_run",
                                               "new_value", "_source_file", "_received_at",
                                               "_file_sha256"]))
            index.append({"run_id": run.run_id, "month": run.month, "revision": run.revision,
                          "folder": folder, "as_known_at": str(run.as_known_at)})
        zipped.writestr("index.json", json.dumps(
            {"partner": partner, "year": year, "runs": index}, indent=2) + "\n")
    return archive
