"""`silver.dropzone_measurements`: one row per UTC timestamp of the dropzone's payloads.

Kept by the snapshot engine (`measurements_dataset`) like the meter readings: the payloads
appended since the last run touch some timestamps, whose statistics are recomputed from every
bronze payload of those timestamps. Per timestamp, the statistics are the newest payload's (by
arrival) or every payload's pooled exactly from the stored sums (`dropzone.statistics` in the
configuration).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType, TimestampType

from meterlake.core.config import Settings
from meterlake.core.contracts import ExpectationSpec, Retention, TableContract, struct_field
from meterlake.core.interfaces import KeyedDataset

SILVER_DROPZONE_MEASUREMENTS = TableContract(
    layer="silver",
    name="dropzone_measurements",
    schema=StructType([
        struct_field("time_stamp_utc", TimestampType(), False, "the payloads' UTC instant"),
        struct_field("stamp_date", DateType(), False, "the UTC date of time_stamp_utc"),
        struct_field("payload_count", LongType(), False,
                     "how many payloads for this instant were received"),
        struct_field("value_count", LongType(), False,
                     "numbers behind the statistics (the latest payload's, or all pooled)"),
        struct_field("mean", DoubleType(), False, "their mean"),
        struct_field("std", DoubleType(), True,
                     "their sample standard deviation (n - 1); null for a single number"),
        struct_field("sum", DoubleType(), False, "their sum"),
        struct_field("sum_squares", DoubleType(), False, "the sum of their squares"),
        struct_field("_ingest_id", StringType(), False,
                     "the request of the latest payload (ops.ingest_log)"),
        struct_field("_received_at", TimestampType(), False,
                     "when the latest payload was received (UTC)"),
    ]),
    grain="one row per UTC timestamp: the latest payload's statistics, or all payloads pooled "
          "(dropzone.statistics in the configuration); lineage names the latest payload",
    keys=("time_stamp_utc",),
    partition_by=("stamp_date",),
    retention=Retention.CONFIGURED,
    expectations=(
        ExpectationSpec("ExpectColumnValuesToBeUnique", {"column": "time_stamp_utc"}),
        *(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": column})
          for column in ("time_stamp_utc", "mean", "value_count", "_ingest_id")),
    ),
    fed_by=("bronze.dropzone",),
)


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


# `mean` too: a timestamp touched after dropzone.statistics changed takes the new definition
# even when its newest payload is the same.
CHANGED = "t._ingest_id <> s._ingest_id OR t.payload_count <> s.payload_count OR t.mean <> s.mean"


def measurements_dataset(name: str, bronze: TableContract) -> KeyedDataset:
    """The snapshot engine's view of the dropzone source `name`: payloads of `bronze` into
    `silver.dropzone_measurements`; a day silver does not hold yet is appended."""

    def statistics(payloads_df: DataFrame, settings: Settings) -> DataFrame:
        pooled = settings.dropzone.statistics == "pooled"
        return (pooled_statistics if pooled else latest_statistics)(payloads_df)

    return KeyedDataset(name=name, bronze=bronze, silver=SILVER_DROPZONE_MEASUREMENTS,
                        latest=statistics, changed=CHANGED)
