"""`silver.sensor_readings`: one row per (sensor, instant), the latest-arrived valid message.

Kept by the snapshot engine from `bronze.sensor_messages` like the meter readings: messages
appended since the last run touch some (sensor, date) units; a unit silver holds already is
recomputed from every bronze version of its touched keys and MERGEd, a new one appended. A
message redelivered by the broker (QoS 1 after a receiver crash, or a sensor's own duplicate)
is one more version of the same key: counted in `message_count`, never a second row. Messages
with a `payload_problem` stay in bronze only.

Late data: there is no watermark that drops anything. A message is merged whenever it arrives,
however late its `ts`; the streaming job's checkpoint is over the landing zone, not over event
time. Lateness is measured instead (`gold.sensor_quality`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType, TimestampType

from meterlake.core.config import Settings
from meterlake.core.contracts import (
    ARRIVAL_ORDER,
    LINEAGE_COLUMNS,
    LINEAGE_FIELDS,
    ExpectationSpec,
    Retention,
    TableContract,
    struct_field,
)
from meterlake.core.interfaces import KeyedDataset

SILVER_SENSOR_READINGS = TableContract(
    layer="silver",
    name="sensor_readings",
    schema=StructType([
        struct_field("sensor_id", StringType(), False, "the sensor (the payload's id)"),
        struct_field("ts", TimestampType(), False,
                     "the reading's instant: the payload's dt read as UTC"),
        struct_field("reading_date", DateType(), False, "the UTC date of ts"),
        struct_field("value", DoubleType(), False,
                     "the measured value, in the sensor's unit (silver.sensors.unit)"),
        struct_field("delivered_at", TimestampType(), False,
                     "when the broker delivered the latest message (UTC, subscriber's clock)"),
        struct_field("message_count", LongType(), False,
                     "how many valid deliveries of this reading arrived"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per (sensor_id, ts): the latest-arrived valid message; message_count "
          "counts every valid delivery of it",
    keys=("sensor_id", "ts"),
    ordering=ARRIVAL_ORDER,
    partition_by=("reading_date",),
    cluster_by=("sensor_id",),
    retention=Retention.CONFIGURED,
    expectations=(
        ExpectationSpec("ExpectCompoundColumnsToBeUnique", {"column_list": ["sensor_id", "ts"]}),
        *(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": column})
          for column in ("sensor_id", "ts", "value", "_ingest_id")),
    ),
    fed_by=("bronze.sensor_messages",),
)

KEYS = SILVER_SENSOR_READINGS.keys


def latest_valid_message(messages_df: DataFrame) -> DataFrame:
    """Per key, the valid message greatest in arrival order (max of a struct led by the
    ordering: one aggregation, no sort per key), and the number of valid deliveries."""
    payload = [c for c in ("value", "delivered_at", *LINEAGE_COLUMNS) if c not in ARRIVAL_ORDER]
    latest = F.max(F.struct(*ARRIVAL_ORDER, *payload)).alias("latest")
    return (
        messages_df.filter(F.col("payload_problem").isNull())
        .groupBy(*KEYS, "reading_date")
        .agg(latest, F.count(F.lit(1)).alias("message_count"))
        .select(*KEYS, "reading_date", "latest.*", "message_count")
        .select(*SILVER_SENSOR_READINGS.column_names)
    )


CHANGED = ("t._ingest_id <> s._ingest_id OR t._source_line <> s._source_line "
           "OR t.message_count <> s.message_count")


def sensor_readings_dataset(name: str, bronze: TableContract) -> KeyedDataset:
    """The snapshot engine's view of the sensor source: valid messages of `bronze` into
    `silver.sensor_readings`; a sensor's day silver does not hold yet is appended."""

    def latest(messages_df: DataFrame, settings: Settings) -> DataFrame:
        return latest_valid_message(messages_df)

    return KeyedDataset(name=name, bronze=bronze, silver=SILVER_SENSOR_READINGS,
                        latest=latest, changed=CHANGED, held_by=("sensor_id",))
