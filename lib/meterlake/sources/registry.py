"""The registry: the only list of source names.

Everything that takes a source (the CLI's choices, `ingest`, `snapshot`, `watch`, `files
--source`, `meters`, the summary, the streaming ingest, the catalogue) derives from here.
Adding a source is a folder under `meterlake.sources` plus one entry in `_FOLDERS`.

The names come from the folders' packages, which import no Spark, so that the CLI's parser and
the HTTP server can know them without loading Spark; the `Source` objects (parse steps, silver
mappings) are built on first use of `SOURCES`, `FILE_SOURCES`, `DATASETS` or `METER_SOURCES`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from meterlake.sources import dropzone, sensors, smrt, temperatures, utility_drops

if TYPE_CHECKING:
    from meterlake.core.interfaces import FileSource, KeyedDataset, MeterSource, Source

    SOURCES: tuple[Source, ...]
    FILE_SOURCES: dict[str, FileSource]
    DATASETS: tuple[KeyedDataset, ...]
    METER_SOURCES: tuple[MeterSource, ...]

_FOLDERS = (utility_drops, smrt, dropzone, temperatures, sensors)

SOURCE_NAMES: tuple[str, ...] = tuple(folder.NAME for folder in _FOLDERS)
WATCHABLE_NAMES: tuple[str, ...] = tuple(f.NAME for f in _FOLDERS if f.WATCHABLE)


@cache
def _sources() -> tuple[Source, ...]:
    from meterlake.sources.dropzone.source import SOURCE as DROPZONE
    from meterlake.sources.sensors.source import SOURCE as SENSORS
    from meterlake.sources.smrt.source import SOURCE as SMRT
    from meterlake.sources.temperatures.source import SOURCE as TEMPERATURES
    from meterlake.sources.utility_drops.source import SOURCE as UTILITY_DROPS

    loaded = {s.name: s for s in (UTILITY_DROPS, SMRT, DROPZONE, TEMPERATURES, SENSORS)}
    return tuple(loaded[name] for name in SOURCE_NAMES)


def __getattr__(attribute: str) -> Any:
    # Only the four derived names build the sources: the import system also asks this module
    # for attributes such as `__path__`, which must stay cheap.
    if attribute == "SOURCES":
        return _sources()
    if attribute == "FILE_SOURCES":
        return {s.name: s.files for s in _sources()}
    if attribute == "DATASETS":
        # Every keyed dataset the snapshot keeps, in the order `meterlake snapshot` runs them.
        return tuple(d for s in _sources() for d in s.datasets)
    if attribute == "METER_SOURCES":
        # The sources whose rows are meter readings: silver.meter_readings, audit, settlement.
        return tuple(s.readings for s in _sources() if s.readings)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def source_named(name: str) -> Source:
    """The registered source `name`; LookupError naming the registered ones otherwise."""
    for source in _sources():
        if source.name == name:
            return source
    raise LookupError(f"no source named {name!r}; registered: {', '.join(SOURCE_NAMES)}")
