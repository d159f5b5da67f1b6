"""`silver.dropzone_measurements` and `gold.dropzone_daily` from `bronze.dropzone`.

Like the meter readings, each run reads the payloads appended since the last run (change feed),
recomputes the touched timestamps from bronze and MERGEs them with literal date partitions, so
re-running or loading in another order gives the same table. Per timestamp, the statistics are
the newest payload's (by arrival) or every payload's pooled exactly from the stored sums
(`dropzone.statistics`). The daily rollup is rebuilt from silver, which holds one row per
timestamp.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from meterlake.lake import Lake, persisted
from meterlake.silver import (
    SnapshotReport,
    last_progress,
    merge_metrics,
    new_bronze_rows,
    partition_filter,
    verify_or_restore,
)
from meterlake.tables import (
    BRONZE_DROPZONE,
    GOLD_DROPZONE_DAILY,
    SILVER_DROPZONE_MEASUREMENTS,
    SNAPSHOT_PROGRESS,
)

SOURCE = "dropzone"


def _newest_payload() -> Column:
    """The payload greatest in arrival order, with its statistics (max of a struct)."""
    return F.max(F.struct("_received_at", "_source_line", "_ingest_id", "value_count", "sum",
                          "sum_squares", "mean", "std"))


def pooled_std(count: Column, total: Column, squares: Column) -> Column:
    """Sample standard deviation (n - 1) of values known only by count, sum and sum of squares."""
    variance = (squares - total * total / count) / (count - 1)
    return F.when(count > 1, F.sqrt(F.greatest(variance, F.lit(0.0))))


def latest_statistics(payloads_df: DataFrame) -> DataFrame:
    """Per timestamp: the newest payload's statistics and the number of payloads received."""
    return (
        payloads_df.groupBy("time_stamp_utc", "stamp_date")
        .agg(_newest_payload().alias("latest"), F.count(F.lit(1)).alias("payload_count"))
        .select("time_stamp_utc", "stamp_date", "payload_count", "latest.*")
        .select(*SILVER_DROPZONE_MEASUREMENTS.column_names)
    )


def pooled_statistics(payloads_df: DataFrame) -> DataFrame:
    """Per timestamp: every payload's values pooled exactly (count, sums, mean, sample std);
    lineage names the newest payload."""
    return (
        payloads_df.groupBy("time_stamp_utc", "stamp_date")
        .agg(F.count(F.lit(1)).alias("payload_count"), F.sum("value_count").alias("value_count"),
             F.sum("sum").alias("sum"), F.sum("sum_squares").alias("sum_squares"),
             _newest_payload().alias("latest"))
        .withColumn("mean", F.col("sum") / F.col("value_count"))
        .withColumn("std", pooled_std(F.col("value_count"), F.col("sum"), F.col("sum_squares")))
        .withColumn("_ingest_id", F.col("latest._ingest_id"))
        .withColumn("_received_at", F.col("latest._received_at"))
        .select(*SILVER_DROPZONE_MEASUREMENTS.column_names)
    )


def daily_rollup(measurements_df: DataFrame) -> DataFrame:
    """Per UTC day: timestamps, values, the pooled mean and std, and the range of means."""
    return (
        measurements_df.groupBy("stamp_date")
        .agg(F.count(F.lit(1)).alias("timestamps"), F.sum("value_count").alias("value_count"),
             F.sum("sum").alias("sum"), F.sum("sum_squares").alias("sum_squares"),
             F.min("mean").alias("min_mean"), F.max("mean").alias("max_mean"))
        .withColumn("mean", F.col("sum") / F.col("value_count"))
        .withColumn("std", pooled_std(F.col("value_count"), F.col("sum"), F.col("sum_squares")))
        .select(*GOLD_DROPZONE_DAILY.column_names)
    )


def _merge(lake: Lake, rows_df: DataFrame, dates: list[date]) -> None:
    condition = f"{partition_filter('stamp_date', dates)} AND t.time_stamp_utc = s.time_stamp_utc"
    (
        lake.ensure(SILVER_DROPZONE_MEASUREMENTS).alias("t")
        .merge(rows_df.alias("s"), condition)
        # `mean` too: a timestamp touched after dropzone.statistics changed takes the new
        # definition even when its newest payload is the same.
        .whenMatchedUpdateAll(condition="t._ingest_id <> s._ingest_id "
                                        "OR t.payload_count <> s.payload_count "
                                        "OR t.mean <> s.mean")
        .whenNotMatchedInsertAll()
        .execute()
    )


def run_dropzone_snapshot(lake: Lake) -> SnapshotReport:
    """Merges the payloads that arrived since the last run into silver, then rebuilds the
    daily rollup when silver changed."""
    since, until = last_progress(lake, SOURCE), lake.version(BRONZE_DROPZONE)
    if since == until:
        return SnapshotReport(SOURCE, until, 0, 0, 0, None, 0)
    with persisted(new_bronze_rows(lake, BRONZE_DROPZONE, since, until)) as new_df:
        dates = [r["stamp_date"] for r in new_df.select("stamp_date").distinct().collect()]
        rows_read, version, inserted, updated = new_df.count(), None, 0, 0
        before = lake.version(SILVER_DROPZONE_MEASUREMENTS)
        if dates:
            touched = new_df.select("time_stamp_utc").distinct()
            payloads = (lake.read(BRONZE_DROPZONE, until).filter(F.col("stamp_date").isin(dates))
                        .join(touched, on="time_stamp_utc", how="left_semi"))
            pooled = lake.settings.dropzone.statistics == "pooled"
            _merge(lake, (pooled_statistics if pooled else latest_statistics)(payloads), dates)
            version, inserted, updated = merge_metrics(lake.ensure(SILVER_DROPZONE_MEASUREMENTS),
                                                       before)
            if version is not None:
                verify_or_restore(lake, SILVER_DROPZONE_MEASUREMENTS, version, before, dates,
                                  lake.settings.quality)
                silver_df = lake.read(SILVER_DROPZONE_MEASUREMENTS, version)
                lake.overwrite(GOLD_DROPZONE_DAILY, daily_rollup(silver_df),
                               user_metadata=f'{{"silver.dropzone_measurements": {version}}}')
    lake.append_rows(SNAPSHOT_PROGRESS, [(SOURCE, until, version, rows_read, inserted, updated,
                                          datetime.now(UTC))])
    return SnapshotReport(SOURCE, until, rows_read, inserted, updated, version, len(dates))
