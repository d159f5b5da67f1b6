"""Publishes `gold.region_temperature_hourly` into the relational table of the same name.

The gold table is rebuilt whole from silver, so it is published whole at a pinned version: every
row upserted, and the rows the database holds that the pinned version no longer has (a point
re-assigned by a correction) deleted, in one transaction with the `publish_state` row. A run on
a version already published changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyspark.sql import functions as F
from sqlalchemy import delete, select, tuple_
from sqlalchemy.engine import Engine

from meterlake.core.lake import Lake
from meterlake.gold.region_temperature_hourly import GOLD_REGION_TEMPERATURE_HOURLY
from meterlake.serve.publish.database import table, upsert
from meterlake.serve.publish.frames import instant
from meterlake.serve.publish.models import PublishState, RegionTemperatureHourly

TABLE = RegionTemperatureHourly.__tablename__


def _gold_rows(lake: Lake, version: int) -> list[dict[str, Any]]:
    # A small table (hours x 13 regions x 2 assignments): collected whole.
    gold_df = lake.read(GOLD_REGION_TEMPERATURE_HOURLY, version).select(
        F.unix_micros("hour").alias("hour_us"), "region_code", "assignment", "region_name",
        "temperature", "number_of_points")
    return [
        {"hour": instant(r["hour_us"]), "region": r["region_code"],
         "assignment": r["assignment"], "region_name": r["region_name"],
         "temperature": r["temperature"], "numberOfPoints": r["number_of_points"]}
        for r in gold_df.collect()
    ]


def publish_region_temperatures(lake: Lake, engine: Engine, published_at: datetime) -> int:
    """Publishes the gold table at its current version; returns the rows upserted (0 when that
    version was published before, or the table does not exist yet)."""
    if not lake.exists(GOLD_REGION_TEMPERATURE_HOURLY):
        return 0
    version = lake.version(GOLD_REGION_TEMPERATURE_HOURLY)
    with engine.connect() as conn:
        published = conn.execute(select(PublishState.silver_version).where(
            PublishState.table_name == TABLE)).scalar()
    if published == version:
        return 0
    rows = _gold_rows(lake, version)
    model = RegionTemperatureHourly
    keys = {(r["hour"], r["region"], r["assignment"]) for r in rows}
    dialect = engine.dialect.name
    with engine.begin() as conn:
        held = conn.execute(select(model.hour, model.region, model.assignment)).all()
        gone = [k for k in held if (k[0], k[1], k[2]) not in keys]
        if gone:
            conn.execute(delete(model).where(
                tuple_(model.hour, model.region, model.assignment).in_(gone)))
        if rows:
            conn.execute(upsert(dialect, table(TABLE)), rows)
        conn.execute(upsert(dialect, table("publish_state")), [{
            "table_name": TABLE, "silver_version": version, "watermark_received_at": None,
            "published_at": published_at}])
    return len(rows)
