"""Utility drops as the registry sees them, and how they map into silver."""

from __future__ import annotations

from meterlake.core.interfaces import MeterSource, Source
from meterlake.silver.meter_readings import readings_dataset
from meterlake.sources.utility_drops import NAME, WATCHABLE
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES

UNIT = "Wh"
COMMODITY = "electricity"
INTERVAL_MINUTES = 15

READINGS = MeterSource(
    name=NAME, bronze=BRONZE_UTILITY_DROPS, value_column="energy_wh", unit=UNIT,
    commodity=COMMODITY, interval_minutes=INTERVAL_MINUTES,
)

SNAPSHOT = readings_dataset(READINGS)

SOURCE = Source(name=NAME, files=UTILITY_DROP_FILES, datasets=(SNAPSHOT,),
                readings=READINGS, is_watchable=WATCHABLE)
