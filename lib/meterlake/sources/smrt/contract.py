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
        struct_field("meter_id", StringType(), False, "the gas meter of the CONSU record"),
        struct_field("interval_start", TimestampType(), False,
                     "start of the hour measured (the record's date and time, read as UTC)"),
        struct_field("interval_date", DateType(), False, "the UTC date of interval_start"),
        struct_field("consumption", DoubleType(), False,
                     "gas consumed over the hour (kWh assumed: the format does not say)", "kWh"),
        struct_field("company_id", StringType(), False, "the sending company, from the header"),
        struct_field("file_created_at", TimestampType(), False,
                     "when the file was created, from the header (read as UTC)"),
        struct_field("generation", StringType(), False,
                     "the header's generation number as written (PN: production, DV: "
                     "development) and the file's name without .SMRT"),
        struct_field("generation_number", LongType(), False,
                     "the digits of generation: newer files have greater numbers"),
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
    fed_by=("landing:smrt",),
)
