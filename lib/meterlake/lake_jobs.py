"""The lake's jobs composed from the engine, silver and gold, with their one-line reports: what
the CLI (and so the spark-submit entry points) calls."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import functions as F

from meterlake.core.instants import utc_now_ms
from meterlake.core.interfaces import FileSource, Source
from meterlake.core.lake import Lake
from meterlake.engine.ingest import (
    DUPLICATE,
    INGEST_LOG,
    LOADED,
    REJECTED,
    IngestReport,
    ingest_paths,
    ingest_pending,
    logged_outcomes,
)
from meterlake.engine.snapshot import SnapshotReport, run_snapshot
from meterlake.gold.dropzone_daily import run_dropzone_daily
from meterlake.gold.meter_intervals import run_grid
from meterlake.gold.rebuild import RebuildReport
from meterlake.gold.region_temperature_hourly import run_region_temperature_hourly
from meterlake.gold.sensor_quality import run_sensor_quality
from meterlake.gold.sensor_readings_1min import run_sensor_readings_1min
from meterlake.quality.quarantine import QUARANTINE
from meterlake.receive.watcher import Watcher
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.silver.sensors import SensorAttributes, load_registry
from meterlake.sources.registry import DATASETS, METER_SOURCES
from meterlake.sources.sensors.registry import parse_registry

log = logging.getLogger(__name__)


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
    """Every keyed dataset of the registry into its silver table, then the gold rollups that
    follow silver (each skipped when its silver did not change)."""
    reports = [run_snapshot(lake, dataset) for dataset in DATASETS]
    run_rollups(lake)
    return reports


def snapshot_source(lake: Lake, source: Source) -> list[SnapshotReport]:
    """The snapshot of one source's datasets, then the gold rollups that follow silver."""
    reports = [run_snapshot(lake, dataset) for dataset in source.datasets]
    run_rollups(lake)
    return reports


def run_rollups(lake: Lake) -> None:
    """The gold tables rebuilt from silver as part of `snapshot` (the grid is a job of its own,
    run after every source's snapshot)."""
    run_dropzone_daily(lake)
    run_region_temperature_hourly(lake)
    run_sensor_readings_1min(lake)
    run_sensor_quality(lake)


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


def describe_grid(report: RebuildReport) -> str:
    if not report.is_rebuilt:
        return (f"grid: {report.gold} version {report.gold_version} is up to date with "
                f"{report.silver} version {report.silver_version}")
    return (f"grid: {report.gold} version {report.gold_version} "
            f"from {report.silver} version {report.silver_version}")


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


def directory_watcher(lake: Lake, source: Source, inbox: Path, batch_size: int) -> Watcher:
    """A watcher of `inbox` for `source`: each poll's files are loaded into bronze and, when
    rows arrived, merged into the source's silver tables."""

    def load(ingest_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        started = time.monotonic()
        report = ingest_pending(lake, source.files)
        ingested = time.monotonic()
        if report.rows_loaded:
            snapshot_source(lake, source)
        log.info("load: batch %s, %d rows to bronze in %.2f s, snapshot in %.2f s",
                 report.batch, report.rows_loaded, ingested - started,
                 time.monotonic() - ingested)
        # The batch's outcomes are what it just logged; only files an earlier run decided
        # (a restart after a crash) are read back from the log, a Spark job saved per poll.
        decided = {f.landed.ingest_id: (f.outcome, f.reason) for f in report.files}
        earlier = [i for i in ingest_ids if i not in decided]
        return {**(logged_outcomes(lake, earlier) if earlier else {}),
                **{i: decided[i] for i in ingest_ids if i in decided}}

    return Watcher(lake.settings.landing_root, source.name, inbox, load, batch_size,
                   object_store=lake.settings.object_store)


def load_sensor_registry(lake: Lake, path: Path) -> str:
    """Brings `silver.sensors` to the registry file at `path` (SCD type 2); one line saying
    what changed."""
    data = path.read_bytes()
    sensors = parse_registry(data.decode("utf-8"), str(path))
    attributes = [SensorAttributes(s.sensor_id, float(s.lat), float(s.lng), s.unit, s.type,
                                   float(s.range_min), float(s.range_max), s.description)
                  for s in sensors]
    sha256 = hashlib.sha256(data).hexdigest()
    changes = load_registry(lake, attributes, sha256, utc_now_ms())
    if changes.is_empty:
        return f"sensors: {len(sensors)} sensors, unchanged"
    return (f"sensors: {len(sensors)} sensors; added {', '.join(changes.added) or 'none'}; "
            f"changed {', '.join(changes.changed) or 'none'}; "
            f"removed {', '.join(changes.removed) or 'none'}")
