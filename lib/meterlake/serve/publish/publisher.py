"""Publishes silver into a relational database, incrementally and idempotently.

Inputs: `silver.meter_readings` at its current Delta version, pinned for the whole run, and the
loaded files of `ops.ingest_log`. Outputs: upserts into `source_files`, `meters` and `readings`
(`meterlake.serve.publish.models`), in that order (readings reference both), one transaction per
batch of `batch_rows`; each table's `publish_state` row commits with that table's last batch, so
a run that dies part-way publishes the same rows again next time (upserts make that harmless).

Incremental by arrival: `meters` and `readings` take the silver rows whose `_received_at` is
after the table's watermark (first run: every row), plus every row of a file the database did
not know when the run started (a file received before the watermark but loaded after it: a slow
receiver, or another source's ingest schedule). A correction is a new winning version with a new
`_received_at`, so it is published; re-running with nothing new upserts nothing and leaves the
database as it was. Run it after `snapshot`, not between an ingest and its snapshot: a file
logged but not yet in silver is recorded in `source_files` then, and if it was received before
the watermark its readings would no longer count as new once silver has them.

Rows reach the driver one partition at a time (`toLocalIterator`), never as a whole table.
Timestamps leave Spark as epoch microseconds, so the driver's time zone cannot shift them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sqlalchemy import select
from sqlalchemy.engine import Engine

from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG
from meterlake.serve.publish.database import (
    DatabaseUnreachableError,
    hide_password,
    open_database,
    table,
    upsert,
)
from meterlake.serve.publish.frames import (
    filter_unpublished,
    instant,
    to_file_rows,
    to_meter_rows,
    to_reading_rows,
)
from meterlake.serve.publish.models import PublishState, SourceFile
from meterlake.serve.publish.region_temperatures import TABLE as REGION_TEMPERATURE_TABLE
from meterlake.serve.publish.region_temperatures import publish_region_temperatures
from meterlake.silver.meter_readings import SILVER_METER_READINGS

# The tables of silver's meter readings, published by default, and the temperature gold table,
# published when named (`--tables region_temperature_hourly`).
METER_TABLES: tuple[str, ...] = ("meters", "source_files", "readings")
TABLES: tuple[str, ...] = (*METER_TABLES, REGION_TEMPERATURE_TABLE)
# Beyond this many files new to the database, republishing everything is simpler and as correct
# as a literal list of their ids in the silver filter.
MAX_NEW_FILES_FILTER = 1000
# A meter's span only grows: the stored and the new first/last interval are combined.
MERGED_METER_COLUMNS = {"first_interval_start": "least", "last_interval_start": "greatest"}

__all__ = ["DatabaseUnreachableError", "PublishError", "PublishReport", "publish"]

T = TypeVar("T")
Row = dict[str, Any]


class PublishError(RuntimeError):
    """The lake is not in a state that can be published (the message says why and what to do)."""


@dataclass(frozen=True)
class PublishReport:
    """What one run published: rows upserted per table, the pinned silver version, and the
    arrival watermark silver is now published up to (None when no meter table was published or
    silver is empty)."""

    database: str
    silver_version: int
    rows_upserted: dict[str, int]
    watermark_received_at: datetime | None

    def __str__(self) -> str:
        counts = ", ".join(f"{name} {rows}" for name, rows in self.rows_upserted.items())
        mark = self.watermark_received_at
        return (f"publish silver.meter_readings version {self.silver_version} to "
                f"{self.database}: rows upserted: {counts}; watermark "
                f"{mark.isoformat() if mark else 'none'}")


@dataclass
class _Tally:
    """Counts the rows one table streams and the latest arrival among them."""

    rows: int = 0
    max_received_us: int | None = None

    def see(self, received_us: int) -> None:
        self.rows += 1
        if self.max_received_us is None or received_us > self.max_received_us:
            self.max_received_us = received_us


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter); nothing for no items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class _Previous:
    silver_version: int
    watermark: datetime | None


def _read_state(engine: Engine) -> tuple[dict[str, _Previous], set[str]]:
    """The publish_state rows by table name, and the ingest ids already in source_files."""
    with engine.connect() as conn:
        states = conn.execute(select(PublishState.table_name, PublishState.silver_version,
                                     PublishState.watermark_received_at)).all()
        known = set(conn.execute(select(SourceFile.ingest_id)).scalars())
    return {name: _Previous(version, mark) for name, version, mark in states}, known


@dataclass(frozen=True)
class _Run:
    """What every table of one run shares."""

    engine: Engine
    silver_version: int
    batch_rows: int
    published_at: datetime
    previous: dict[str, _Previous]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def state_row(self, name: str, tally: _Tally) -> Row | None:
        """The table's next publish_state row; None when nothing changes."""
        before = self.previous.get(name)
        if tally.rows == 0 and before is not None and before.silver_version == self.silver_version:
            return None
        marks = [m for m in (before.watermark if before else None,
                             instant(tally.max_received_us)
                             if tally.max_received_us is not None else None) if m]
        return {"table_name": name, "silver_version": self.silver_version,
                "watermark_received_at": max(marks) if marks else None,
                "published_at": self.published_at}

    def write(self, name: str, rows: Iterable[Row], tally: _Tally,
              merge: Mapping[str, str] | None = None) -> None:
        """Upserts `rows` one transaction per batch; the state row commits with the last one."""
        statement = upsert(self.dialect, table(name), merge)
        pending: list[Row] = []
        for batch in batched(rows, self.batch_rows):
            if pending:
                with self.engine.begin() as conn:
                    conn.execute(statement, pending)
            pending = batch
        state = self.state_row(name, tally)
        if not pending and state is None:
            return
        with self.engine.begin() as conn:
            if pending:
                conn.execute(statement, pending)
            if state is not None:
                conn.execute(upsert(self.dialect, table("publish_state")), [state])

    def watermark(self, name: str) -> datetime | None:
        before = self.previous.get(name)
        return before.watermark if before else None


