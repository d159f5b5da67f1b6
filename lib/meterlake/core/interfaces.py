"""What the generic engine needs from a source and from a keyed dataset.

`meterlake.engine` runs any source and any keyed dataset that these describe; it never names
one. A source folder (`meterlake.sources.<name>`) and a silver table module fill them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import DataFrame

from meterlake.core.config import Settings
from meterlake.core.contracts import TableContract


@dataclass(frozen=True)
class ParsedFiles:
    """What a file source makes of a DataFrame of landed files (lineage columns, `byte_size`,
    `content`): one verdict per file (`rejection` null when it loads), the bronze rows of the
    accepted files, and their quarantined lines."""

    verdicts_df: DataFrame  # _ingest_id, rejection
    bronze_df: DataFrame  # rows of the bronze contract
    quarantine_df: DataFrame  # rows of bronze.quarantine
    # Intermediate frames both outputs derive from: the loader persists them so that every
    # line is parsed and checked once, not once per output and per action.
    staged_dfs: tuple[DataFrame, ...] = ()


@dataclass(frozen=True)
class FileSource:
    """A source delivered as files: how they are parsed and what makes one a re-delivery."""

    name: str
    bronze: TableContract
    parse: Callable[[DataFrame, Settings], ParsedFiles]
    # utility drops: the same bytes again; SMRT: the same file name (its generation number).
    duplicate_by: Literal["sha256", "original_name"]


@dataclass(frozen=True)
class KeyedDataset:
    """A silver table kept by the snapshot engine from one bronze table: one row per key.

    `latest` turns every bronze version of some keys (all versions of each key it is given)
    into one silver row per key, by the dataset's ordering. Both tables are partitioned by the
    same date column. `held_by` names the columns that, with the date, form the units silver
    may not hold yet (a meter's day, or a whole day): their rows cannot have older versions, so
    they are appended instead of merged. `changed` is the MERGE's update condition on `t`
    (silver) and `s` (the recomputed rows): a matched row whose winner is unchanged is left
    alone.
    """

    name: str
    bronze: TableContract
    silver: TableContract
    latest: Callable[[DataFrame, Settings], DataFrame]
    changed: str
    held_by: tuple[str, ...] = ()

    @property
    def date_column(self) -> str:
        return self.silver.partition_by[0]

    @property
    def keys(self) -> tuple[str, ...]:
        return self.silver.keys


@dataclass(frozen=True)
class MeterSource:
    """How a bronze meter source maps onto `silver.meter_readings`: which column is the value,
    in which unit, of which commodity, over intervals of how many minutes."""

    name: str
    bronze: TableContract
    value_column: str
    unit: str
    commodity: str
    interval_minutes: int


@dataclass(frozen=True)
class Source:
    """One registry entry: a source's name, how its deliveries load into bronze, the keyed
    datasets the snapshot keeps from them, and, for a meter source, how its rows map into
    `silver.meter_readings`."""

    name: str
    files: FileSource
    datasets: tuple[KeyedDataset, ...]
    readings: MeterSource | None = None
    # Delivered as files into a directory, so `meterlake watch` can take them.
    is_watchable: bool = False
