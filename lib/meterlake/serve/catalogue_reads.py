"""What the data catalogue reads from the lake, through delta-rs and Arrow (no JVM, no Spark):
commit instants, the latest quality results, when each source's files last arrived and were
last processed.

Every read tolerates a table whose columns are not what its contract says (an older lake, a
table written by another tool): the catalogue then shows less, never fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.object_store import ObjectUrl, arrow_filesystem, is_object_store
from meterlake.serve.delta_reads import TableVersion

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Commits that leave the rows as they were: a table's data is as old as its last other commit.
_MAINTENANCE = frozenset({
    "CREATE TABLE", "OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES",
    "UNSET TBLPROPERTIES", "UPGRADE PROTOCOL", "ADD COLUMNS", "CHANGE COLUMN",
})
# How far back the history is searched for the last commit that changed rows.
_HISTORY_DEPTH = 20
# A landed name starts with its arrival (receive.landing.reserve_slot).
_LANDED_NAME = re.compile(r"^(\d{8}T\d{6}\.\d{6})Z_")
_META_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class CommitTimes:
    """When a table version was committed, and when its rows last changed (the last commit
    that was not maintenance; None when the searched history holds only maintenance)."""

    committed_at: datetime
    data_changed_at: datetime | None


def commit_instant(info: Mapping[str, Any]) -> datetime:
    """The instant that dates a commit: its in-commit timestamp (every meterlake table has
    them), else the commitInfo `timestamp` (what delta-rs and Trino show for older commits)."""
    millis = info.get("inCommitTimestamp", info.get("timestamp"))
    return _EPOCH + timedelta(milliseconds=int(millis or 0))


def commit_times(table: TableVersion) -> CommitTimes:
    """The commit instant of the table's version and of its last change of rows."""
    history = table.table.history(1)
    if not history:
        raise LookupError(f"{table.table.table_uri}: no commit in the history")
    latest = commit_instant(history[0])
    if history[0].get("operation") not in _MAINTENANCE:
        return CommitTimes(latest, latest)
    changed = next((commit_instant(info) for info in table.table.history(_HISTORY_DEPTH)
                    if info.get("operation") not in _MAINTENANCE), None)
    return CommitTimes(latest, changed)


def _columns(table: TableVersion) -> set[str]:
    return set(table.files.schema.names)


@dataclass(frozen=True, order=True)
class CheckResult:
    expectation: str
    scope: str
    is_success: bool


@dataclass(frozen=True)
class TableChecks:
    """The latest result of every expectation evaluated on one table."""

    checked_at: datetime
    table_version: int
    results: tuple[CheckResult, ...]


_DQ_COLUMNS = ("checked_at", "table_name", "table_version", "scope", "expectation", "success")


def latest_checks(dq_results: TableVersion) -> dict[str, TableChecks]:
    """Per table name: each expectation's latest result (all rows of its latest evaluation:
    a region rebuild writes one per assignment), with the newest instant and version."""
    if not set(_DQ_COLUMNS) <= _columns(dq_results):
        return {}
    rows = dq_results.files.to_table(columns=list(_DQ_COLUMNS))
    newest = rows.group_by(["table_name", "expectation"]).aggregate([("checked_at", "max")])
    latest = rows.join(newest, ["table_name", "expectation", "checked_at"],
                       right_keys=["table_name", "expectation", "checked_at_max"],
                       join_type="inner")
    by_table: dict[str, list[dict[str, Any]]] = {}
    for row in latest.to_pylist():
        by_table.setdefault(row["table_name"], []).append(row)
    found = {}
    for name, rows in by_table.items():
        newest = max(rows, key=lambda r: (r["checked_at"], r["table_version"]))
        results = sorted(CheckResult(r["expectation"], r["scope"], bool(r["success"]))
                         for r in rows)
        found[name] = TableChecks(newest["checked_at"], int(newest["table_version"]),
                                  tuple(results))
    return found


@dataclass(frozen=True)
class SensorHour:
    """The newest hour of gold.sensor_quality: the mean quality indicator of its sensors."""

    hour_start: datetime
    mean_indicator: float
    sensors: int


def latest_sensor_hour(sensor_quality: TableVersion) -> SensorHour | None:
    if not {"hour_start", "quality_indicator", "sensor_id"} <= _columns(sensor_quality):
        return None
    rows = sensor_quality.files.to_table(columns=["hour_start", "quality_indicator",
                                                  "sensor_id"])
    if rows.num_rows == 0:
        return None
    newest = pc.max(rows.column("hour_start"))
    hour = rows.filter(pc.equal(rows.column("hour_start"), newest))
    mean = pc.mean(hour.column("quality_indicator")).as_py()
    if mean is None or not math.isfinite(mean):
        return None
    return SensorHour(newest.as_py(), float(mean),
                      len(set(hour.column("sensor_id").to_pylist())))


@dataclass(frozen=True)
class SourceFiles:
    """What ops.ingest_log says of one source: its newest file and when ingest last decided
    one (loaded, rejected or duplicate)."""

    newest_received_at: datetime | None
    last_logged_at: datetime | None


def ingest_log_by_source(ingest_log: TableVersion) -> dict[str, SourceFiles]:
    columns = _columns(ingest_log)
    if not {"source", "received_at"} <= columns:
        return {}
    wanted = ["source", "received_at", *(["logged_at"] if "logged_at" in columns else [])]
    rows: pa.Table = ingest_log.files.to_table(columns=wanted)
    aggregates = [("received_at", "max"), *([("logged_at", "max")] if len(wanted) == 3 else [])]
    found = {}
    for row in rows.group_by("source").aggregate(aggregates).to_pylist():
        found[row["source"]] = SourceFiles(row["received_at_max"], row.get("logged_at_max"))
    return found


def newest_landed_arrival(landing_root: str, source: str,
                          store: ObjectStoreSettings) -> datetime | None:
    """When the newest object of `source` that counts as landed (its metadata written) was
    received; None when nothing has landed. Walks down the newest year, month and day
    directories (`<landing>/<source>/<yyyy>/<mm>/<dd>/`), stepping back when one holds
    nothing landed, so it lists a few directories, not the whole landing zone."""
    if is_object_store(landing_root):
        url = ObjectUrl.parse(landing_root).child(source)
        filesystem, root = arrow_filesystem(store), f"{url.bucket}/{url.key}"
    else:
        filesystem, root = pafs.LocalFileSystem(), f"{landing_root.rstrip('/')}/{source}"
    return _newest_below(filesystem, root, depth=3)


def _newest_below(filesystem: pafs.FileSystem, directory: str, depth: int) -> datetime | None:
    selector = pafs.FileSelector(directory, allow_not_found=True)
    entries = filesystem.get_file_info(selector)
    if depth == 0:
        arrivals = [_arrival(entry.base_name) for entry in entries
                    if entry.type == pafs.FileType.File and entry.base_name.endswith(_META_SUFFIX)]
        return max((a for a in arrivals if a is not None), default=None)
    children = sorted((e.path for e in entries
                       if e.type == pafs.FileType.Directory and e.base_name.isdigit()),
                      reverse=True)
    for child in children:
        newest = _newest_below(filesystem, child, depth - 1)
        if newest is not None:
            return newest
    return None


def _arrival(name: str) -> datetime | None:
    matched = _LANDED_NAME.match(name)
    if matched is None:
        return None
    return datetime.strptime(matched.group(1), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