# --- Rows streamed from Spark to the database ---------------------------------------------------


def _file_rows(files_df: DataFrame, tally: _Tally) -> Iterator[Row]:
    for row in files_df.toLocalIterator():
        tally.see(row["received_at_us"])
        values = row.asDict()
        values["received_at"] = instant(values.pop("received_at_us"))
        yield values


def _meter_rows(meters_df: DataFrame, tally: _Tally) -> Iterator[Row]:
    for row in meters_df.toLocalIterator():
        if row["profile_count"] > 1:
            raise PublishError(
                f"meter {row['meter_id']} has readings with {row['profile_count']} different "
                "(commodity, unit, interval_minutes, source) in silver; fix the source mapping"
            )
        tally.see(row["received_at_us"])
        yield {"meter_id": row["meter_id"], "commodity": row["commodity"], "unit": row["unit"],
               "interval_minutes": row["interval_minutes"], "source": row["source"],
               "first_interval_start": instant(row["first_interval_start_us"]),
               "last_interval_start": instant(row["last_interval_start_us"])}


def _reading_rows(readings_df: DataFrame, file_ids: set[str], tally: _Tally) -> Iterator[Row]:
    for row in readings_df.toLocalIterator():
        if row["ingest_id"] not in file_ids:
            raise PublishError(
                f"silver reading of meter {row['meter_id']} comes from ingest "
                f"{row['ingest_id']}, which ops.ingest_log does not list as loaded (an ingest "
                "that stopped before writing its log?): run the ingest again, then publish"
            )
        tally.see(row["received_at_us"])
        yield {"meter_id": row["meter_id"], "interval_start": instant(row["interval_start_us"]),
               "value": row["value"], "version_count": row["version_count"],
               "ingest_id": row["ingest_id"], "source_line": row["source_line"]}


# --- The run -----------------------------------------------------------------------------------


def _checked_tables(tables: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(tables) - set(TABLES))
    if unknown or not tables:
        raise ValueError(f"cannot publish tables {unknown or '(none)'}: choose from "
                         f"{', '.join(TABLES)}")
    if "readings" in tables and not {"meters", "source_files"} <= set(tables):
        raise ValueError("readings reference meters and source_files: publish them together "
                         "(meters,source_files,readings)")
    return tuple(t for t in TABLES if t in tables)


def _new_files(lake: Lake, known: set[str]) -> tuple[DataFrame, list[str], set[str]]:
    """Loaded files not yet in the database, their ids, and the ids of every loaded file."""
    files_df = to_file_rows(lake.read(INGEST_LOG, lake.version(INGEST_LOG)))
    loaded = {row["ingest_id"] for row in files_df.select("ingest_id").toLocalIterator()}
    new_ids = sorted(loaded - known)
    new_files_df = files_df.filter(F.col("ingest_id").isin(new_ids)) if known else files_df
    return new_files_df, new_ids, loaded | known


def publish(
    lake: Lake,
    database_url: str,
    tables: Sequence[str] = METER_TABLES,
    batch_rows: int = 5000,
) -> PublishReport:
    """Upserts what is new in silver (and new loaded files) into the database at `database_url`.

    Raises ValueError for a bad URL, table list or batch size, DatabaseUnreachableError when the
    database cannot be reached, PublishError when silver cannot be published as it is.
    """
    chosen = _checked_tables(tables)
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    engine = open_database(database_url)
    try:
        return _publish(lake, engine, chosen, batch_rows, hide_password(database_url))
    finally:
        engine.dispose()


def _publish(lake: Lake, engine: Engine, chosen: tuple[str, ...], batch_rows: int,
             shown_url: str) -> PublishReport:
    silver_version = lake.version(SILVER_METER_READINGS)
    silver_df = lake.read(SILVER_METER_READINGS, silver_version)
    previous, known = _read_state(engine)
    run = _Run(engine, silver_version, batch_rows, datetime.now(UTC), previous)
    new_files_df, new_ids, file_ids = _new_files(lake, known)
    listed = new_ids if len(new_ids) <= MAX_NEW_FILES_FILTER else None
    tallies = {name: _Tally() for name in chosen}
    if "source_files" in chosen:
        tally = tallies["source_files"]
        run.write("source_files", _file_rows(new_files_df, tally), tally)
    if "meters" in chosen:
        tally = tallies["meters"]
        meters_df = to_meter_rows(filter_unpublished(silver_df, run.watermark("meters"), listed))
        run.write("meters", _meter_rows(meters_df, tally), tally, merge=MERGED_METER_COLUMNS)
    if "readings" in chosen:
        tally = tallies["readings"]
        readings_df = to_reading_rows(
            filter_unpublished(silver_df, run.watermark("readings"), listed))
        run.write("readings", _reading_rows(readings_df, file_ids, tally), tally)
    if REGION_TEMPERATURE_TABLE in chosen:
        tallies[REGION_TEMPERATURE_TABLE].rows = publish_region_temperatures(
            lake, engine, run.published_at)
    marked = next((t for t in ("readings", "meters") if t in chosen), None)
    state = _read_state(engine)[0].get(marked) if marked else None
    return PublishReport(
        database=shown_url,
        silver_version=silver_version,
        rows_upserted={name: tallies[name].rows for name in chosen},
        watermark_received_at=state.watermark if state else None,
    )
