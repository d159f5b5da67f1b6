"""The one snapshot engine: every keyed dataset's silver table, kept by an incremental MERGE.

Each run reads only the bronze rows appended since the dataset's last run (Delta change feed)
and splits them into units (`KeyedDataset.held_by` plus the date): units silver already holds,
and units it does not (a new day, a backfilled meter). For the first, it recomputes the touched
keys' latest version from bronze (restricted to their date partitions) and MERGEs them with the
literal date list; recomputing from bronze makes the MERGE idempotent and independent of
processing order. The second cannot have older versions in bronze (every bronze row processed
before is in silver), so their rows are appended as they are: no bronze re-read and no MERGE
scan of partitions that only gain rows. Before anything is written, the table's expectations run
on the rows the run writes (cached, so the MERGE and the append read them from memory): a
failure writes nothing to silver, so no reader ever sees a version that failed. A run that
stopped after writing silver but before recording its progress sees those units as held on the
re-run, so they go through the MERGE and nothing is counted twice.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructType, TimestampType

from meterlake.core.config import QualitySettings
from meterlake.core.contracts import APPEND_ONLY, TableContract, struct_field
from meterlake.core.instants import utc_now_ms
from meterlake.core.interfaces import KeyedDataset
from meterlake.core.lake import Lake, persisted
from meterlake.quality.expectations import (
    DQ_RESULTS,
    ExpectationResult,
    dq_result_rows,
    raise_on_failure,
    run_expectations,
)

SNAPSHOT_PROGRESS = TableContract(
    layer="ops",
    name="snapshot_progress",
    schema=StructType([
        struct_field("source", StringType(), False, "the keyed dataset (its source's name)"),
        struct_field("bronze_version", LongType(), False,
                     "the bronze version the run merged up to"),
        struct_field("silver_version", LongType(), True,
                     "the silver version it wrote; null when nothing changed"),
        struct_field("rows_read", LongType(), False, "new bronze rows read"),
        struct_field("rows_inserted", LongType(), False, "silver rows inserted"),
        struct_field("rows_updated", LongType(), False, "silver rows corrected"),
        struct_field("finished_at", TimestampType(), False, "when the run finished (UTC)"),
    ]),
    grain="one row per snapshot run that merged something: the bronze version it reached",
    keys=("source", "bronze_version"),
    properties=APPEND_ONLY,
    fed_by=("bronze.utility_drops", "bronze.smrt", "bronze.dropzone",
            "bronze.temperature_records", "bronze.sensor_messages"),
)


@dataclass(frozen=True)
class SnapshotReport:
    source: str
    bronze_version: int
    rows_read: int
    rows_inserted: int
    rows_updated: int
    silver_version: int | None
    dates_touched: int


def held_units(
    silver_df: DataFrame, new_rows_df: DataFrame, unit: list[str], dates: list[date]
) -> DataFrame:
    """The units (`unit` columns, the date last) of the new rows that silver already holds."""
    return (
        silver_df.filter(F.col(unit[-1]).isin(dates)).select(*unit)
        .join(new_rows_df.select(*unit).distinct(), unit, how="left_semi").distinct()
    )


def touched_candidates(
    bronze_df: DataFrame, new_rows_df: DataFrame, dataset: KeyedDataset, dates: list[date]
) -> DataFrame:
    """Every bronze version of the keys that new rows touch, read from the touched dates only."""
    on = [*dataset.keys, dataset.date_column]
    touched_keys = new_rows_df.select(*on).distinct()
    return bronze_df.filter(F.col(dataset.date_column).isin(dates)).join(
        touched_keys, on=on, how="left_semi"
    )


def partition_filter(column: str, dates: list[date]) -> str:
    """`t.<column> IN (DATE'…', …)`: literal values, the only form Delta prunes a MERGE by;
    build it from the update itself, so no row of the update falls outside it."""
    literals = ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates))
    return f"t.{column} IN ({literals})"


def merge_condition(dataset: KeyedDataset, dates: list[date]) -> str:
    """Keys plus literal partition values, so Delta prunes the MERGE to the touched dates."""
    keys = " AND ".join(f"t.{k} = s.{k}" for k in dataset.keys)
    return f"{partition_filter(dataset.date_column, dates)} AND {keys}"


def merge_into_silver(
    silver: DeltaTable, rows_df: DataFrame, dataset: KeyedDataset, dates: list[date]
) -> None:
    (
        silver.alias("t")
        .merge(rows_df.alias("s"), merge_condition(dataset, dates))
        .whenMatchedUpdateAll(condition=dataset.changed)
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


def check_before_writing(
    lake: Lake, contract: TableContract, written_df: DataFrame, current: int, dates: list[date],
    quality: QualitySettings,
) -> list[ExpectationResult]:
    """Runs the contract's expectations on the rows a run is about to write (`written_df`,
    cached by the caller) and returns the results. On failure nothing has been written: the
    results are recorded against the `current` version and the run stops, naming the failed
    expectation. Rows the run does not write were checked by the run that wrote them, and the
    keys stay unique across the table because a written row either replaces its key (MERGE) or
    is the only version of a key silver did not hold (append)."""
    results = run_expectations(written_df, contract, quality)
    if not all(r.success for r in results):
        record_checks(lake, contract, results, current, dates)
        raise_on_failure(results, contract.qualified_name)
    return results


def record_checks(
    lake: Lake, contract: TableContract, results: list[ExpectationResult], version: int,
    dates: list[date],
) -> None:
    scope = (f"rows written on {contract.partition_by[0]} in {len(dates)} dates "
             f"{min(dates)}..{max(dates)}")
    lake.append_rows(DQ_RESULTS, dq_result_rows(results, contract.qualified_name, version, scope))


def merge_metrics(silver: DeltaTable, before: int) -> tuple[int | None, int, int]:
    """(new version or None when nothing was committed, rows inserted, rows updated)."""
    last = silver.history(1).select("version", "operationMetrics").first()
    assert last is not None
    if int(last["version"]) == before:
        return None, 0, 0
    metrics = last["operationMetrics"]
    return (int(last["version"]), int(metrics.get("numTargetRowsInserted", 0)),
            int(metrics.get("numTargetRowsUpdated", 0)))


def recomputed_from_bronze(
    lake: Lake, dataset: KeyedDataset, new_rows_df: DataFrame, held_df: DataFrame, until: int,
    dates: list[date],
) -> DataFrame:
    """The latest version at bronze `until` of every key of the held units, read from their
    dates only: the rows the MERGE writes."""
    unit = [*dataset.held_by, dataset.date_column]
    return dataset.latest(
        touched_candidates(lake.read(dataset.bronze, until),
                           new_rows_df.join(held_df, unit, how="left_semi"), dataset, dates),
        lake.settings,
    )


def run_snapshot(lake: Lake, dataset: KeyedDataset) -> SnapshotReport:
    """Merges the bronze rows of `dataset` that arrived since the last run into its silver
    table."""
    lake.hold_all([dataset.silver, SNAPSHOT_PROGRESS, DQ_RESULTS])
    since = last_progress(lake, dataset.name)
    until = lake.version(dataset.bronze)
    if since == until:
        return SnapshotReport(dataset.name, until, 0, 0, 0, None, 0)
    date_column, unit = dataset.date_column, [*dataset.held_by, dataset.date_column]
    with ExitStack() as cached:
        new_rows_df = cached.enter_context(
            persisted(new_bronze_rows(lake, dataset.bronze, since, until)))
        rows_per_date: dict[date, int] = dict(
            new_rows_df.groupBy(date_column).count().collect())
        dates, rows_read = sorted(rows_per_date), sum(rows_per_date.values())
        before = lake.version(dataset.silver)
        silver_version, inserted, updated = None, 0, 0
        if dates:
            held_df = cached.enter_context(persisted(
                held_units(lake.read(dataset.silver, before), new_rows_df, unit, dates)))
            merge_dates = sorted(r[0] for r in held_df.select(date_column).distinct().collect())
            merged_df = cached.enter_context(persisted(recomputed_from_bronze(
                lake, dataset, new_rows_df, held_df, until, merge_dates)))
            # One task per date writes it: one file per date appended, not one per task and date.
            fresh_df = cached.enter_context(persisted(
                dataset.latest(new_rows_df.join(held_df, unit, how="left_anti"), lake.settings)
                .repartition(date_column)))
            results = check_before_writing(
                lake, dataset.silver, merged_df.unionByName(fresh_df), before, dates,
                lake.settings.quality)
            if merge_dates:
                silver = lake.for_update(dataset.silver)
                merge_into_silver(silver, merged_df, dataset, merge_dates)
                silver_version, inserted, updated = merge_metrics(silver, before)
            appended = fresh_df.count()  # cached
            if appended:  # an empty append would still commit a version
                lake.append(dataset.silver, fresh_df)
                inserted += appended
                silver_version = (before if silver_version is None else silver_version) + 1
            if silver_version is not None:
                record_checks(lake, dataset.silver, results, silver_version, dates)
    progress = (dataset.name, until, silver_version, rows_read, inserted, updated,
                utc_now_ms())
    lake.append_rows(SNAPSHOT_PROGRESS, [progress])
    return SnapshotReport(dataset.name, until, rows_read, inserted, updated, silver_version,
                          len(dates))
