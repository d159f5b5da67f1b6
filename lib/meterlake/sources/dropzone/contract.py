"""The bronze table of dropzone payloads."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    LongType,
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
from meterlake.sources.dropzone.rules import DROPZONE_PAYLOAD_RULES

BRONZE_DROPZONE = TableContract(
    layer="bronze",
    name="dropzone",
    schema=StructType([
        struct_field("time_stamp", StringType(), False,
                     "the payload's time_stamp as sent (ISO 8601 with an offset)"),
        struct_field("time_stamp_utc", TimestampType(), False, "time_stamp as a UTC instant"),
        struct_field("stamp_date", DateType(), False, "the UTC date of time_stamp_utc"),
        struct_field("value_count", LongType(), False, "how many numbers `data` held"),
        struct_field("sum", DoubleType(), False, "the sum of the numbers"),
        struct_field("sum_squares", DoubleType(), False, "the sum of their squares"),
        struct_field("mean", DoubleType(), False, "their mean"),
        struct_field("std", DoubleType(), True,
                     "their sample standard deviation (n - 1); null for a single number"),
        struct_field("values", ArrayType(DoubleType()), False, "the numbers, in payload order"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid payload of every landed dropzone request (every version); "
          "_source_line is the payload's position in its request (1 for a single object)",
    keys=("time_stamp_utc",),
    ordering=ARRIVAL_ORDER,
    partition_by=("stamp_date",),
    properties=BRONZE_PROPERTIES,
    row_rules=DROPZONE_PAYLOAD_RULES,
    fed_by=("landing:dropzone",),
)
