"""Publishing silver into SQLite: the rows equal silver's and the fixture files', a re-run
publishes nothing, a correction updates exactly one reading, a file received before the
watermark but loaded after it is still published, foreign keys hold.

The contract's `check_*` functions live in tests/helpers/publish_case.py;
tests/integration/test_publish_servers.py runs them against PostgreSQL and MariaDB.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from meterlake.cli.publish import TABLE_NAMES, add_publish_parser
from meterlake.core.lake import Lake
from meterlake.serve.publish.database import DatabaseUnreachableError, hide_password, open_database
from meterlake.serve.publish.frames import filter_unpublished
from meterlake.serve.publish.models import Reading
from meterlake.serve.publish.publisher import TABLES, batched, publish
from tests.helpers.publish_case import (
    CORRECTED,
    Publications,
    check_correction_updates_one_reading,
    check_first_publication,
    check_foreign_keys,
    check_late_file_is_published,
    check_rerun_changes_nothing,
    check_timestamps_are_utc,
    check_utc_round_trip,
    database_state,
    stage_publications,
)


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
