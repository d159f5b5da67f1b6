"""The publishing contract, stated once: a lake staged in four steps (fixtures, a re-run, a
correction while a late file is still being landed, that late file), published after each to
one or more databases, and the `check_*` functions every database must pass.

tests/integration/test_publish_sqlite.py runs them against SQLite,
tests/integration/test_publish_servers.py against PostgreSQL and MariaDB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import StatementError

from meterlake.core.lake import Lake
from meterlake.engine.ingest import IngestReport, ingest_paths, ingest_pending
from meterlake.engine.snapshot import run_snapshot
from meterlake.receive.landing import META_SUFFIX, land_file
from meterlake.serve.publish.database import open_database
from meterlake.serve.publish.models import Meter, PublishState, Reading, SourceFile
from meterlake.serve.publish.publisher import PublishReport, publish
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import leap_rows, write_drop
from tests.helpers.lakes import lake_at
from tests.helpers.paths import LEAP

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"
CORRECTED = datetime(2020, 6, 6, 9, 15, tzinfo=UTC)  # 312.4 in input_0.csv line 2
REVERTED = datetime(2020, 6, 4, 11, 45, tzinfo=UTC)  # 208.2 in input_0.csv line 3
NEW_METER = "00000000-0000-4000-8000-000000000001"
NEW_INTERVAL = datetime(2020, 6, 1, 0, 0, tzinfo=UTC)
BATCH_ROWS = 500  # 1246 fixture readings: three batches


def aware(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DatabaseState:
    """Every row of the published tables, as sorted tuples of Python values."""

    meters: list[tuple]
    source_files: list[tuple]
    readings: list[tuple]
    publish_state: list[tuple]


def database_state(url: str) -> DatabaseState:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            def rows(*columns: object) -> list[tuple]:
                return sorted(tuple(r) for r in conn.execute(select(*columns)))  # type: ignore[call-overload]
            return DatabaseState(
                meters=rows(*Meter.__table__.columns),
                source_files=rows(*SourceFile.__table__.columns),
                readings=rows(Reading.meter_id, Reading.interval_start, Reading.value,
                              Reading.version_count, Reading.ingest_id, Reading.source_line),
                publish_state=rows(*PublishState.__table__.columns),
            )
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Publications:
    """Published after each stage of one lake: (0) the fixtures ingested and snapshotted, (1)
    nothing new, (2) a correction of one reading, while a late file received before it is still
    being written, (3) that late file, which adds a meter and corrects another reading.
    `silver`, `silver_versions` and `ingests` belong to stages 0, 2 and 3."""

    lake: Lake
    reports: list[PublishReport]
    states: list[DatabaseState]
    silver: list[list[tuple]]
    silver_versions: list[int]
    ingests: list[IngestReport]
    drops: list[Path]


def silver_readings(lake: Lake) -> list[tuple]:
    """Silver's current rows in the `readings` shape, with aware UTC timestamps."""
    rows = lake.read(SILVER_METER_READINGS).select(
        "meter_id", "interval_start", "value", "version_count", "_ingest_id", "_source_line"
    ).collect()
    return sorted((r[0], aware(r[1]), r[2], r[3], r[4], r[5]) for r in rows)


def land_in_flight(lake: Lake, path: Path) -> Callable[[], None]:
    """Lands `path` but keeps its metadata under the in-flight name a slow receiver still has:
    received now, not landed yet. Returns what finishes the landing."""
    landed = land_file(lake.settings.landing_root, UTILITY_DROP_FILES.name, path)
    meta = Path(f"{landed.landing_path}{META_SUFFIX}")
    in_flight = meta.with_name(f".{meta.name}.tmp")
    meta.rename(in_flight)

    def finish() -> None:
        in_flight.rename(meta)

    return finish


