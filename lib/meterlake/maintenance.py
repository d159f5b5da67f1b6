"""Table maintenance, a job of its own so it never races the MERGE: compaction and clustering.

Silver and gold are compacted into their read layout (below) and optionally vacuumed at their
configured retention. Bronze is compacted and Z-ordered only on request: it is never vacuumed
(it is the audit trail), so the small files a compaction replaces stay on storage.

The read layout serves "one meter over a range of days": inside each date partition the rows
are sorted by the contract's `cluster_by` columns, in files of at most `ROWS_PER_FILE` rows cut
into row groups of at most `ROWS_PER_ROW_GROUP`, so the min/max statistics of the files (Delta
log, used by delta-rs and Spark) and of the row groups (Parquet footers, used by Arrow) skip
every other meter. Z-ordering by one column would range-partition the rows into files without
sorting them, and one file per date then holds every meter in one row group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import functions as F

from meterlake.core.contracts import TableContract
from meterlake.core.lake import Lake, conform
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.registry import METER_SOURCES


@dataclass(frozen=True)
class OptimizeReport:
    table: str
    files_added: int
    files_removed: int
    vacuumed: bool


# About 100 to 200 MB of Parquet per file for meter readings.
ROWS_PER_FILE = 8_000_000
# About 100 meter-days of 15-minute readings: a meter-month reads ~30 such groups.
ROWS_PER_ROW_GROUP = 10_000


def _sorted_rewrite(lake: Lake, contract: TableContract, since_date: str | None) -> OptimizeReport:
    """Rewrites the date partitions in scope in the read layout, in one commit that changes no
    row (`dataChange=false`: readers of the change history see nothing new)."""
    date_column = contract.partition_by[0]
    scope = f"{date_column} >= '{since_date}'" if since_date is not None else None
    in_scope_df = lake.read(contract)
    if scope is not None:
        in_scope_df = in_scope_df.where(scope)
    files_removed, rows = len(in_scope_df.inputFiles()), in_scope_df.count()
    if rows == 0:
        return OptimizeReport(contract.qualified_name, 0, 0, vacuumed=False)
    order = [date_column, *contract.cluster_by, *(k for k in contract.keys
                                                  if k not in contract.cluster_by)]
    laid_out_df = in_scope_df.repartitionByRange(
        max(1, math.ceil(rows / ROWS_PER_FILE)), *order).sortWithinPartitions(*order)
    writer = (conform(laid_out_df, contract).write.format("delta").mode("overwrite")
              .option("dataChange", "false").option("maxRecordsPerFile", ROWS_PER_FILE))
    if scope is not None:
        writer = writer.option("replaceWhere", scope)
    # Delta passes no Parquet option of a write through: the session's Hadoop settings do.
    conf = lake.spark.conf
    previous = conf.get("parquet.block.row.count.limit", None)
    conf.set("parquet.block.row.count.limit", str(ROWS_PER_ROW_GROUP))
    lake.hold(contract)
    try:
        writer.save(lake.path(contract))
    finally:
        if previous is None:
            conf.unset("parquet.block.row.count.limit")
        else:
            conf.set("parquet.block.row.count.limit", previous)
    files_added = len(lake.read(contract).where(scope or F.lit(True)).inputFiles())
    return OptimizeReport(contract.qualified_name, files_added, files_removed, vacuumed=False)


def _optimize(lake: Lake, contract: TableContract, since_date: str | None) -> OptimizeReport:
    builder = lake.for_update(contract).optimize()
    if since_date is not None:
        builder = builder.where(f"interval_date >= '{since_date}'")
    if contract.cluster_by:
        result_df = builder.executeZOrderBy(*contract.cluster_by)
    else:
        result_df = builder.executeCompaction()
    metrics = result_df.first()["metrics"]  # type: ignore[index]
    return OptimizeReport(contract.qualified_name, int(metrics["numFilesAdded"]),
                          int(metrics["numFilesRemoved"]), vacuumed=False)


def run_optimize(
    lake: Lake, since_date: str | None = None, vacuum: bool = False, bronze: bool = False
) -> list[OptimizeReport]:
    """OPTIMIZE the meter tables (date partitions from `since_date` on, else all)."""
    reports = (
        [_optimize(lake, source.bronze, since_date) for source in METER_SOURCES] if bronze else []
    )
    for contract in (SILVER_METER_READINGS, GOLD_METER_INTERVALS_15MIN):
        report = _sorted_rewrite(lake, contract, since_date)
        if vacuum:
            # No argument: Delta uses the table's own delta.deletedFileRetentionDuration.
            lake.for_update(contract).vacuum()
            report = OptimizeReport(report.table, report.files_added, report.files_removed, True)
        reports.append(report)
    return reports
