"""The relational schema silver is published into: meters, source files, readings, and the
publisher's own progress. One declaration for SQLite, PostgreSQL and MariaDB/MySQL.

Grain and keys:
- `meters`: one row per meter (`meter_id`): what it measures, and the first and last interval
  start of its published readings.
- `source_files`: one row per loaded file (`ingest_id`), from `ops.ingest_log`.
- `readings`: one row per (`meter_id`, `interval_start`): the current value of silver and the
  file (`ingest_id`) and line it came from.
- `region_temperature_hourly`: one row per (`hour`, `region`, `assignment`): the mean temperature
  of `gold.region_temperature_hourly`, with the partner spec's column names (`region` is the
  INSEE region code, `numberOfPoints` the points behind the mean).
- `publish_state`: one row per published table (`table_name`): the silver version and the
  arrival watermark it reached.

Time: every timestamp is an instant in UTC. PostgreSQL stores `timestamp with time zone`.
MariaDB/MySQL have no zoned type (`TIMESTAMP` converts through the session zone and ends in
2038), so they store `DATETIME(6)` holding UTC wall time, naive; SQLite stores the same as text.
`UtcDateTime` converts at the edge: it refuses naive datetimes when writing, writes UTC, and
always reads back timezone-aware UTC datetimes, whatever the dialect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Double, ForeignKey, Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

# Dialects without a zoned timestamp: UTC is stored naive and the zone restored when reading.
NAIVE_UTC_DIALECTS = frozenset({"mysql", "mariadb", "sqlite"})


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored as UTC; Python sees timezone-aware UTC datetimes only."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            # Microseconds, as in the lake; plain DATETIME would round them away.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()}: give it a zone (meterlake stores instants)"
            )
        utc_value = value.astimezone(UTC)
        return utc_value.replace(tzinfo=None) if dialect.name in NAIVE_UTC_DIALECTS else utc_value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Meter(Base):
    """One row per meter: what it measures and the span of its published readings."""

    __tablename__ = "meters"

    meter_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    commodity: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    interval_minutes: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(64))
    first_interval_start: Mapped[datetime] = mapped_column(UtcDateTime())
    last_interval_start: Mapped[datetime] = mapped_column(UtcDateTime())


class SourceFile(Base):
    """One row per file loaded into bronze: where and when it arrived, what it held."""

    __tablename__ = "source_files"

    ingest_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(1024))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sha256: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    rows_loaded: Mapped[int] = mapped_column(BigInteger)


class Reading(Base):
    """One row per (meter, interval): silver's current value and the file and line it came from."""

    __tablename__ = "readings"

    meter_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("meters.meter_id"), primary_key=True
    )
    interval_start: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    value: Mapped[float] = mapped_column(Double())
    version_count: Mapped[int] = mapped_column(BigInteger)
    ingest_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("source_files.ingest_id"), index=True
    )
    source_line: Mapped[int] = mapped_column(Integer)


class RegionTemperatureHourly(Base):
    """One row per import hour (UTC), region and assignment: the mean temperature."""

    __tablename__ = "region_temperature_hourly"

    hour: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    assignment: Mapped[str] = mapped_column(String(16), primary_key=True)
    region_name: Mapped[str] = mapped_column(String(128))
    temperature: Mapped[float] = mapped_column(Double())
    number_of_points: Mapped[int] = mapped_column("numberOfPoints", BigInteger)


class PublishState(Base):
    """One row per published table: how far the publisher got, committed with its last batch."""

    __tablename__ = "publish_state"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    silver_version: Mapped[int] = mapped_column(BigInteger)
    watermark_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
