"""A gold table rebuilt whole from one silver table (or a few tables) at pinned versions.

The overwrite records the versions it read in the commit's user metadata, so a rebuild from the
same versions is skipped: re-running a gold job on an unchanged lake writes no new Delta
version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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


def pinned_versions(lake: Lake, gold: TableContract) -> dict[str, int]:
    """The versions of the tables the last commit of `gold` was built from, by table name."""
    last = lake.ensure(gold).history(1).select("userMetadata").first()
    if last is None or not last["userMetadata"]:
        return {}
    return {name: int(version) for name, version in json.loads(last["userMetadata"]).items()}


def pinned_version(lake: Lake, gold: TableContract, silver: TableContract) -> int | None:
    """The version of `silver` the last commit of `gold` was built from, None if unknown."""
    return pinned_versions(lake, gold).get(silver.qualified_name)


def rebuild_from(
    lake: Lake, gold: TableContract, inputs: Sequence[TableContract],
    build: Callable[..., DataFrame],
) -> dict[str, int] | None:
    """Overwrites `gold` with `build(*inputs at their current versions)`, unless `gold` was
    last built from those very versions: the versions read when rebuilt, None when skipped."""
    lake.hold(gold)
    versions = {contract.qualified_name: lake.version(contract) for contract in inputs}
    if pinned_versions(lake, gold) == versions:
        return None
    frames = [lake.read(contract, versions[contract.qualified_name]) for contract in inputs]
    lake.overwrite(gold, build(*frames), user_metadata=json.dumps(versions))
    return versions


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
