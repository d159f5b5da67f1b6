"""The sensor source as the registry sees it, and how it maps into silver."""

from __future__ import annotations

from meterlake.core.interfaces import Source
from meterlake.silver.sensor_readings import sensor_readings_dataset
from meterlake.sources.sensors import NAME
from meterlake.sources.sensors.contract import BRONZE_SENSOR_MESSAGES
from meterlake.sources.sensors.parse import SENSOR_FILES

SNAPSHOT = sensor_readings_dataset(NAME, BRONZE_SENSOR_MESSAGES)

# Landed by `meterlake receive mqtt`, not delivered as files into a directory: nothing to watch.
SOURCE = Source(name=NAME, files=SENSOR_FILES, datasets=(SNAPSHOT,), is_watchable=False)
