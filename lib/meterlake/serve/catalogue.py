"""The data catalogue: every table of the lake with its grain, keys, columns, owner, freshness,
current quality and lineage (`meterlake catalog`, `/dashboard/catalog`, `/v1/catalog`).

What a table is comes from its contract, so the catalogue cannot drift from the code: the
descriptions (`meterlake.catalog.table_descriptions`). This process may not import Spark (the
contracts do), so `load_descriptions` runs `python -m meterlake.catalog` once and keeps its
JSON. What a table holds now comes from the lake through delta-rs:

- freshness: the latest version and its commit instant, the instant its rows last changed
  (maintenance such as OPTIMIZE does not count), and its lag behind its inputs: how much later
  the newest of them changed (a table's last change of rows, a landing zone's newest arrival)
  than this table, 0 when it is up to date. A table fed by a landing zone counts as having
  seen an arrival once ingest decided the source's files after it (ops.ingest_log.logged_at),
  so a duplicate or rejected file does not make it look behind;
- quality: each expectation's latest result in ops.dq_results, and for the tables of sensor
  readings (with a sensor_id, coming from a landing zone) the mean quality indicator of the
  newest hour of gold.sensor_quality;
- lineage: the inputs it is fed by, the landing zones and reference files it comes from through
  every layer, and the tables it feeds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from meterlake.core.instants import utc_now_ms
from meterlake.core.table_description import (
    LANDING,
    TableDescription,
    is_landing,
    is_reference,
)
from meterlake.serve import catalogue_reads as creads
from meterlake.serve.delta_reads import LatestTables, MissingTableError, TableRef, TableVersion

# The tables whose rows the catalogue reads, besides every table's log.
_DQ_RESULTS = "ops.dq_results"
_INGEST_LOG = "ops.ingest_log"
_SENSOR_QUALITY = "gold.sensor_quality"
_descriptions: tuple[TableDescription, ...] | None = None
_descriptions_lock = threading.Lock()


def load_descriptions() -> tuple[TableDescription, ...]:
    """Every table's description, from the contracts: computed once per process by
    `python -m meterlake.catalog` in a child process, which may import Spark's types."""
    global _descriptions
    with _descriptions_lock:
        if _descriptions is None:
            printed = subprocess.run([sys.executable, "-m", "meterlake.catalog"], check=True,
                                     capture_output=True, text=True, timeout=120).stdout
            _descriptions = tuple(TableDescription.from_dict(raw) for raw in json.loads(printed))
        return _descriptions


@dataclass(frozen=True)
class Freshness:
    version: int
    committed_at: datetime
    data_changed_at: datetime | None
    # Seconds the newest input is ahead of this table (0: up to date); None when no input's
    # instant is known (no input written yet, or only reference files).
    lag_seconds: float | None
    # The input furthest ahead, when the table lags.
    behind: str | None


@dataclass(frozen=True)
class Quality:
    checks: creads.TableChecks | None
    sensor_hour: creads.SensorHour | None

    @property
    def failed(self) -> tuple[str, ...]:
        results = self.checks.results if self.checks else ()
        return tuple(f"{r.expectation} ({r.scope})" for r in results if not r.is_success)


@dataclass(frozen=True)
class LandingZone:
    name: str
    location: str
    newest_arrival: datetime | None
    # Where newest_arrival was seen: the landing zone, or ops.ingest_log when the landing
    # zone could not be listed (an identity that may only read the lake).
    seen_in: str


@dataclass(frozen=True)
class Entry:
    description: TableDescription
    location: str
    freshness: Freshness | None  # None: not written yet
    quality: Quality
    sources: tuple[str, ...]
    feeds: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    lake_root: str
    landing_root: str
    generated_at: datetime
    landing: tuple[LandingZone, ...]
    entries: tuple[Entry, ...]


