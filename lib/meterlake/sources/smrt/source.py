"""SMRT files as the registry sees them, and how they map into silver."""

from __future__ import annotations

from meterlake.core.interfaces import MeterSource, Source
from meterlake.silver.meter_readings import readings_dataset
from meterlake.sources.smrt import NAME, WATCHABLE
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.smrt.parse import SMRT_FILES

UNIT = "kWh"
COMMODITY = "gas"
INTERVAL_MINUTES = 60

READINGS = MeterSource(
    name=NAME, bronze=BRONZE_SMRT, value_column="consumption", unit=UNIT, commodity=COMMODITY,
    interval_minutes=INTERVAL_MINUTES,
)

SNAPSHOT = readings_dataset(READINGS)

SOURCE = Source(name=NAME, files=SMRT_FILES, datasets=(SNAPSHOT,),
                readings=READINGS, is_watchable=WATCHABLE)
