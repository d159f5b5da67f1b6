"""The bronze table of utility drops."""

from __future__ import annotations

from pyspark.sql.types import (
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
from meterlake.sources.utility_drops.rules import UTILITY_DROP_ROW_RULES

BRONZE_UTILITY_DROPS = TableContract(
    layer="bronze",
    name="utility_drops",
    schema=StructType([
        struct_field("meter_id", StringType(), False, "the meter, as the utility names it"),
        struct_field("interval_start", TimestampType(), False,
                     "start of the 15-minute interval (UTC; sent with an offset)"),
        struct_field("interval_date", DateType(), False, "the UTC date of interval_start"),
        struct_field("energy_wh", DoubleType(), False,
                     "energy measured over the interval", "Wh"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per valid line of every utility drop file ever received (every version)",
    keys=("meter_id", "interval_start"),
    ordering=ARRIVAL_ORDER,
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    properties=BRONZE_PROPERTIES,
    row_rules=UTILITY_DROP_ROW_RULES,
    fed_by=("landing:utility_drops",),
)
