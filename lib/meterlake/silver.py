"""Silver: one row per key holding the latest-arrived version, kept by an incremental MERGE.

Each run reads only the bronze rows appended since the last run (Delta change feed) and splits
them by (meter, date): pairs silver already holds, and pairs it does not (a new day, a backfilled
meter). For the first, it recomputes the touched keys' latest version and version count from
bronze (restricted to their date partitions) and MERGEs them; recomputing from bronze makes the
MERGE idempotent and independent of processing order. The second cannot have older versions in
bronze (every bronze row processed before is in silver), so their rows are appended as they are:
no bronze re-read and no MERGE scan of partitions that only gain rows. A run that stopped after
writing silver but before recording its progress sees those pairs as held on the re-run, so they
go through the MERGE and nothing is counted twice.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.config import QualitySettings
from meterlake.lake import Lake, persisted
from meterlake.quality import dq_result_rows, raise_on_failure, run_expectations
from meterlake.sources import smrt, utility_drops
from meterlake.tables import (
    BRONZE_SMRT,
    BRONZE_UTILITY_DROPS,
    DQ_RESULTS,
    LINEAGE_COLUMNS,
    SILVER_METER_READINGS,
    SNAPSHOT_PROGRESS,
    TableContract,
    interval_date_of,
)

KEYS = SILVER_METER_READINGS.keys


@dataclass(frozen=True)
class MeterSource:
    """How a bronze meter source maps onto `silver.meter_readings`."""

    name: str
    bronze: TableContract
    value_column: str
    unit: str
    commodity: str
    interval_minutes: int


UTILITY_DROPS = MeterSource(
    name=utility_drops.SOURCE_NAME,
    bronze=BRONZE_UTILITY_DROPS,
    value_column="energy_wh",
    unit=utility_drops.UNIT,
    commodity=utility_drops.COMMODITY,
    interval_minutes=utility_drops.INTERVAL_MINUTES,
)

SMRT = MeterSource(
    name=smrt.SOURCE_NAME,
    bronze=BRONZE_SMRT,
    value_column="consumption",
    unit=smrt.UNIT,
    commodity=smrt.COMMODITY,
    interval_minutes=smrt.INTERVAL_MINUTES,
)

# Meter ids are unique across sources: both merge into the same silver key.
METER_SOURCES: tuple[MeterSource, ...] = (UTILITY_DROPS, SMRT)


@dataclass(frozen=True)
class SnapshotReport:
    source: str
    bronze_version: int
    rows_read: int
    rows_inserted: int
    rows_updated: int
    silver_version: int | None
    dates_touched: int


def latest_by_arrival(bronze_df: DataFrame, source: MeterSource) -> DataFrame:
    """One row per key: the version greatest in arrival order, plus `version_count`.

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


PAIR = ["meter_id", "interval_date"]


def held_pairs(silver_df: DataFrame, new_rows_df: DataFrame, dates: list[date]) -> DataFrame:
    """The (meter, date) pairs of the new rows that silver already holds readings of."""
    return (
        silver_df.filter(F.col("interval_date").isin(dates)).select(*PAIR)
        .join(new_rows_df.select(*PAIR).distinct(), PAIR, "left_semi").distinct()
    )


def touched_candidates(
    bronze_df: DataFrame, new_rows_df: DataFrame, dates: list[date]
) -> DataFrame:
    """Every bronze version of the keys that new rows touch, read from the touched dates only."""
    touched_keys = new_rows_df.select(*KEYS, "interval_date").distinct()
    return bronze_df.filter(F.col("interval_date").isin(dates)).join(
        touched_keys, on=[*KEYS, "interval_date"], how="left_semi"
    )


def partition_filter(column: str, dates: list[date]) -> str:
    """`t.<column> IN (DATE'…', …)`: literal values, the only form Delta prunes a MERGE by;
    build it from the update itself, so no row of the update falls outside it."""
    literals = ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates))
    return f"t.{column} IN ({literals})"


def merge_condition(dates: list[date]) -> str:
    """Keys plus literal partition values, so Delta prunes the MERGE to the touched dates."""
    keys = " AND ".join(f"t.{k} = s.{k}" for k in KEYS)
    return f"{partition_filter('interval_date', dates)} AND {keys}"


# A matched row is updated only if the winning version or the count changed, so re-applying the
# same update changes no row (Delta still rewrites the files holding the matched rows).
CHANGED = (
    "t._ingest_id <> s._ingest_id OR t._source_line <> s._source_line "
    "OR t.version_count <> s.version_count"
)


def merge_into_silver(silver: DeltaTable, rows_df: DataFrame, dates: list[date]) -> None:
    (
        silver.alias("t")
        .merge(rows_df.alias("s"), merge_condition(dates))
        .whenMatchedUpdateAll(condition=CHANGED)
        .whenNotMatchedInsertAll()
        .execute()
    )


def last_progress(lake: Lake, source: str) -> int | None:
    """The bronze version the last snapshot of `source` reached, None before the first."""
    row = (
        lake.read(SNAPSHOT_PROGRESS).filter(F.col("source") == source)
        .agg(F.max("bronze_version").alias("v")).first()
    )
    return None if row is None or row["v"] is None else int(row["v"])