def stage_publications(spark: SparkSession, root: Path, urls: list[str]
                       ) -> dict[str, Publications]:
    """One lake, every stage published to each of `urls` (the lake is what costs time)."""
    lake = lake_at(spark, root / "lake")
    reports: dict[str, list[PublishReport]] = {url: [] for url in urls}
    states: dict[str, list[DatabaseState]] = {url: [] for url in urls}
    silver: list[list[tuple]] = []
    versions: list[int] = []

    def snapshot_and_publish(times: int = 1) -> None:
        run_snapshot(lake, utility_drops_source.SNAPSHOT)
        silver.append(silver_readings(lake))
        versions.append(lake.version(SILVER_METER_READINGS))
        for _ in range(times):
            for url in urls:
                reports[url].append(publish(lake, url, batch_rows=BATCH_ROWS))
                states[url].append(database_state(url))

    ingests = [ingest_paths(lake, UTILITY_DROP_FILES, [LEAP])]
    snapshot_and_publish(times=2)
    late = write_drop(root / "late.csv", [(NEW_METER, "2020-06-01T00:00:00.000Z", "10.5"),
                                          (METER, "2020-06-04T11:45:00.000Z", "250.0")])
    finish_landing = land_in_flight(lake, late)
    correction = write_drop(root / "correction.csv",
                            [(METER, "2020-06-06T09:15:00.000Z", "999.9")])
    ingests.append(ingest_paths(lake, UTILITY_DROP_FILES, [correction]))
    snapshot_and_publish()
    finish_landing()
    ingests.append(ingest_pending(lake, UTILITY_DROP_FILES))
    snapshot_and_publish()
    return {url: Publications(lake, reports[url], states[url], silver, versions, ingests,
                              [correction, late]) for url in urls}


def expected_source_files(report: IngestReport, directory: Path) -> list[tuple]:
    """source_files rows of an ingest of the files in `directory`: their own bytes give hash,
    size and number of data lines; the ingest report gives id and arrival."""
    rows = []
    for outcome in report.files:
        path = directory / outcome.landed.original_name
        content = path.read_bytes()
        rows.append((outcome.landed.ingest_id, "utility_drops", path.name,
                     outcome.landed.received_at, hashlib.sha256(content).hexdigest(),
                     len(content), "loaded", content.decode().count("\n") - 1))
    return sorted(rows)


def check_first_publication(p: Publications) -> None:
    state, report = p.states[0], p.reports[0]
    fixture = leap_rows()
    meters = sorted({m for m, *_ in fixture})
    assert report.rows_upserted == {"source_files": 10, "meters": len(meters), "readings": 1246}
    assert state.readings == p.silver[0]
    names = {ingest_id: name for ingest_id, _s, name, *_ in state.source_files}
    assert sorted((m, t, v, names[i], line) for m, t, v, _n, i, line in state.readings) == \
        sorted((m, aware(t), e, f, line) for m, t, e, f, line in fixture)
    assert {r[3] for r in state.readings} == {1}
    assert state.source_files == expected_source_files(p.ingests[0], LEAP)
    assert state.meters == [
        (m, "electricity", "Wh", 15, "utility_drops",
         aware(min(t for mm, t, *_ in fixture if mm == m)),
         aware(max(t for mm, t, *_ in fixture if mm == m)))
        for m in meters
    ]
    last_arrival = max(f.landed.received_at for f in p.ingests[0].files)
    published_at = state.publish_state[0][3]
    assert state.publish_state == [
        (name, p.silver_versions[0], last_arrival, published_at)
        for name in ("meters", "readings", "source_files")
    ]
    assert (report.silver_version, report.watermark_received_at) == \
        (p.silver_versions[0], last_arrival)


def check_rerun_changes_nothing(p: Publications) -> None:
    assert p.reports[1].rows_upserted == {"source_files": 0, "meters": 0, "readings": 0}
    assert p.states[1] == p.states[0]


