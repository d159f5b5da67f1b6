"""`silver.meter_readings`: one row per (meter, interval), the latest-arrived version.

Every meter source (utility drops, SMRT) maps its bronze rows onto this table through a
`MeterSource`; the snapshot engine keeps it (`readings_dataset`). Meter ids are unique across
sources: both merge into the same key.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.config import Settings
from meterlake.core.contracts import (
    ARRIVAL_ORDER,
    LINEAGE_COLUMNS,
    LINEAGE_FIELDS,
    ExpectationSpec,
    Retention,
    TableContract,
    interval_date_of,
    struct_field,
)
from meterlake.core.interfaces import KeyedDataset, MeterSource

SILVER_METER_READINGS = TableContract(
    layer="silver",
    name="meter_readings",
    schema=StructType([
        struct_field("meter_id", StringType(), False, "the meter"),
        struct_field("interval_start", TimestampType(), False,
                     "start of the measured interval (UTC)"),
        struct_field("interval_date", DateType(), False, "the UTC date of interval_start"),
        struct_field("value", DoubleType(), False,
                     "energy measured over the interval, in the row's unit"),
        struct_field("unit", StringType(), False,
                     "the unit of value: Wh (utility drops) or kWh (SMRT)"),
        struct_field("commodity", StringType(), False, "electricity or gas"),
        struct_field("interval_minutes", IntegerType(), False,
                     "the interval's length: 15 (utility drops) or 60 (SMRT)", "min"),
        struct_field("source", StringType(), False, "the source that delivered it"),
        struct_field("version_count", LongType(), False,
                     "how many versions of this reading bronze holds (more than 1: corrected)"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per (meter_id, interval_start): the latest-arrived version",
    keys=("meter_id", "interval_start"),
    ordering=ARRIVAL_ORDER,
    partition_by=("interval_date",),
    cluster_by=("meter_id",),
    retention=Retention.CONFIGURED,
    expectations=(
        ExpectationSpec(
            "ExpectCompoundColumnsToBeUnique", {"column_list": ["meter_id", "interval_start"]}
        ),
        *(
            ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": column})
            for column in ("meter_id", "interval_start", "value", "unit", "source", "_ingest_id")
        ),
        ExpectationSpec("ExpectColumnValuesToBeBetween", {"column": "value"}, max_per_unit=True),
    ),
    fed_by=("bronze.utility_drops", "bronze.smrt"),
)

KEYS = SILVER_METER_READINGS.keys


def latest_by_arrival(bronze_df: DataFrame, source: MeterSource) -> DataFrame:
    """One row per key: the version greatest in the source's ordering, plus `version_count`.

    Input: bronze rows of one source. The max of a struct led by the ordering columns picks the
    latest version in one aggregation (no sort per key).
    """
    ordering = source.bronze.ordering
    payload = [c for c in (source.value_column, *LINEAGE_COLUMNS) if c not in ordering]
    latest = F.max(F.struct(*ordering, *payload)).alias("latest")
    return (
        bronze_df.groupBy(*KEYS)
        .agg(latest, F.count(F.lit(1)).alias("version_count"))
        .select(*KEYS, "latest.*", "version_count")
    )


def to_silver_rows(latest_df: DataFrame, source: MeterSource) -> DataFrame:
    """Latest versions as `silver.meter_readings` rows."""
    return (
        latest_df.withColumn("interval_date", interval_date_of(F.col("interval_start")))
        .withColumn("value", F.col(source.value_column).cast("double"))
        .withColumn("unit", F.lit(source.unit))
        .withColumn("commodity", F.lit(source.commodity))
        .withColumn("interval_minutes", F.lit(source.interval_minutes))
        .withColumn("source", F.lit(source.name))
        .select(*SILVER_METER_READINGS.column_names)
    )


# A matched row is updated only if the winning version or the count changed, so re-applying the
# same update changes no row (Delta still rewrites the files holding the matched rows).
CHANGED = (
    "t._ingest_id <> s._ingest_id OR t._source_line <> s._source_line "
    "OR t.version_count <> s.version_count"
)


def readings_dataset(source: MeterSource) -> KeyedDataset:
    """The snapshot engine's view of one meter source: its bronze rows, latest by its ordering,
    into `silver.meter_readings`; a meter's day silver does not hold yet is appended."""

    def latest(bronze_df: DataFrame, settings: Settings) -> DataFrame:
        return bronze_df.transform(latest_by_arrival, source).transform(to_silver_rows, source)

    return KeyedDataset(name=source.name, bronze=source.bronze, silver=SILVER_METER_READINGS,
                        latest=latest, changed=CHANGED, held_by=("meter_id",))