class CatalogueBuilder:
    """Builds the catalogue of one lake on request; keeps what a version cannot change (its
    commit instants) between requests, so a server re-reads only tables that moved."""

    def __init__(self, descriptions: Sequence[TableDescription], tables: LatestTables,
                 landing_root: str) -> None:
        self.descriptions = tuple(descriptions)
        self.tables = tables
        self.landing_root = landing_root
        self._by_name = {d.qualified_name: d for d in self.descriptions}
        self._commits: dict[tuple[str, int], creads.CommitTimes] = {}

    def build(self) -> Catalogue:
        opened = {d.qualified_name: self._open(d) for d in self.descriptions}
        times = {name: self._commit_times(name, table) for name, table in opened.items()
                 if table is not None}
        files: dict[str, creads.SourceFiles] = _read(
            opened.get(_INGEST_LOG), creads.ingest_log_by_source, {})
        landing = tuple(self._landing_zone(name, files) for name in self._landing_names())
        checks: dict[str, creads.TableChecks] = _read(
            opened.get(_DQ_RESULTS), creads.latest_checks, {})
        sensor_hour = _read(opened.get(_SENSOR_QUALITY), creads.latest_sensor_hour, None)
        arrivals = {zone.name: zone.newest_arrival for zone in landing}
        entries = []
        for description in self.descriptions:
            name, table = description.qualified_name, opened[description.qualified_name]
            freshness = None if table is None else _freshness(
                description, table.version, times[name], times, arrivals, files)
            sources = self._sources(name)
            # Sensor readings, not the registry (a dimension from a file), answer to the
            # readings' quality indicator.
            is_readings = any(c.name == "sensor_id" for c in description.columns) \
                and any(map(is_landing, sources))
            quality = Quality(checks.get(name), sensor_hour if is_readings else None)
            entries.append(Entry(description, description.path(self.tables.lake_root),
                                 freshness, quality, sources, self._feeds(name)))
        return Catalogue(self.tables.lake_root, self.landing_root, utc_now_ms(), landing,
                         tuple(entries))

    def _open(self, description: TableDescription) -> TableVersion | None:
        try:
            return self.tables.latest(TableRef(description.layer, description.name,
                                               "not written yet"))
        except MissingTableError:
            return None

    def _commit_times(self, name: str, table: TableVersion) -> creads.CommitTimes:
        key = (name, table.version)
        if key not in self._commits:
            self._commits[key] = creads.commit_times(table)
        return self._commits[key]

    def _landing_names(self) -> list[str]:
        return list(dict.fromkeys(source for d in self.descriptions for source in d.fed_by
                                  if is_landing(source)))

    def _landing_zone(self, name: str, files: dict[str, creads.SourceFiles]) -> LandingZone:
        source = name.removeprefix(LANDING)
        location = f"{self.landing_root.rstrip('/')}/{source}"
        try:
            return LandingZone(name, location, creads.newest_landed_arrival(
                self.landing_root, source, self.tables.store), "landing zone")
        except OSError:
            logged = files.get(source)
            return LandingZone(name, location, logged.newest_received_at if logged else None,
                               "ops.ingest_log")

    def _sources(self, name: str) -> tuple[str, ...]:
        """The landing zones and reference files `name` comes from, through every layer."""
        found: list[str] = []
        seen: set[str] = set()
        pending = list(self._by_name[name].fed_by)
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if is_landing(current) or is_reference(current):
                found.append(current)
            elif current in self._by_name:
                pending.extend(self._by_name[current].fed_by)
        return tuple(sorted(found))

    def _feeds(self, name: str) -> tuple[str, ...]:
        return tuple(d.qualified_name for d in self.descriptions if name in d.fed_by)


_Read = TypeVar("_Read")


def _read(table: TableVersion | None, read: Callable[[TableVersion], _Read],
          otherwise: _Read) -> _Read:
    return otherwise if table is None else read(table)


def _freshness(description: TableDescription, version: int, own: creads.CommitTimes,
               times: dict[str, creads.CommitTimes], arrivals: dict[str, datetime | None],
               files: dict[str, creads.SourceFiles]) -> Freshness:
    seen = own.data_changed_at
    lags: list[tuple[float, str]] = []
    for source in description.fed_by:
        if is_landing(source):
            newest = arrivals.get(source)
            logged = files.get(source.removeprefix(LANDING))
            decided = logged.last_logged_at if logged else None
            since = max((t for t in (seen, decided) if t is not None), default=None)
        else:
            newest = times[source].data_changed_at if source in times else None
            since = seen
        if newest is None:
            continue
        # A table never changed (created empty by a reader) has seen nothing since it was made.
        ahead = (newest - (since or own.committed_at)).total_seconds()
        lags.append((max(0.0, ahead), source))
    if not lags:
        return Freshness(version, own.committed_at, own.data_changed_at, None, None)
    lag, behind = max(lags)
    return Freshness(version, own.committed_at, own.data_changed_at, lag,
                     behind if lag > 0 else None)
