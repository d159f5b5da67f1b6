"""Temperature API responses: a JSON array of records `{id, timestamp, lat, lon, temperature,
country}` per landed response body, parsed into one bronze row per record.

Values are read as text first, so a bad value is quarantined with what the partner sent
instead of silently becoming null. A body that is not a JSON array is rejected whole (the
poller lands such bodies under the rejected name; this catches a file ingested by path).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from meterlake.core.config import Settings
from meterlake.core.interfaces import FileSource, ParsedFiles
from meterlake.sources import text
from meterlake.sources.temperatures import NAME
from meterlake.sources.temperatures.contract import BRONZE_TEMPERATURE_RECORDS

_RECORD = ("struct<id:string,timestamp:string,lat:string,lon:string,temperature:string,"
           "country:string>")
# The partner's timestamp has no offset; it is read as UTC (see README, decisions).
PARTNER_TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"


def is_france(country: Column) -> Column:
    """True where `country` names France, whatever its case and spaces; false when null."""
    return F.coalesce(F.regexp_replace(F.lower(country), r"\s+", "") == "france", F.lit(False))


def request_started_at(context: Column, received_at: Column) -> Column:
    """When the poller started the request that brought the response; a response ingested
    from a file has no request, and its arrival stands in."""
    return F.coalesce(text.instant_column(context["request_started_at"]), received_at)


def with_records(files_df: DataFrame) -> DataFrame:
    """Adds `records` (each element's raw JSON) and `rejection` per response body."""
    body = F.regexp_replace(text.text_of(F.col("content")), r"^[ \t\n\r]+|[ \t\n\r]+$", "")
    records = F.from_json(body, "array<string>")
    rejection = F.coalesce(
        text.text_rejection(F.col("byte_size"), F.col("content")),
        F.when(~body.startswith("[") | records.isNull(), F.lit("not a JSON array")),
    )
    return files_df.withColumn("records", records).withColumn("rejection", rejection)


def explode_records(files_df: DataFrame) -> DataFrame:
    """One row per record, its fields as text and as values; `_source_line` is its 1-based
    position in the response."""
    record = F.from_json(F.col("raw_line"), _RECORD)
    return (
        files_df.select("*", F.posexplode("records").alias("position", "raw_line"))
        .withColumn("_source_line", (F.col("position") + 1).cast("int"))
        .withColumn("record", record)
        .withColumn("record_id", F.trim(F.col("record.id")))
        .withColumn("timestamp", F.col("record.timestamp"))
        .withColumn("lat_text", F.col("record.lat"))
        .withColumn("lon_text", F.col("record.lon"))
        .withColumn("temperature_text", F.col("record.temperature"))
        .withColumn("country", F.col("record.country"))
        .withColumn("lat", F.col("lat_text").try_cast("double"))
        .withColumn("lon", F.col("lon_text").try_cast("double"))
        .withColumn("temperature", F.col("temperature_text").try_cast("double"))
        .withColumn("measured_at",
                    F.try_to_timestamp(F.trim(F.col("timestamp")),
                                       F.lit(PARTNER_TIMESTAMP_FORMAT)))
    )


def with_record_columns(records_df: DataFrame) -> DataFrame:
    """Adds what bronze derives: the measurement's UTC date, France or not, the request time."""
    return (
        records_df.withColumn("measured_date", F.to_date("measured_at"))
        .withColumn("is_in_france", is_france(F.col("country")))
        .withColumn("request_started_at",
                    request_started_at(F.col("context"), F.col("_received_at")))
    )


def parse_files(files_df: DataFrame, settings: Settings) -> ParsedFiles:
    """Verdicts, bronze rows and quarantined records of landed temperature responses."""
    return text.split_records(files_df.transform(with_records), explode_records,
                              BRONZE_TEMPERATURE_RECORDS, with_record_columns, NAME)


# The same bytes again (a response landed twice, or a file ingested again) load nothing.
TEMPERATURE_FILES = FileSource(
    name=NAME, bronze=BRONZE_TEMPERATURE_RECORDS, parse=parse_files, duplicate_by="sha256"
)
