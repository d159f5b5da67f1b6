"""The dropzone as the registry sees it, and how it maps into silver."""

from __future__ import annotations

from meterlake.core.interfaces import Source
from meterlake.silver.dropzone_measurements import measurements_dataset
from meterlake.sources.dropzone import NAME, WATCHABLE
from meterlake.sources.dropzone.contract import BRONZE_DROPZONE
from meterlake.sources.dropzone.parse import DROPZONE_FILES

SNAPSHOT = measurements_dataset(NAME, BRONZE_DROPZONE)

SOURCE = Source(name=NAME, files=DROPZONE_FILES, datasets=(SNAPSHOT,), is_watchable=WATCHABLE)
