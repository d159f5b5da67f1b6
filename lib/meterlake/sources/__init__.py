"""One module per source: raw bytes to bronze rows plus quarantined rows.

Every file source turns a DataFrame of landed files (lineage columns, `byte_size`, `content`)
into `ParsedFiles`: one verdict per file (`rejection` null when it loads), the bronze rows of
the accepted files, and their quarantined lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import DataFrame

from meterlake.config import Settings
from meterlake.tables import TableContract


@dataclass(frozen=True)
class ParsedFiles:
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
