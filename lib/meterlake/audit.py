"""Audit: the history of one reading, and silver as it was known at any past instant.

Both are computed from bronze, which keeps every version forever, so they do not depend on Delta
time-travel retention or VACUUM.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from meterlake.lake import Lake
from meterlake.silver import UTILITY_DROPS, MeterSource, latest_by_arrival, to_silver_rows
from meterlake.tables import INGEST_LOG, interval_date_of

METER_SOURCES: tuple[MeterSource, ...] = (UTILITY_DROPS,)


def reading_history(lake: Lake, meter_id: str, interval_start: datetime) -> DataFrame:
    """Every version one reading ever had, oldest first: value, file, line, arrival, landing
    path, and whether it is the current one."""
    at = F.lit(interval_start).cast("timestamp")
    versions = []
    for source in METER_SOURCES:
        bronze_df = lake.read(source.bronze).filter(
            (F.col("interval_date") == interval_date_of(at))
            & (F.col("meter_id") == meter_id) & (F.col("interval_start") == at)
        )
        versions.append(bronze_df.select(
            F.lit(source.name).alias("source"), "meter_id", "interval_start",
            F.col(source.value_column).cast("double").alias("value"),
            *source.bronze.ordering,
            "_source_file", "_file_sha256",
        ))
    history = versions[0]
    for more in versions[1:]:
        history = history.unionByName(more)
    landing = lake.read(INGEST_LOG).select(
        F.col("ingest_id").alias("_ingest_id"), "landing_path"
    )
    newest_first = Window.partitionBy("meter_id", "interval_start").orderBy(
        *(F.col(c).desc() for c in UTILITY_DROPS.bronze.ordering)
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (
        history.join(landing, on="_ingest_id", how="left")
        .withColumn("is_current", F.row_number().over(newest_first) == 1)
        .orderBy(*UTILITY_DROPS.bronze.ordering)
        .select("meter_id", "interval_start", "value", "source", "_source_file", "_source_line",
                "_received_at", "_ingest_id", "_file_sha256", "landing_path", "is_current")
    )


def as_known_at(lake: Lake, at: datetime, source: MeterSource = UTILITY_DROPS) -> DataFrame:
    """silver.meter_readings rebuilt from the bronze rows received at or before `at`."""
    known = lake.read(source.bronze).filter(F.col("_received_at") <= F.lit(at))
    return known.transform(latest_by_arrival, source).transform(to_silver_rows, source)
