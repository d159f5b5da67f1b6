"""Audit: the history of one reading, and silver as it was known at any past instant.

Both are computed from bronze, which keeps every version forever, so they do not depend on Delta
time-travel retention or VACUUM.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from meterlake.core.contracts import interval_date_of
from meterlake.core.interfaces import MeterSource
from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG
from meterlake.silver.meter_readings import latest_by_arrival, to_silver_rows
from meterlake.sources.registry import METER_SOURCES


def _versions_of(lake: Lake, source: MeterSource, meter_id: str, at: Column) -> DataFrame:
    """One source's bronze versions of a reading, with `is_current` by that source's order."""
    newest_first = Window.partitionBy("meter_id", "interval_start").orderBy(
        *(F.col(c).desc() for c in source.bronze.ordering)
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (
        lake.read(source.bronze)
        .filter((F.col("interval_date") == interval_date_of(at))
                & (F.col("meter_id") == meter_id) & (F.col("interval_start") == at))
        .withColumn("is_current", F.row_number().over(newest_first) == 1)
        .select(F.lit(source.name).alias("source"), "meter_id", "interval_start",
                F.col(source.value_column).cast("double").alias("value"), "_source_file",
                "_source_line", "_received_at", "_ingest_id", "_file_sha256", "is_current")
    )


def reading_history(lake: Lake, meter_id: str, interval_start: datetime) -> DataFrame:
    """Every version one reading ever had, in arrival order: value, file, line, arrival, landing
    path, and whether it is the current one (by its source's ordering)."""
    at = F.lit(interval_start).cast("timestamp")
    versions = [_versions_of(lake, source, meter_id, at) for source in METER_SOURCES]
    history_df = reduce(DataFrame.unionByName, versions)
    landing_df = lake.read(INGEST_LOG).select(F.col("ingest_id").alias("_ingest_id"),
                                              "landing_path")
    return (
        history_df.join(landing_df, on="_ingest_id", how="left")
        .orderBy("_received_at", "_source_line")
        .select("meter_id", "interval_start", "value", "source", "_source_file", "_source_line",
                "_received_at", "_ingest_id", "_file_sha256", "landing_path", "is_current")
    )


def as_known_at(lake: Lake, at: datetime) -> DataFrame:
    """silver.meter_readings rebuilt from the bronze rows received at or before `at`."""
    rebuilt = [
        lake.read(source.bronze).filter(F.col("_received_at") <= F.lit(at))
        .transform(latest_by_arrival, source).transform(to_silver_rows, source)
        for source in METER_SOURCES
    ]
    return reduce(DataFrame.unionByName, rebuilt)
