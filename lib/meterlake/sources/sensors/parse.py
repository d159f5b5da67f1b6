"""Landed sensor batches (sources/sensors/landed.py): JSON lines, one per MQTT message, parsed
into one bronze row per message.

Every message reaches bronze, a malformed payload too (flagged by the receiver's
`payload_problem`, its sensor fields null): bronze is what the broker delivered. Envelope
fields are read as text first, so a damaged line is quarantined with what it held instead of
silently becoming nulls. A landed object that is not UTF-8 text is rejected whole.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.core.config import Settings
from meterlake.core.interfaces import FileSource, ParsedFiles
from meterlake.sources import text
from meterlake.sources.sensors import NAME
from meterlake.sources.sensors.contract import BRONZE_SENSOR_MESSAGES

_LINE = ("struct<topic:string,payload_base64:string,received_at:string,qos:string,mid:string,"
         "retain:string,dup:string,payload_problem:string>")
_PAYLOAD = "struct<id:string,dt:string,value:double>"


def with_text(files_df: DataFrame) -> DataFrame:
    return (files_df.withColumn("text", text.text_of(F.col("content")))
            .withColumn("rejection", text.text_rejection(F.col("byte_size"), F.col("content"))))


def _flag(raw: str) -> F.Column:
    return F.when(F.col(raw) == "true", True).when(F.col(raw) == "false", False)


def explode_messages(files_df: DataFrame) -> DataFrame:
    """One row per line: the envelope's fields as text and as values, the payload's bytes and,
    for a payload the receiver found valid, its sensor, instant and value."""
    line = F.from_json(F.col("raw_line"), _LINE)
    payload = F.try_to_binary(F.col("payload_base64"), F.lit("base64"))
    readable = F.when(F.col("payload_problem").isNull(),
                      F.from_json(F.col("payload").cast("string"), _PAYLOAD))
    return (
        text.explode_lines(files_df)
        .withColumn("line", F.when(F.trim("raw_line").startswith("{"), line))
        .withColumn("topic", F.col("line.topic"))
        .withColumn("payload_base64", F.col("line.payload_base64"))
        .withColumn("received_at", F.col("line.received_at"))
        .withColumn("qos_text", F.col("line.qos"))
        .withColumn("mid_text", F.col("line.mid"))
        .withColumn("payload_problem", F.col("line.payload_problem"))
        .withColumn("delivered_at", text.instant_column(F.col("received_at")))
        .withColumn("qos", F.col("qos_text").try_cast("int"))
        .withColumn("mid", F.col("mid_text").try_cast("int"))
        .withColumn("retain", _flag("line.retain"))
        .withColumn("dup", _flag("line.dup"))
        .withColumn("payload", payload)
        .withColumn("readable", readable)
        .withColumn("sensor_id", F.col("readable.id"))
        .withColumn("dt", F.col("readable.dt"))
        # `dt` carries no offset and is meant as UTC (the contract): read as if it ended in Z.
        .withColumn("ts", text.instant_column(F.concat(F.col("dt"), F.lit("Z"))))
        .withColumn("value", F.col("readable.value"))
    )


def with_reading_date(messages_df: DataFrame) -> DataFrame:
    return messages_df.withColumn("reading_date",
                                  F.to_date(F.coalesce(F.col("ts"), F.col("delivered_at"))))


def parse_files(files_df: DataFrame, settings: Settings) -> ParsedFiles:
    """Verdicts, bronze rows and quarantined lines of landed sensor batches."""
    return text.split_records(files_df.transform(with_text), explode_messages,
                              BRONZE_SENSOR_MESSAGES, with_reading_date, NAME)


# A batch landed twice (the same bytes) loads nothing; a message redelivered after a crash is a
# new line of a new batch, kept, and counted once in silver.
SENSOR_FILES = FileSource(
    name=NAME, bronze=BRONZE_SENSOR_MESSAGES, parse=parse_files, duplicate_by="sha256"
)