def new_bronze_rows(
    lake: Lake, bronze: TableContract, since: int | None, until: int
) -> DataFrame:
    """Rows appended to an append-only bronze table after version `since` up to `until`."""
    path = lake.path(bronze)
    if since is None:
        return lake.spark.read.format("delta").option("versionAsOf", until).load(path)
    return (
        lake.spark.read.format("delta").option("readChangeFeed", "true")
        .option("startingVersion", since + 1).option("endingVersion", until).load(path)
        .filter(F.col("_change_type") == "insert")
        .select(*bronze.column_names)
    )


def verify_or_restore(
    lake: Lake, contract: TableContract, version: int, previous: int, dates: list[date],
    quality: QualitySettings, appended: DataFrame | None = None,
) -> None:
    """Runs the contract's expectations on the touched date partitions of `version`, plus the
    `appended` rows on other dates (rows of pairs that were new: checking them as written spares
    reading every partition a backfill adds to); on failure restores `previous` and raises,
    naming the failed expectation."""
    date_column = contract.partition_by[0]
    touched = lake.read(contract, version).filter(F.col(date_column).isin(dates))
    scope_dates = set(dates)
    if appended is not None:
        touched = touched.unionByName(
            appended.filter(~F.col(date_column).isin(dates)).select(*contract.column_names))
        scope_dates |= {r[0] for r in appended.select(date_column).distinct().collect()}
    scope = f"{date_column} in {len(scope_dates)} dates {min(scope_dates)}..{max(scope_dates)}"
    # Each expectation is a Spark job of its own: read the touched rows once.
    with persisted(touched) as cached:
        results = run_expectations(cached, contract, quality)
    lake.append_rows(DQ_RESULTS, dq_result_rows(results, contract.qualified_name, version, scope))
    if not all(r.success for r in results):
        lake.ensure(contract).restoreToVersion(previous)
        raise_on_failure(results, contract.qualified_name)


def merge_metrics(silver: DeltaTable, before: int) -> tuple[int | None, int, int]:
    """(new version or None when nothing was committed, rows inserted, rows updated)."""
    last = silver.history(1).select("version", "operationMetrics").first()
    assert last is not None
    if int(last["version"]) == before:
        return None, 0, 0
    metrics = last["operationMetrics"]
    return (int(last["version"]), int(metrics.get("numTargetRowsInserted", 0)),
            int(metrics.get("numTargetRowsUpdated", 0)))


def merge_held(
    lake: Lake, source: MeterSource, new_rows_df: DataFrame, held: DataFrame, until: int,
    before: int,
) -> tuple[list[date], int | None, int, int]:
    """MERGEs the keys of held pairs, recomputed from bronze at `until`: (their dates, the new
    silver version or None, rows inserted, rows updated)."""
    dates = sorted({r["interval_date"] for r in held.select("interval_date").distinct().collect()})
    if not dates:
        return dates, None, 0, 0
    rows_df = (
        touched_candidates(lake.read(source.bronze, until),
                           new_rows_df.join(held, PAIR, "left_semi"), dates)
        .transform(latest_by_arrival, source)
        .transform(to_silver_rows, source)
    )
    silver = lake.ensure(SILVER_METER_READINGS)
    merge_into_silver(silver, rows_df, dates)
    return dates, *merge_metrics(silver, before)


def run_snapshot(lake: Lake, source: MeterSource) -> SnapshotReport:
    """Merges the bronze rows of `source` that arrived since the last run into silver."""
    since = last_progress(lake, source.name)
    until = lake.version(source.bronze)
    if since == until:
        return SnapshotReport(source.name, until, 0, 0, 0, None, 0)
    with ExitStack() as cached:
        new_rows_df = cached.enter_context(
            persisted(new_bronze_rows(lake, source.bronze, since, until)))
        dates = [r["interval_date"]
                 for r in new_rows_df.select("interval_date").distinct().collect()]
        rows_read = new_rows_df.count()
        before = lake.version(SILVER_METER_READINGS)
        silver_version, inserted, updated = None, 0, 0
        if dates:
            held = cached.enter_context(persisted(
                held_pairs(lake.read(SILVER_METER_READINGS, before), new_rows_df, dates)))
            merge_dates, silver_version, inserted, updated = merge_held(
                lake, source, new_rows_df, held, until, before)
            # One task per date writes it: one file per date appended, not one per task and date.
            fresh_df = cached.enter_context(persisted(
                new_rows_df.join(held, PAIR, "left_anti")
                .transform(latest_by_arrival, source).transform(to_silver_rows, source)
                .repartition("interval_date")))
            appended = None
            if not fresh_df.isEmpty():  # an empty append would still commit a version
                lake.append(SILVER_METER_READINGS, fresh_df)
                appended, inserted = fresh_df, inserted + fresh_df.count()  # cached by the append
                silver_version = (before if silver_version is None else silver_version) + 1
            if silver_version is not None:
                verify_or_restore(lake, SILVER_METER_READINGS, silver_version, before,
                                  merge_dates, lake.settings.quality, appended)
    progress = (source.name, until, silver_version, rows_read, inserted, updated,
                datetime.now(UTC))
    lake.append_rows(SNAPSHOT_PROGRESS, [progress])
    return SnapshotReport(source.name, until, rows_read, inserted, updated, silver_version,
                          len(dates))
