"""Row rules of landed sensor batch lines: a line breaking one is quarantined.

The receiver writes every line (sources/sensors/landed.py), so a broken line means a damaged
object or another writer, not a sensor's fault: a sensor's bad payload is a valid line with
`payload_problem` set, and stays in bronze.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from meterlake.core.rules import RowRule, quoted

SENSOR_MESSAGE_RULES: tuple[RowRule, ...] = (
    RowRule(
        "line_is_not_a_batch_line",
        "line",
        lambda: F.col("line").isNull() | F.col("topic").isNull()
        | F.col("payload_base64").isNull(),
        lambda: F.lit("not a landed batch line: a JSON object with topic, payload_base64, "
                      "received_at, qos, mid, retain, dup and payload_problem"),
    ),
    RowRule(
        "received_at_is_not_an_instant",
        "received_at",
        lambda: F.col("delivered_at").isNull(),
        lambda: F.concat(F.lit("not an ISO 8601 UTC instant: "), quoted("received_at")),
    ),
    RowRule(
        "payload_is_not_base64",
        "payload_base64",
        lambda: F.col("payload_base64").isNotNull() & F.col("payload").isNull(),
        lambda: F.lit("not base64"),
    ),
    RowRule(
        "qos_is_not_0_1_or_2",
        "qos",
        lambda: F.coalesce(~F.col("qos").isin(0, 1, 2), F.lit(True)),
        lambda: F.concat(F.lit("not 0, 1 or 2: "), quoted("qos_text")),
    ),
    RowRule(
        "mid_is_not_a_packet_id",
        "mid",
        lambda: F.coalesce(~F.col("mid").between(0, 65535), F.lit(True)),
        lambda: F.concat(F.lit("not an MQTT packet id (0-65535): "), quoted("mid_text")),
    ),
    RowRule(
        "flags_are_not_booleans",
        "retain",
        lambda: F.col("retain").isNull() | F.col("dup").isNull(),
        lambda: F.lit("retain and dup must be true or false"),
    ),
    RowRule(
        "valid_payload_does_not_read",
        "payload",
        lambda: F.col("payload_problem").isNull()
        & (F.col("sensor_id").isNull() | F.col("ts").isNull() | F.col("value").isNull()),
        lambda: F.lit("flagged valid by the receiver, but not an object with id, dt (ISO 8601 "
                      "without offset) and a numeric value"),
    ),
)
