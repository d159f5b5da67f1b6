"""The jobs as functions of a Lake: what the CLI and the spark-submit entry points call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import functions as F

from meterlake.bronze import DUPLICATE, LOADED, REJECTED, IngestReport, ingest_pending
from meterlake.gold.intervals import GridReport, run_grid
from meterlake.lake import Lake
from meterlake.measurements import run_dropzone_snapshot
from meterlake.receive.landing import expand_paths, land_file
from meterlake.silver import METER_SOURCES, SnapshotReport, run_snapshot
from meterlake.sources import FileSource
from meterlake.tables import INGEST_LOG, QUARANTINE, SILVER_METER_READINGS


def ingest_paths(
    lake: Lake, source: FileSource, paths: list[Path], sender: str | None = None
) -> IngestReport:
    """Receives files (landing them unchanged, in order), then loads everything pending.

    After a crash the first load finishes the interrupted batch alone; the files landed now are
    then loaded by a second one, and the report covers both.
    """
    landed = {land_file(lake.settings.landing_root, source.name, path, sender).ingest_id
              for path in expand_paths(paths)}
    report = ingest_pending(lake, source)
    if landed - {f.landed.ingest_id for f in report.files}:
        rest = ingest_pending(lake, source)
        report = IngestReport(source.name, rest.batch, report.files + rest.files)
    return report


def describe_ingest(report: IngestReport) -> str:
    lines = [
        f"ingest {report.source} batch {report.batch}: {report.count(LOADED)} loaded, "
        f"{report.count(REJECTED)} rejected, {report.count(DUPLICATE)} duplicate; "
        f"{report.rows_loaded} rows to bronze, {report.rows_quarantined} quarantined"
    ]
    lines += [
        f"  {f.outcome:9} {f.landed.original_name}: {f.reason}"
        for f in report.files if f.outcome != LOADED
    ]
    return "\n".join(lines)


def run_snapshots(lake: Lake) -> list[SnapshotReport]:
    """Every snapshot: each meter source into silver.meter_readings, then the dropzone."""
    return [*(run_snapshot(lake, source) for source in METER_SOURCES), run_dropzone_snapshot(lake)]


def describe_snapshots(reports: list[SnapshotReport]) -> str:
    return "\n".join(describe_snapshot(r) for r in reports)


def describe_snapshot(report: SnapshotReport) -> str:
    if report.silver_version is None and report.rows_read == 0:
        return f"snapshot {report.source}: nothing new in bronze (version {report.bronze_version})"
    return (
        f"snapshot {report.source}: {report.rows_read} new bronze rows over "
        f"{report.dates_touched} dates; silver version {report.silver_version}: "
        f"{report.rows_inserted} readings inserted, {report.rows_updated} corrections applied"
    )


def describe_grid(report: GridReport) -> str:
    return (f"grid: gold.meter_intervals_15min version {report.gold_version} "
            f"from silver.meter_readings version {report.silver_version}")


@dataclass(frozen=True)
class LakeSummary:
    files_loaded: int
    files_rejected: int
    files_duplicate: int
    bronze_rows: dict[str, int]
    silver_rows: int
    corrected_readings: int
    quarantined_rows: int

    def __str__(self) -> str:
        return (
            f"files: {self.files_loaded} loaded, {self.files_rejected} rejected, "
            f"{self.files_duplicate} duplicate\n"
            + "".join(f"bronze.{name}: {rows} rows (every version)\n"
                      for name, rows in self.bronze_rows.items())
            + f"silver.meter_readings: {self.silver_rows} readings, "
            f"{self.corrected_readings} of them corrected (more than one version)\n"
            f"bronze.quarantine: {self.quarantined_rows} rows"
        )


def lake_summary(lake: Lake) -> LakeSummary:
    outcomes = {
        r["outcome"]: int(r["count"])
        for r in lake.read(INGEST_LOG).groupBy("outcome").count().collect()
    }
    silver = lake.read(SILVER_METER_READINGS).agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("version_count") > 1).alias("corrected"),
    ).first()
    assert silver is not None
    return LakeSummary(
        files_loaded=outcomes.get(LOADED, 0),
        files_rejected=outcomes.get(REJECTED, 0),
        files_duplicate=outcomes.get(DUPLICATE, 0),
        bronze_rows={s.bronze.name: lake.read(s.bronze).count() for s in METER_SOURCES},
        silver_rows=int(silver["rows"]),
        corrected_readings=int(silver["corrected"] or 0),
        quarantined_rows=lake.read(QUARANTINE).count(),
    )


def run_pipeline(
    lake: Lake, source: FileSource, paths: list[Path], sender: str | None = None
) -> str:
    """The main job: ingest, snapshot, grid, then the lake's summary."""
    return "\n".join([
        describe_ingest(ingest_paths(lake, source, paths, sender)),
        describe_snapshots(run_snapshots(lake)),
        describe_grid(run_grid(lake)),
        str(lake_summary(lake)),
    ])
