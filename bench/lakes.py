"""The generated drops and the lakes every measurement starts from.

A base lake of size k holds the drops of the k x `days_1x` days before the update day, ingested
and snapshotted by meterlake itself. Measurements copy a base (untimed) so that every run starts
from the same state.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from bench.scales import DROPS_PER_DAY, Scale
from bench.timing import MemoryProbe
from meterlake.core.config import Settings, SparkSettings
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.generate import UtilityDropPlan, write_utility_drops
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES

# The JVM's heap ceiling in local mode (driver and executors in one process).
DRIVER_MEMORY = "4g"
BASE_CHUNK_DAYS = 40


def bench_settings(root: Path) -> Settings:
    return Settings(lake_root=str(root / "lake"), landing_root=str(root / "landing"),
                    spark=SparkSettings(master="local[2]", shuffle_partitions=4,
                                        delta_snapshot_partitions=2,
                                        conf={"spark.driver.memory": DRIVER_MEMORY}))


def job_lake(spark: SparkSession, root: Path) -> Lake:
    """A lake as the CLI's jobs open it: tables by path, not named in the session catalog."""
    return Lake(spark, bench_settings(root), name_tables=False)


def generate_drops(scale: Scale, out: Path) -> list[Path]:
    plan = UtilityDropPlan(
        meters=scale.meters, days=scale.plan_days, seed=scale.seed,
        drops_per_day=DROPS_PER_DAY, correction_rate=scale.correction_rate,
        new_meters=scale.new_meters, bad_row_rate=scale.bad_row_rate,
    )
    return write_utility_drops(plan, out)


@dataclass
class BenchContext:
    """What every measurement shares: the session, the drops, the base lakes, the work dir."""

    spark: SparkSession
    scale: Scale
    runs: int
    work: Path
    drops: list[Path]
    probe: MemoryProbe
    _bases: dict[int, Path] = field(default_factory=dict)

    def days(self, days: range) -> list[Path]:
        return [d for i, d in enumerate(self.drops) if i // DROPS_PER_DAY in days]

    @property
    def update(self) -> list[Path]:
        """The measured day of drops: new intervals, corrections and a new meter's backfill."""
        return self.days(range(self.scale.update_day, self.scale.update_day + 1))

    def base(self, size: int) -> Path:
        """The base lake of `size` x days_1x days, built once."""
        if size not in self._bases:
            root = self.work / f"base-{size}x"
            lake = job_lake(self.spark, root)
            history = self.scale.history_days(size)
            # One batch and one snapshot per BASE_CHUNK_DAYS: bounded memory, and bronze and
            # silver files accumulate per date as they do when a lake grows.
            for first in range(history.start, history.stop, BASE_CHUNK_DAYS):
                chunk = range(first, min(first + BASE_CHUNK_DAYS, history.stop))
                ingest_paths(lake, UTILITY_DROP_FILES, self.days(chunk))
                run_snapshot(lake, utility_drops_source.SNAPSHOT)
            self._bases[size] = root
        return self._bases[size]

    def copy_of_base(self, size: int, name: str) -> Lake:
        # Lakes stay until the end: the session catalog still names their tables.
        target = self.work / name
        shutil.copytree(self.base(size), target)
        return job_lake(self.spark, target)

    def with_update_landed(self, size: int, name: str) -> Lake:
        """A copy of the base with the update day ingested into bronze (not yet snapshotted)."""
        lake = self.copy_of_base(size, name)
        ingest_paths(lake, UTILITY_DROP_FILES, self.update)
        return lake

    @staticmethod
    def snapshot_name(size: int, run: int) -> str:
        return f"snap-{size}x-{run}"

    def snapshotted(self, size: int) -> Lake:
        """The lake of the first snapshot run at `size`: base + update, merged (kept)."""
        return job_lake(self.spark, self.work / self.snapshot_name(size, 0))
