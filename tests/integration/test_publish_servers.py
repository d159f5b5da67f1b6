"""The publishing contract of tests/helpers/publish_case.py against real PostgreSQL and
MariaDB servers, started by infra/postgres.sh and infra/mariadb.sh on loopback (and stopped at
the end when this session started them).

The servers are the session's (`servers` in tests/conftest.py). One lake is staged (fixtures,
re-run, correction, late file) and every stage is published to both servers, each from a
freshly created schema: the lake is what costs time, not the databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import SparkSession
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import IntegrityError

from meterlake.core.lake import Lake
from meterlake.serve.publish.database import DatabaseUnreachableError, open_database
from meterlake.serve.publish.models import Reading
from meterlake.serve.publish.publisher import publish
from tests.helpers.database_servers import SCRIPTS, reset_schema
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
    stage_publications,
)

pytestmark = pytest.mark.slow

SERVERS = pytest.mark.parametrize("server", sorted(SCRIPTS))
# What each server returns for a raw SELECT of 2020-06-06T09:15:00.123456Z: PostgreSQL a zoned
# instant, MariaDB the naive UTC wall time of its DATETIME(6).
RAW_UTC = {
    "postgresql": datetime(2020, 6, 6, 9, 15, 0, 123456, tzinfo=UTC),
    "mariadb": datetime(2020, 6, 6, 9, 15, 0, 123456),
}
COLUMN_TYPE = {
    "postgresql": ("SELECT data_type, datetime_precision FROM information_schema.columns "
                   "WHERE table_name = 'readings' AND column_name = 'interval_start'"),
    "mariadb": ("SELECT data_type, datetime_precision FROM information_schema.columns WHERE "
                "table_schema = DATABASE() AND table_name = 'readings' "
                "AND column_name = 'interval_start'"),
}


@pytest.fixture
def fresh(servers: dict[str, str], request: pytest.FixtureRequest) -> str:
    """The URL of the test's `server`, its schema freshly created."""
    url = servers[request.node.callspec.params["server"]]
    reset_schema(url)
    return url


@pytest.fixture(scope="module")
def published(spark: SparkSession, servers: dict[str, str],
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Publications]:
    for url in servers.values():
        reset_schema(url)
    staged = stage_publications(spark, tmp_path_factory.mktemp("publish_servers"),
                                list(servers.values()))
    return {name: staged[url] for name, url in servers.items()}


@SERVERS
def test_first_publication_equals_silver_and_the_fixture_files(
    published: dict[str, Publications], server: str
) -> None:
    check_first_publication(published[server])
    check_timestamps_are_utc(published[server].states[0])


@SERVERS
def test_publishing_again_changes_nothing(published: dict[str, Publications],
                                          server: str) -> None:
    check_rerun_changes_nothing(published[server])


@SERVERS
def test_a_correction_updates_exactly_that_reading(published: dict[str, Publications],
                                                   server: str) -> None:
    check_correction_updates_one_reading(published[server])


@SERVERS
def test_a_file_received_before_the_watermark_but_loaded_after_is_published(
    published: dict[str, Publications], server: str
) -> None:
    check_late_file_is_published(published[server])


@SERVERS
def test_every_reading_references_a_published_file_and_meter(
    published: dict[str, Publications], server: str
) -> None:
    for state in published[server].states:
        check_foreign_keys(state)


@SERVERS
def test_timestamps_are_stored_as_utc_and_read_back_aware(fresh: str, server: str) -> None:
    check_utc_round_trip(fresh, RAW_UTC[server])


@SERVERS
def test_timestamp_columns_keep_microseconds(fresh: str, server: str) -> None:
    engine = create_engine(fresh)
    try:
        with engine.connect() as conn:
            column = tuple(conn.execute(text(COLUMN_TYPE[server])).one())
    finally:
        engine.dispose()
    assert column == {"postgresql": ("timestamp with time zone", 6),
                      "mariadb": ("datetime", 6)}[server]


@SERVERS
def test_the_server_enforces_foreign_keys(fresh: str, server: str) -> None:
    orphan = {"meter_id": "m1", "interval_start": CORRECTED, "value": 1.0, "version_count": 1,
              "ingest_id": "nowhere", "source_line": 2}
    engine = open_database(fresh)
    try:
        with pytest.raises(IntegrityError, match="foreign key"), engine.begin() as conn:
            conn.execute(insert(Reading), [orphan])
    finally:
        engine.dispose()


@SERVERS
def test_a_wrong_password_is_named_without_the_password(
    lake: Lake, servers: dict[str, str], server: str
) -> None:
    wrong = servers[server].replace(":meterlake@", ":n0t-it@")
    with pytest.raises(DatabaseUnreachableError) as refused:
        publish(lake, wrong)
    shown = wrong.replace(":n0t-it@", ":***@")
    reason = {"postgresql": 'password authentication failed for user "meterlake"',
              "mariadb": "Access denied for user 'meterlake'@'127.0.0.1'"}[server]
    assert str(refused.value).startswith(f"cannot reach database {shown}: ")
    assert reason in str(refused.value)
    assert "n0t-it" not in str(refused.value)
