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
        struct_field("time_stamp", StringType(), False),
        struct_field("time_stamp_utc", TimestampType(), False),
        struct_field("stamp_date", DateType(), False),
        struct_field("value_count", LongType(), False),
        struct_field("sum", DoubleType(), False),
        struct_field("sum_squares", DoubleType(), False),
        struct_field("mean", DoubleType(), False),
        struct_field("std", DoubleType()),
        struct_field("values", ArrayType(DoubleType()), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid payload of every landed dropzone request (every version); "
          "_source_line is the payload's position in its request (1 for a single object)",
    keys=("time_stamp_utc",),
    ordering=ARRIVAL_ORDER,
    partition_by=("stamp_date",),
    properties=BRONZE_PROPERTIES,
    row_rules=DROPZONE_PAYLOAD_RULES,
)
