"""The jobs as functions of a Lake: what the CLI and the spark-submit entry points call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import functions as F

from meterlake.bronze import DUPLICATE, LOADED, REJECTED, IngestReport, ingest_pending
from meterlake.gold.intervals import GridReport, run_grid
from meterlake.lake import Lake
from meterlake.receive.landing import expand_paths, land_file
from meterlake.silver import SnapshotReport, run_snapshot
from meterlake.sources import utility_drops
from meterlake.tables import BRONZE_UTILITY_DROPS, INGEST_LOG, QUARANTINE, SILVER_METER_READINGS


def ingest_paths(lake: Lake, paths: list[Path], sender: str | None = None) -> IngestReport:
    """Receives files (landing them unchanged, in order), then loads everything pending."""
    for path in expand_paths(paths):
        land_file(lake.settings.landing_root, utility_drops.SOURCE_NAME, path, sender)
    return ingest_pending(lake)


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
    bronze_rows: int
    silver_rows: int
    corrected_readings: int
    quarantined_rows: int

    def __str__(self) -> str:
        return (
            f"files: {self.files_loaded} loaded, {self.files_rejected} rejected, "
            f"{self.files_duplicate} duplicate\n"
            f"bronze.utility_drops: {self.bronze_rows} rows (every version)\n"
            f"silver.meter_readings: {self.silver_rows} readings, "
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
        bronze_rows=lake.read(BRONZE_UTILITY_DROPS).count(),
        silver_rows=int(silver["rows"]),
        corrected_readings=int(silver["corrected"] or 0),
        quarantined_rows=lake.read(QUARANTINE).count(),
    )


def run_pipeline(lake: Lake, paths: list[Path], sender: str | None = None) -> str:
    """The main job: ingest, snapshot, grid, then the lake's summary."""
    return "\n".join([
        describe_ingest(ingest_paths(lake, paths, sender)),
        describe_snapshot(run_snapshot(lake)),
        describe_grid(run_grid(lake)),
        str(lake_summary(lake)),
    ])
