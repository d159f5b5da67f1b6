"""The bronze table of SMRT files."""

from __future__ import annotations

from pyspark.sql.types import (
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.contracts import (
    BRONZE_PROPERTIES,
    LINEAGE_FIELDS,
    TableContract,
    struct_field,
)
from meterlake.sources.smrt.rules import SMRT_LINE_RULES

BRONZE_SMRT = TableContract(
    layer="bronze",
    name="smrt",
    schema=StructType([
        struct_field("meter_id", StringType(), False),
        struct_field("interval_start", TimestampType(), False),
        struct_field("interval_date", DateType(), False),
        struct_field("consumption", DoubleType(), False),
        struct_field("company_id", StringType(), False),
        struct_field("file_created_at", TimestampType(), False),
        struct_field("generation", StringType(), False),
        struct_field("generation_number", LongType(), False),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per CONSU record of every SMRT file ever loaded (every version)",
    keys=("meter_id", "interval_start"),
    # Newer means generated later: the header's creation time, then the generation number, so
    # files arriving out of order still end with the latest generated value.
    ordering=("file_created_at", "generation_number", "_received_at", "_source_line",
              "_ingest_id"),
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    properties=BRONZE_PROPERTIES,
    row_rules=SMRT_LINE_RULES,
)
