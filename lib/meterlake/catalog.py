"""Every table of the lake, in one list: the catalogue, `optimize` and the tests read it.

Each contract is declared next to the code that produces it; this module only gathers them.
"""

from __future__ import annotations

from meterlake.core.contracts import TableContract
from meterlake.engine.ingest import INGEST_BATCHES, INGEST_LOG
from meterlake.engine.snapshot import SNAPSHOT_PROGRESS
from meterlake.gold.dropzone_daily import GOLD_DROPZONE_DAILY
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN
from meterlake.gold.meter_usage_hourly import GOLD_METER_USAGE_HOURLY
from meterlake.gold.region_temperature_hourly import GOLD_REGION_TEMPERATURE_HOURLY
from meterlake.gold.settlement.tables import (
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    REPORT_RUNS,
)
from meterlake.quality.expectations import DQ_RESULTS
from meterlake.quality.quarantine import QUARANTINE
from meterlake.sources.registry import DATASETS, SOURCES

BRONZE_TABLES: tuple[TableContract, ...] = tuple(s.files.bronze for s in SOURCES)
SILVER_TABLES: tuple[TableContract, ...] = tuple(
    {d.silver.qualified_name: d.silver for d in DATASETS}.values()
)
GOLD_TABLES: tuple[TableContract, ...] = (
    GOLD_METER_INTERVALS_15MIN,
    GOLD_METER_USAGE_HOURLY,
    GOLD_DROPZONE_DAILY,
    GOLD_REGION_TEMPERATURE_HOURLY,
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
)
OPS_TABLES: tuple[TableContract, ...] = (
    INGEST_LOG,
    INGEST_BATCHES,
    SNAPSHOT_PROGRESS,
    DQ_RESULTS,
    REPORT_RUNS,
)

ALL_TABLES: tuple[TableContract, ...] = (
    *BRONZE_TABLES, QUARANTINE, *SILVER_TABLES, *GOLD_TABLES, *OPS_TABLES,
)
