"""The bronze table of temperature records."""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
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
from meterlake.sources.temperatures.rules import TEMPERATURE_RECORD_RULES

BRONZE_TEMPERATURE_RECORDS = TableContract(
    layer="bronze",
    name="temperature_records",
    schema=StructType([
        struct_field("record_id", StringType(), False),
        struct_field("timestamp", StringType(), False),
        struct_field("measured_at", TimestampType(), False),
        struct_field("measured_date", DateType(), False),
        struct_field("lat", DoubleType(), False),
        struct_field("lon", DoubleType(), False),
        struct_field("temperature", DoubleType()),
        struct_field("country", StringType()),
        struct_field("is_in_france", BooleanType(), False),
        struct_field("request_started_at", TimestampType(), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid record of every landed API response (every version); "
          "_ingest_id is the response, _source_line the record's 1-based position in it",
    keys=("record_id", "measured_date"),
    ordering=ARRIVAL_ORDER,
    partition_by=("measured_date",),
    properties=BRONZE_PROPERTIES,
    row_rules=TEMPERATURE_RECORD_RULES,
)
