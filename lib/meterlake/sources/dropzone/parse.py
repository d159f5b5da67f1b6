"""Dropzone payloads: `{"time_stamp": "<ISO 8601 with offset>", "data": [numbers]}` per request,
or a JSON array of them, landed raw by the HTTP receiver; parsed into per-payload statistics.

Each payload becomes one bronze row with its UTC timestamp, count, sum, sum of squares, mean
and sample standard deviation (n - 1; null for a single value), so either definition and exact
pooling stay possible. A payload that breaks a rule goes to quarantine with its JSON; a request
body that is not JSON at all is rejected whole.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.core.config import Settings
from meterlake.core.interfaces import FileSource, ParsedFiles
from meterlake.sources import text
from meterlake.sources.dropzone import NAME
from meterlake.sources.dropzone.contract import BRONZE_DROPZONE

# Numbers are read as text so that a bad value is reported instead of nulling the payload.
_PAYLOADS = "array<struct<time_stamp:string,data:array<string>>>"


def with_payloads(files_df: DataFrame) -> DataFrame:
    """Adds `payloads` (one object is a one-element array) and `rejection` per request body."""
    # JSON's whitespace, as the door's json.loads skips it (F.trim strips spaces only).
    body = F.regexp_replace(text.text_of(F.col("content")), r"^[ \t\n\r]+|[ \t\n\r]+$", "")
    as_array = F.when(body.startswith("["), body).otherwise(F.concat(F.lit("["), body, F.lit("]")))
    payloads = F.from_json(as_array, _PAYLOADS)
    rejection = F.coalesce(
        text.text_rejection(F.col("byte_size"), F.col("content")),
        F.when(payloads.isNull() | ~F.coalesce(body.rlike(r"^[\[{]"), F.lit(False)),
               F.lit("not a JSON object or array of objects")),
    )
    return files_df.withColumn("payloads", payloads).withColumn("rejection", rejection)


def explode_payloads(files_df: DataFrame) -> DataFrame:
    """One row per payload: `_source_line` is its 1-based position in the request body."""
    return (
        files_df.select("*", F.posexplode("payloads").alias("position", "payload"))
        .withColumn("_source_line", (F.col("position") + 1).cast("int"))
        .withColumn("raw_line", F.to_json("payload"))
        .withColumn("time_stamp", F.col("payload.time_stamp"))
        .withColumn("data", F.col("payload.data"))
        .withColumn("time_stamp_utc", text.instant_column(F.trim(F.col("time_stamp"))))
        .withColumn("values", F.transform("data", lambda v: v.try_cast("double")))
    )


def with_statistics(payloads_df: DataFrame) -> DataFrame:
    """Adds count, sum, sum of squares, mean and the two-pass sample standard deviation."""
    values = F.col("values")
    count = F.size(values)
    total = F.aggregate(values, F.lit(0.0), lambda acc, v: acc + v)
    mean = F.col("sum") / F.col("value_count")
    squared_deviations = F.aggregate(values, F.lit(0.0), lambda acc, v: acc + (v - mean) ** 2)
    return (
        payloads_df.withColumn("value_count", count.cast("long"))
        .withColumn("sum", total)
        .withColumn("sum_squares", F.aggregate(values, F.lit(0.0), lambda acc, v: acc + v * v))
        .withColumn("mean", mean)
        .withColumn("std", F.when(F.col("value_count") > 1, F.sqrt(
            squared_deviations / (F.col("value_count") - 1))))
        .withColumn("stamp_date", F.to_date("time_stamp_utc"))
    )


def parse_files(files_df: DataFrame, settings: Settings) -> ParsedFiles:
    """Verdicts, bronze rows and quarantined payloads of landed dropzone request bodies."""
    return text.split_records(files_df.transform(with_payloads), explode_payloads,
                              BRONZE_DROPZONE, with_statistics, NAME)


DROPZONE_FILES = FileSource(
    name=NAME, bronze=BRONZE_DROPZONE, parse=parse_files, duplicate_by="sha256"
)