def check_correction_updates_one_reading(p: Publications) -> None:
    before, after, report = p.states[1], p.states[2], p.reports[2]
    drop = p.ingests[1].files[0].landed
    assert report.rows_upserted == {"source_files": 1, "meters": 1, "readings": 1}
    assert sorted(set(after.readings) - set(before.readings)) == [
        (METER, CORRECTED, 999.9, 2, drop.ingest_id, 2)]
    assert sorted(set(before.readings) - set(after.readings)) == [
        (METER, CORRECTED, 312.4, 1, input_0_id(p), 2)]
    assert after.readings == p.silver[1]
    assert after.meters == before.meters
    assert after.source_files == sorted([*before.source_files,
                                         *expected_source_files(p.ingests[1], p.drops[0].parent)])
    published_at = after.publish_state[0][3]
    assert published_at > before.publish_state[0][3]
    assert after.publish_state == [
        (name, p.silver_versions[1], drop.received_at, published_at)
        for name in ("meters", "readings", "source_files")
    ]


def input_0_id(p: Publications) -> str:
    return next(f.landed.ingest_id for f in p.ingests[0].files
                if f.landed.original_name == "input_0.csv")


def check_late_file_is_published(p: Publications) -> None:
    """A file received before the watermark but loaded after it is published all the same."""
    before, after, report = p.states[2], p.states[3], p.reports[3]
    correction, late = p.ingests[1].files[0].landed, p.ingests[2].files[0].landed
    assert late.received_at < correction.received_at == before.publish_state[0][2]
    assert report.rows_upserted == {"source_files": 1, "meters": 2, "readings": 2}
    assert sorted(set(after.readings) - set(before.readings)) == [
        (NEW_METER, NEW_INTERVAL, 10.5, 1, late.ingest_id, 2),
        (METER, REVERTED, 250.0, 2, late.ingest_id, 3),
    ]
    assert sorted(set(before.readings) - set(after.readings)) == [
        (METER, REVERTED, 208.2, 1, input_0_id(p), 3)]
    assert after.readings == p.silver[2]
    assert after.meters == sorted([*before.meters, (
        NEW_METER, "electricity", "Wh", 15, "utility_drops", NEW_INTERVAL, NEW_INTERVAL)])
    assert after.source_files == sorted([*before.source_files,
                                         *expected_source_files(p.ingests[2], p.drops[1].parent)])
    published_at = after.publish_state[0][3]
    assert after.publish_state == [
        (name, p.silver_versions[2], correction.received_at, published_at)
        for name in ("meters", "readings", "source_files")
    ]


def check_foreign_keys(state: DatabaseState) -> None:
    files = {row[0] for row in state.source_files}
    meters = {row[0] for row in state.meters}
    assert {row[4] for row in state.readings} <= files
    assert {row[0] for row in state.readings} == meters


def check_timestamps_are_utc(state: DatabaseState) -> None:
    moments = [v for rows in (state.meters, state.source_files, state.readings,
                              state.publish_state) for row in rows for v in row
               if isinstance(v, datetime)]
    assert moments and {m.utcoffset() for m in moments} == {timedelta(0)}


def check_utc_round_trip(url: str, stored: object) -> None:
    """An instant given in +02:00 is stored as `stored` (the dialect's raw UTC value) and read
    back as the same instant in UTC; a naive datetime is refused."""
    paris_summer = timezone(timedelta(hours=2))
    given = datetime(2020, 6, 6, 11, 15, 0, 123456, tzinfo=paris_summer)
    row = {"ingest_id": "tz", "source": "utility_drops", "original_name": "tz.csv",
           "received_at": given, "sha256": "0" * 64, "byte_size": 1, "outcome": "loaded",
           "rows_loaded": 0}
    engine = open_database(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(SourceFile), [row])
        with engine.connect() as conn:
            read = conn.execute(select(SourceFile.received_at)).scalar_one()
            raw = conn.execute(text("SELECT received_at FROM source_files")).scalar_one()
        assert (read, read.tzinfo, raw) == (
            datetime(2020, 6, 6, 9, 15, 0, 123456, tzinfo=UTC), UTC, stored)
        with pytest.raises(StatementError, match="naive datetime 2020-06-06T09:15:00"), \
                engine.begin() as conn:
            naive = {**row, "ingest_id": "naive", "received_at": datetime(2020, 6, 6, 9, 15)}
            conn.execute(insert(SourceFile), [naive])
    finally:
        engine.dispose()
