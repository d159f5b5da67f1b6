"""A gold table rebuilt whole from one silver table at a pinned version.

The overwrite records the silver version it read in the commit's user metadata, so a rebuild
from the same version is skipped: re-running a gold job on an unchanged lake writes no new
Delta version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame

from meterlake.core.contracts import TableContract
from meterlake.core.lake import Lake


@dataclass(frozen=True)
class RebuildReport:
    gold: str
    silver: str
    silver_version: int
    gold_version: int
    is_rebuilt: bool


def pinned_version(lake: Lake, gold: TableContract, silver: TableContract) -> int | None:
    """The version of `silver` the last commit of `gold` was built from, None if unknown."""
    last = lake.ensure(gold).history(1).select("userMetadata").first()
    if last is None or not last["userMetadata"]:
        return None
    version = json.loads(last["userMetadata"]).get(silver.qualified_name)
    return None if version is None else int(version)


def rebuild_from_silver(
    lake: Lake, gold: TableContract, silver: TableContract,
    build: Callable[[DataFrame], DataFrame],
) -> RebuildReport:
    """Overwrites `gold` with `build(silver at its current version)`, unless `gold` was last
    built from that very version."""
    lake.hold(gold)
    silver_version = lake.version(silver)
    is_rebuilt = pinned_version(lake, gold, silver) != silver_version
    if is_rebuilt:
        lake.overwrite(gold, build(lake.read(silver, silver_version)),
                       user_metadata=json.dumps({silver.qualified_name: silver_version}))
    return RebuildReport(gold.qualified_name, silver.qualified_name, silver_version,
                         lake.version(gold), is_rebuilt)
