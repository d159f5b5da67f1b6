"""Every file source by name: what `meterlake ingest <source>` accepts."""

from __future__ import annotations

from meterlake.sources import FileSource
from meterlake.sources.dropzone import DROPZONE_FILES
from meterlake.sources.smrt import SMRT_FILES
from meterlake.sources.utility_drops import UTILITY_DROP_FILES

FILE_SOURCES: dict[str, FileSource] = {
    s.name: s for s in (UTILITY_DROP_FILES, SMRT_FILES, DROPZONE_FILES)
}
