"""The temperature source as the registry sees it, and how it maps into silver."""

from __future__ import annotations

from meterlake.core.interfaces import Source
from meterlake.silver.temperature_records import temperature_dataset
from meterlake.sources.temperatures import NAME, WATCHABLE
from meterlake.sources.temperatures.contract import BRONZE_TEMPERATURE_RECORDS
from meterlake.sources.temperatures.parse import TEMPERATURE_FILES

SNAPSHOT = temperature_dataset(NAME, BRONZE_TEMPERATURE_RECORDS)

SOURCE = Source(name=NAME, files=TEMPERATURE_FILES, datasets=(SNAPSHOT,), is_watchable=WATCHABLE)
