"""`silver.temperature_records`: one row per partner record id, the latest-arrived version.

Kept by the snapshot engine (`temperature_dataset`): a poll brings new record ids, which are
appended; a record id delivered again (a correction) is recomputed from every bronze version
and merged. A record keeps the request time of the import that first brought it
(`first_request_started_at`): the hourly means place a corrected record in its original hour.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
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
    struct_field,
)
from meterlake.core.interfaces import KeyedDataset

SILVER_TEMPERATURE_RECORDS = TableContract(
    layer="silver",
    name="temperature_records",
    schema=StructType([
        struct_field("record_id", StringType(), False, "the partner's record id"),
        struct_field("measured_date", DateType(), False, "the UTC date of measured_at"),
        struct_field("measured_at", TimestampType(), False,
                     "the partner's timestamp, read as UTC"),
        struct_field("lat", DoubleType(), False, "latitude (WGS 84)", "°"),
        struct_field("lon", DoubleType(), False, "longitude (WGS 84)", "°"),
        struct_field("temperature", DoubleType(), True,
                     "the temperature; null when the partner sent none", "°C"),
        struct_field("country", StringType(), True, "the country as sent"),
        struct_field("is_in_france", BooleanType(), False,
                     "country is France, compared without case or spaces"),
        struct_field("request_started_at", TimestampType(), False,
                     "when the poll that brought this version started (UTC)"),
        struct_field("first_request_started_at", TimestampType(), False,
                     "when the poll that first brought the record started (UTC): its hour in "
                     "gold.region_temperature_hourly"),
        struct_field("version_count", LongType(), False,
                     "how many versions of the record bronze holds"),
        *LINEAGE_FIELDS,
    ]),
    grain="one row per record id: the latest-arrived version; its measurement date (the "
          "partition) is taken as part of the record (see README, decisions)",
    keys=("record_id",),
    ordering=ARRIVAL_ORDER,
    partition_by=("measured_date",),
    retention=Retention.CONFIGURED,
    expectations=(
        ExpectationSpec("ExpectColumnValuesToBeUnique", {"column": "record_id"}),
        *(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": column})
          for column in ("record_id", "lat", "lon", "first_request_started_at", "_ingest_id")),
    ),
    fed_by=("bronze.temperature_records",),
)

_VALUES = ("measured_at", "lat", "lon", "temperature", "country", "is_in_france",
           "request_started_at")


def latest_records(bronze_df: DataFrame) -> DataFrame:
    """Per record id (and its date): the version greatest in arrival order, how many versions
    arrived, and the request time of the first import that brought it.

    Input: `bronze.temperature_records` rows (every version of the ids to recompute).
    """
    latest = F.max(F.struct(*ARRIVAL_ORDER, *_VALUES, *(
        c for c in LINEAGE_COLUMNS if c not in ARRIVAL_ORDER))).alias("latest")
    return (
        bronze_df.groupBy("record_id", "measured_date")
        .agg(latest, F.count(F.lit(1)).alias("version_count"),
             F.min("request_started_at").alias("first_request_started_at"))
        .select("record_id", "measured_date", "latest.*", "first_request_started_at",
                "version_count")
        .select(*SILVER_TEMPERATURE_RECORDS.column_names)
    )


# Re-applying the same versions changes no row.
CHANGED = (
    "t._ingest_id <> s._ingest_id OR t._source_line <> s._source_line "
    "OR t.version_count <> s.version_count"
)


def temperature_dataset(name: str, bronze: TableContract) -> KeyedDataset:
    """The snapshot engine's view of the temperature source `name`: records of `bronze` into
    `silver.temperature_records`; a record id silver does not hold yet is appended."""

    def latest(bronze_df: DataFrame, settings: Settings) -> DataFrame:
        return latest_records(bronze_df)

    return KeyedDataset(name=name, bronze=bronze, silver=SILVER_TEMPERATURE_RECORDS,
                        latest=latest, changed=CHANGED, held_by=("record_id",))
