"""Table maintenance, a job of its own so it never races the MERGE: compaction and clustering.

Silver and gold are compacted, Z-ordered by meter inside each date partition, and optionally
vacuumed at their configured retention. Bronze is compacted only on request: it is never
vacuumed (it is the audit trail), so the small files a compaction replaces stay on storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterlake.lake import Lake
from meterlake.silver import METER_SOURCES
from meterlake.tables import (
    GOLD_METER_INTERVALS_15MIN,
    SILVER_METER_READINGS,
    TableContract,
)


@dataclass(frozen=True)
class OptimizeReport:
    table: str
    files_added: int
    files_removed: int
    vacuumed: bool


def _optimize(lake: Lake, contract: TableContract, since_date: str | None) -> OptimizeReport:
    builder = lake.ensure(contract).optimize()
    if since_date is not None:
        builder = builder.where(f"interval_date >= '{since_date}'")
    if contract.cluster_by:
        result = builder.executeZOrderBy(*contract.cluster_by)
    else:
        result = builder.executeCompaction()
    metrics = result.first()["metrics"]  # type: ignore[index]
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
        report = _optimize(lake, contract, since_date)
        if vacuum:
            # No argument: Delta uses the table's own delta.deletedFileRetentionDuration.
            lake.ensure(contract).vacuum()
            report = OptimizeReport(report.table, report.files_added, report.files_removed, True)
        reports.append(report)
    return reports
