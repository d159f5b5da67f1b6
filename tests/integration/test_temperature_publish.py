"""`gold.region_temperature_hourly` published with `meterlake publish --tables
region_temperature_hourly` into SQLite, and into the real MariaDB and PostgreSQL servers of the
session (tests/conftest.py `servers`), where sql/temperature_3_hours_before.sql gives the same
rows as in Spark SQL (tests/integration/test_temperatures.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from meterlake.core.lake import Lake
from meterlake.serve.publish.models import RegionTemperatureHourly
from meterlake.serve.publish.publisher import publish
from tests.helpers.database_servers import reset_schema
from tests.helpers.lakes import lake_at
from tests.helpers.paths import REPO
from tests.helpers.temperature_case import (
    EXPECTED_3_HOURS_BEFORE,
    EXPECTED_HOURLY,
    stage_temperature_lake,
)

QUERY = (REPO / "sql" / "temperature_3_hours_before.sql").read_text(encoding="utf-8")
TABLES = ("region_temperature_hourly",)


@pytest.fixture(scope="module")
def staged(spark, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return stage_temperature_lake(lake_at(spark, tmp_path_factory.mktemp("temperature_publish")))


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def published_rows(url: str) -> list[tuple]:
    engine = create_engine(url)
    model = RegionTemperatureHourly
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(model.hour, model.region, model.region_name,
                                       model.assignment, model.temperature,
                                       model.number_of_points)).all()
    finally:
        engine.dispose()
    return sorted((naive_utc(r[0]), *r[1:]) for r in rows)


def query_rows(url: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(QUERY)).all()
    finally:
        engine.dispose()
    return sorted((r[0], r[1], naive_utc(r[2]), r[3], r[4]) for r in rows)


def test_sqlite_gets_the_spec_table_once(staged: Lake, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'published.db'}"
    first = publish(staged, url, TABLES)
    again = publish(staged, url, TABLES)
    assert (first.rows_upserted, again.rows_upserted) == (
        {"region_temperature_hourly": len(EXPECTED_HOURLY)}, {"region_temperature_hourly": 0})
    assert published_rows(url) == EXPECTED_HOURLY
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            columns = [c[1] for c in conn.execute(
                text("PRAGMA table_info(region_temperature_hourly)")).all()]
    finally:
        engine.dispose()
    assert columns == ["hour", "region", "assignment", "region_name", "temperature",
                       "numberOfPoints"]


@pytest.mark.slow
@pytest.mark.parametrize("server", ["mariadb", "postgresql"])
def test_the_3_hours_before_query_gives_the_same_rows_on_the_server(
    staged: Lake, servers: dict[str, str], server: str
) -> None:
    url = servers[server]
    reset_schema(url)
    publish(staged, url, TABLES)
    assert published_rows(url) == EXPECTED_HOURLY
    assert query_rows(url) == EXPECTED_3_HOURS_BEFORE
