"""Publishing silver into SQLite: the rows equal silver's and the fixture files', a re-run
publishes nothing, a correction updates exactly one reading, a file received before the
watermark but loaded after it is still published, foreign keys hold.

The `check_*` helpers state the contract once; tests/integration/test_publish_servers.py runs
them against PostgreSQL and MariaDB.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError

from meterlake.bronze import IngestReport, ingest_pending
from meterlake.lake import Lake
from meterlake.pipeline import ingest_paths
from meterlake.publish.cli import TABLE_NAMES, add_publish_parser
from meterlake.publish.database import DatabaseUnreachableError, hide_password, open_database
from meterlake.publish.frames import filter_unpublished
from meterlake.publish.models import Meter, PublishState, Reading, SourceFile
from meterlake.publish.publisher import TABLES, PublishReport, batched, publish
from meterlake.receive.landing import META_SUFFIX, land_file
from meterlake.silver import UTILITY_DROPS, run_snapshot
from meterlake.sources.utility_drops import UTILITY_DROP_FILES
from meterlake.tables import SILVER_METER_READINGS
from tests.conftest import LEAP, lake_at
from tests.integration.fixture_data import leap_rows, write_drop

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
        run_snapshot(lake, UTILITY_DROPS)
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


@pytest.fixture(scope="module")
def published(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Publications:
    root = tmp_path_factory.mktemp("publish_sqlite")
    url = f"sqlite:///{root / 'meterlake.db'}"
    return stage_publications(spark, root, [url])[url]


def test_first_publication_equals_silver_and_the_fixture_files(published: Publications) -> None:
    check_first_publication(published)
    check_timestamps_are_utc(published.states[0])


def test_publishing_again_changes_nothing(published: Publications) -> None:
    check_rerun_changes_nothing(published)


def test_a_correction_updates_exactly_that_reading(published: Publications) -> None:
    check_correction_updates_one_reading(published)


def test_a_file_received_before_the_watermark_but_loaded_after_is_published(
    published: Publications,
) -> None:
    check_late_file_is_published(published)


def test_every_reading_references_a_published_file_and_meter(published: Publications) -> None:
    for state in published.states:
        check_foreign_keys(state)


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


@contextmanager
def committed_inserts() -> Iterator[list[set[str]]]:
    """Per committed transaction of any engine, the set of tables its INSERTs wrote."""
    done: list[set[str]] = []
    current: set[str] = set()

    def on_execute(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        match = re.match(r"\s*INSERT INTO (\w+)", statement)
        if match:
            current.add(match.group(1))

    def on_commit(_conn: object) -> None:
        if current:
            done.append(set(current))
            current.clear()

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", on_commit)
    try:
        yield done
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "commit", on_commit)


def test_each_batch_is_a_transaction_and_the_state_commits_with_the_last(
    published: Publications, tmp_path: Path
) -> None:
    with committed_inserts() as transactions:
        report = publish(published.lake, f"sqlite:///{tmp_path / 'batches.db'}", batch_rows=500)
    assert report.rows_upserted == {"meters": 4, "source_files": 12, "readings": 1247}
    assert transactions == [
        {"source_files", "publish_state"},
        {"meters", "publish_state"},
        {"readings"}, {"readings"}, {"readings", "publish_state"},
    ]


def test_timestamps_are_stored_as_utc_text_and_read_back_aware(tmp_path: Path) -> None:
    check_utc_round_trip(f"sqlite:///{tmp_path / 'tz.db'}", "2020-06-06 09:15:00.123456")


def test_sqlite_connections_enforce_foreign_keys(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'fk.db'}")
    orphan = {"meter_id": "m1", "interval_start": CORRECTED, "value": 1.0, "version_count": 1,
              "ingest_id": "nowhere", "source_line": 2}
    try:
        with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"), \
                engine.begin() as conn:
            conn.execute(insert(Reading), [orphan])
    finally:
        engine.dispose()


def test_a_bad_url_or_unreachable_database_is_a_clear_error(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not a database URL: 'postgres ql://u:\*\*\*@h/db'"):
        publish(lake, "postgres ql://u:s3cret@h/db")
    with pytest.raises(ValueError, match="cannot publish to oracle://u:\\*\\*\\*@h/db: supported"):
        publish(lake, "oracle://u:s3cret@h/db")
    with pytest.raises(DatabaseUnreachableError) as refused:
        publish(lake, "postgresql+psycopg://meterlake:s3cret@127.0.0.1:1/meterlake")
    assert str(refused.value).startswith(
        "cannot reach database postgresql+psycopg://meterlake:***@127.0.0.1:1/meterlake: ")
    assert "s3cret" not in str(refused.value)
    with pytest.raises(DatabaseUnreachableError,
                       match="cannot reach database sqlite:///.*/missing/x.db: unable to open"):
        publish(lake, f"sqlite:///{tmp_path / 'missing' / 'x.db'}")


def test_tables_must_be_known_and_readings_come_with_what_they_reference(lake: Lake) -> None:
    url = "sqlite://"
    with pytest.raises(ValueError, match=r"cannot publish tables \['bogus'\]"):
        publish(lake, url, tables=("meters", "bogus"))
    with pytest.raises(ValueError, match="readings reference meters and source_files"):
        publish(lake, url, tables=("readings",))
    with pytest.raises(ValueError, match="batch_rows must be at least 1, not 0"):
        publish(lake, url, batch_rows=0)


def test_hide_password_also_in_urls_that_do_not_parse() -> None:
    assert [hide_password(u) for u in (
        "mysql+pymysql://meterlake:pa@ss@127.0.0.1:33069/meterlake",
        "postgres ql://u:s3cret@h/db",
        "sqlite:///var/x.db",
    )] == [
        "mysql+pymysql://meterlake:***@127.0.0.1:33069/meterlake",
        "postgres ql://u:***@h/db",
        "sqlite:///var/x.db",
    ]


def test_batched_keeps_order_and_a_short_last_batch() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched(range(6), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(batched([], 3)) == []


def test_filter_unpublished_keeps_later_arrivals_and_new_files(spark: SparkSession) -> None:
    watermark = datetime(2020, 6, 2, 9, 0, tzinfo=UTC)
    silver_df = spark.createDataFrame([
        ("m1", "old", datetime(2020, 6, 2, 8, 59, 59, 999999)),
        ("m2", "old", datetime(2020, 6, 2, 9, 0)),  # at the watermark: published already
        ("m3", "new", datetime(2020, 6, 2, 9, 0, 0, 1)),
        ("m4", "late", datetime(2020, 6, 1, 0, 0)),  # received early, loaded late
    ], "meter_id string, _ingest_id string, _received_at timestamp")

    def meters(new_ids: list[str] | None, mark: datetime | None = watermark) -> list[str]:
        rows = filter_unpublished(silver_df, mark, new_ids).select("meter_id").collect()
        return sorted(r[0] for r in rows)

    assert meters([]) == ["m3"]
    assert meters(["late"]) == ["m3", "m4"]
    assert meters(None) == ["m1", "m2", "m3", "m4"]
    assert meters([], None) == ["m1", "m2", "m3", "m4"]


def _publish_command(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="meterlake")
    add_publish_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["publish", *argv])


def test_cli_publishes_from_the_lake_and_prints_the_report(
    published: Publications, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test session's settings, so that the CLI reuses the session unchanged.
    conf = tmp_path / "conf.yaml"
    conf.write_text("lake_root: unused\nspark:\n  master: local[2]\n  shuffle_partitions: 2\n"
                    "  delta_snapshot_partitions: 1\n  ui_enabled: false\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = _publish_command(["--to", url, "--tables", "source_files,meters", "--conf", str(conf),
                             "--lake", published.lake.settings.lake_root])
    assert args.handler(args) == 0
    mark = published.ingests[1].files[0].landed.received_at
    assert capsys.readouterr().out == (
        f"publish silver.meter_readings version {published.silver_versions[2]} to {url}: "
        f"rows upserted: meters 4, source_files 12; watermark {mark.isoformat()}\n")
    assert database_state(url).readings == []


def test_cli_reports_an_unreachable_database_without_its_password(
    capsys: pytest.CaptureFixture[str]
) -> None:
    args = _publish_command(["--to", "mysql+pymysql://meterlake:s3cret@127.0.0.1:1/meterlake"])
    assert args.handler(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("meterlake: error: cannot reach database "
                            "mysql+pymysql://meterlake:***@127.0.0.1:1/meterlake: ")
    assert "s3cret" not in error


def test_cli_refuses_unknown_tables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _publish_command(["--to", "sqlite://", "--tables", "meters,gold"])
    assert exit_info.value.code == 2
    assert "unknown tables ['gold']; choose from meters,source_files,readings" in \
        capsys.readouterr().err
    assert TABLE_NAMES == TABLES
