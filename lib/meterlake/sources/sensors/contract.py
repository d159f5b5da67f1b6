"""The bronze table of MQTT sensor messages: every message the subscriber landed, valid or not.

Columns from the landed batch (sources/sensors/landed.py): `topic`, `payload_base64` (the bytes
exactly as received), `delivered_at` (the batch line's `received_at`: when the broker delivered
the message to the subscriber, by the subscriber's clock; Mosquitto does not stamp messages),
`qos`, `mid`, `retain`, `dup` and `payload_problem` (null for a valid sensor message). From a
valid payload: `sensor_id`, `dt` as sent, `ts` (`dt` read as UTC) and `value`; null otherwise.
`reading_date` partitions by `ts`, or by `delivered_at` for a payload without one.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.contracts import (
    ARRIVAL_ORDER,
    BRONZE_PROPERTIES,
    LINEAGE_FIELDS,
    TableContract,
    struct_field,
)
from meterlake.sources.sensors.rules import SENSOR_MESSAGE_RULES

BRONZE_SENSOR_MESSAGES = TableContract(
    layer="bronze",
    name="sensor_messages",
    schema=StructType([
        struct_field("topic", StringType(), False, "the MQTT topic it was published to"),
        struct_field("payload_base64", StringType(), False,
                     "the payload's bytes exactly as received, base64"),
        struct_field("delivered_at", TimestampType(), False,
                     "when the broker delivered it to the subscriber, by the subscriber's "
                     "clock (UTC, ms; Mosquitto does not stamp messages)"),
        struct_field("qos", IntegerType(), False, "the MQTT quality of service (0, 1 or 2)"),
        struct_field("mid", IntegerType(), False, "the MQTT message id (0 at QoS 0)"),
        struct_field("retain", BooleanType(), False, "the MQTT retain flag"),
        struct_field("dup", BooleanType(), False,
                     "the MQTT DUP flag: the broker delivered it again"),
        struct_field("payload_problem", StringType(), True,
                     "why the payload is not a valid sensor message; null when it is"),
        struct_field("sensor_id", StringType(), True, "the payload's id; null when malformed"),
        struct_field("dt", StringType(), True,
                     "the payload's dt as sent (ISO 8601 without offset, meant as UTC)"),
        struct_field("ts", TimestampType(), True, "dt read as UTC; null when malformed"),
        struct_field("value", DoubleType(), True,
                     "the measured value, in the sensor's unit (silver.sensors.unit); null when "
                     "malformed"),
        struct_field("reading_date", DateType(), False,
                     "the UTC date of ts, or of delivered_at for a payload without one"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per MQTT message landed by `meterlake receive mqtt` (every delivery, "
          "duplicates and malformed payloads included, flagged by payload_problem); "
          "_source_line is its line in the landed batch",
    # No key: a malformed payload has no sensor or instant; silver is keyed by (sensor_id, ts).
    ordering=ARRIVAL_ORDER,
    partition_by=("reading_date",),
    properties=BRONZE_PROPERTIES,
    row_rules=SENSOR_MESSAGE_RULES,
    fed_by=("landing:sensors",),
)
