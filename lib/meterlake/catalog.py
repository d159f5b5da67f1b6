"""Every table of the lake, in one list: the catalogue, `optimize` and the tests read it.

Each contract is declared next to the code that produces it; this module only gathers them, and
describes them for the data catalogue (`table_descriptions`). `python -m meterlake.catalog`
prints those descriptions as JSON: `meterlake serve`, which must not import Spark, reads them
that way (`meterlake.serve.catalogue.load_descriptions`).
"""

from __future__ import annotations

import json
import sys

from meterlake.core.contracts import TableContract
from meterlake.core.table_description import EVERY_LANDING, LANDING, TableDescription
from meterlake.engine.ingest import INGEST_BATCHES, INGEST_LOG
from meterlake.engine.snapshot import SNAPSHOT_PROGRESS
from meterlake.gold.dropzone_daily import GOLD_DROPZONE_DAILY
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN
from meterlake.gold.meter_usage_hourly import GOLD_METER_USAGE_HOURLY
from meterlake.gold.region_temperature_hourly import GOLD_REGION_TEMPERATURE_HOURLY
from meterlake.gold.sensor_quality import GOLD_SENSOR_QUALITY
from meterlake.gold.sensor_readings_1min import GOLD_SENSOR_READINGS_1MIN
from meterlake.gold.settlement.tables import (
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    REPORT_RUNS,
)
from meterlake.quality.expectations import DQ_RESULTS
from meterlake.quality.quarantine import QUARANTINE
from meterlake.silver.sensors import SILVER_SENSORS
from meterlake.sources.registry import DATASETS, SOURCE_NAMES, SOURCES

BRONZE_TABLES: tuple[TableContract, ...] = tuple(s.files.bronze for s in SOURCES)
SILVER_TABLES: tuple[TableContract, ...] = (
    *{d.silver.qualified_name: d.silver for d in DATASETS}.values(),
    SILVER_SENSORS,
)
GOLD_TABLES: tuple[TableContract, ...] = (
    GOLD_METER_INTERVALS_15MIN,
    GOLD_METER_USAGE_HOURLY,
    GOLD_DROPZONE_DAILY,
    GOLD_REGION_TEMPERATURE_HOURLY,
    GOLD_SENSOR_READINGS_1MIN,
    GOLD_SENSOR_QUALITY,
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

# Every source's landing zone, as the inputs of the tables fed by `landing:*`.
EVERY_LANDING_ZONE: tuple[str, ...] = tuple(f"{LANDING}{name}" for name in SOURCE_NAMES)


def spelled_out(fed_by: tuple[str, ...]) -> tuple[str, ...]:
    """`fed_by` with `landing:*` replaced by every source's landing zone."""
    inputs: list[str] = []
    for name in fed_by:
        inputs.extend(EVERY_LANDING_ZONE if name == EVERY_LANDING else (name,))
    return tuple(dict.fromkeys(inputs))


def table_descriptions() -> tuple[TableDescription, ...]:
    """What the data catalogue shows of every table, in ALL_TABLES order."""
    return tuple(contract.describe(spelled_out(contract.fed_by)) for contract in ALL_TABLES)


if __name__ == "__main__":
    json.dump([description.to_dict() for description in table_descriptions()], sys.stdout)
