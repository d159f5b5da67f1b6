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
        struct_field("record_id", StringType(), False, "the partner's record id"),
        struct_field("timestamp", StringType(), False,
                     "the partner's timestamp as sent (YYYY-MM-DD HH:MM:SS, no offset)"),
        struct_field("measured_at", TimestampType(), False, "timestamp read as UTC"),
        struct_field("measured_date", DateType(), False, "the UTC date of measured_at"),
        struct_field("lat", DoubleType(), False, "latitude (WGS 84)", "°"),
        struct_field("lon", DoubleType(), False, "longitude (WGS 84)", "°"),
        struct_field("temperature", DoubleType(), True,
                     "the temperature; null when the partner sent none", "°C"),
        struct_field("country", StringType(), True, "the country as sent"),
        struct_field("is_in_france", BooleanType(), False,
                     "country is France, compared without case or spaces"),
        struct_field("request_started_at", TimestampType(), False,
                     "when our poll's request started (UTC; the arrival for a file ingested "
                     "by path)"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid record of every landed API response (every version); "
          "_ingest_id is the response, _source_line the record's 1-based position in it",
    keys=("record_id", "measured_date"),
    ordering=ARRIVAL_ORDER,
    partition_by=("measured_date",),
    properties=BRONZE_PROPERTIES,
    row_rules=TEMPERATURE_RECORD_RULES,
    fed_by=("landing:temperatures",),
)
