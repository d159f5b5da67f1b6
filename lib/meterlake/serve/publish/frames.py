"""The Spark side of publishing: DataFrame -> DataFrame steps from silver and the ingest log to
the rows of the relational tables, with timestamps as epoch microseconds (a driver in any time
zone turns them into the same UTC instants with `instant`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant(epoch_us: int) -> datetime:
    """Epoch microseconds as a timezone-aware UTC datetime."""
    return EPOCH + timedelta(microseconds=epoch_us)


def epoch_us(moment: datetime) -> int:
    """A timezone-aware datetime as epoch microseconds."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def filter_unpublished(
    silver_df: DataFrame, watermark: datetime | None, new_ingest_ids: Sequence[str] | None
) -> DataFrame:
    """Silver rows arrived after `watermark`, or loaded from one of `new_ingest_ids`.

    No watermark (first run), or `new_ingest_ids` None (too many to list): every row.
    """
    if watermark is None or new_ingest_ids is None:
        return silver_df
    is_new = F.col("_received_at") > F.timestamp_micros(F.lit(epoch_us(watermark)))
    if new_ingest_ids:
        is_new = is_new | F.col("_ingest_id").isin(list(new_ingest_ids))
    return silver_df.filter(is_new)


def to_meter_rows(rows_df: DataFrame) -> DataFrame:
    """One row per meter of silver rows: profile, first/last interval start and latest arrival
    (epoch µs), and `profile_count`, the number of distinct profiles (more than 1 is an error)."""
    profile = F.struct("commodity", "unit", "interval_minutes", "source")
    return rows_df.groupBy("meter_id").agg(
        F.min(profile).alias("profile"),
        F.count_distinct(profile).alias("profile_count"),
        F.unix_micros(F.min("interval_start")).alias("first_interval_start_us"),
        F.unix_micros(F.max("interval_start")).alias("last_interval_start_us"),
        F.unix_micros(F.max("_received_at")).alias("received_at_us"),
    ).select("meter_id", "profile.*", "profile_count", "first_interval_start_us",
             "last_interval_start_us", "received_at_us")


def to_reading_rows(rows_df: DataFrame) -> DataFrame:
    """Silver rows as `readings` columns, timestamps as epoch µs; grain unchanged."""
    return rows_df.select(
        "meter_id", F.unix_micros("interval_start").alias("interval_start_us"), "value",
        "version_count", F.col("_ingest_id").alias("ingest_id"),
        F.col("_source_line").alias("source_line"),
        F.unix_micros("_received_at").alias("received_at_us"),
    )


def to_file_rows(ingest_log_df: DataFrame) -> DataFrame:
    """One row per loaded file of `ops.ingest_log` as `source_files` columns, `received_at_us`."""
    return ingest_log_df.filter(F.col("outcome") == "loaded").select(
        "ingest_id", "source", "original_name",
        F.unix_micros("received_at").alias("received_at_us"), "sha256", "byte_size", "outcome",
        "rows_loaded",
    )
