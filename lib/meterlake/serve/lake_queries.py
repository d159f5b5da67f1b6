"""Read views over the lake: how many meters, one meter's data, which files arrived and when.

The CLI prints them; the HTTP API serves the same questions.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from meterlake.core.contracts import interval_date_of
from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG
from meterlake.silver.meter_readings import SILVER_METER_READINGS


def meters_by_source(lake: Lake) -> DataFrame:
    """One row per (source, commodity): distinct meters and readings in silver."""
    return (
        lake.read(SILVER_METER_READINGS).groupBy("source", "commodity")
        .agg(F.countDistinct("meter_id").alias("meters"), F.count(F.lit(1)).alias("readings"))
        .orderBy("source")
    )


def meter_readings(
    lake: Lake, meter_id: str, start: datetime | None = None, end: datetime | None = None
) -> DataFrame:
    """Silver readings of one meter with `start <= interval_start < end` (either bound open),
    oldest first; the date bounds let Delta skip other partitions."""
    readings_df = lake.read(SILVER_METER_READINGS).filter(F.col("meter_id") == meter_id)
    if start is not None:
        at = F.lit(start).cast("timestamp")
        readings_df = readings_df.filter((F.col("interval_date") >= interval_date_of(at))
                                         & (F.col("interval_start") >= at))
    if end is not None:
        at = F.lit(end).cast("timestamp")
        readings_df = readings_df.filter((F.col("interval_date") <= interval_date_of(at))
                                         & (F.col("interval_start") < at))
    return readings_df.orderBy("interval_start").select(
        "interval_start", "value", "unit", "source", "version_count", "_source_file",
        "_source_line", "_received_at",
    )


def received_files(lake: Lake, source: str | None = None) -> DataFrame:
    """Every received file, in arrival order, with its outcome."""
    log_df = lake.read(INGEST_LOG)
    if source is not None:
        log_df = log_df.filter(F.col("source") == source)
    return log_df.orderBy("received_at", "ingest_id").select(
        "received_at", "source", "original_name", "outcome", "rows_loaded", "rows_quarantined",
        "reason", "ingest_id",
    )


def last_file(lake: Lake, source: str | None = None) -> Row | None:
    """The file received last, or None when nothing was received."""
    return received_files(lake, source).orderBy(
        F.col("received_at").desc(), F.col("ingest_id").desc()
    ).first()
