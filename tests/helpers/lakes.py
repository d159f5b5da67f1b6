"""Settings and Lakes for tests, each lake under a directory pytest made (tmp_path).

The `make_lake` fixture (tests/conftest.py) gives a test lakes of its own, fresh or a copy of a
module fixture's lake; `lake_at` opens a lake on a given root: in module fixtures, under
`tmp_path_factory.mktemp(...)`, or to reopen a test's lake with other settings.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from pyspark.sql import SparkSession

from meterlake.core.config import QualitySettings, Settings, SparkSettings, TemperatureSettings
from meterlake.core.lake import Lake
from tests.helpers.paths import FIXTURES


class MakeLake(Protocol):
    """The `make_lake` fixture: a new Lake on tmp_path/name, optionally with other value
    limits for silver's expectations, or a copy (`copy_lake`) of the lake `copy_of`."""

    def __call__(self, name: str = "lake", *, max_value_per_unit: dict[str, float] | None = None,
                 copy_of: Lake | None = None) -> Lake: ...


def local_test_settings(lake_root: Path) -> Settings:
    """Local settings for a lake under `lake_root`: two cores, few partitions, no UI, 4 GB."""
    root = str(lake_root)
    return Settings(
        lake_root=root,
        landing_root=f"{root}/landing",
        # One JVM serves the whole session of ~350 tests and hundreds of lakes, keeping each
        # lake's Delta log state and each query's plan for the status store. Settlement, which
        # runs late, failed building a broadcast ("Not enough memory to build and broadcast")
        # in full runs with 1 GB and then with 2 GB, never alone: 4 GB, and the status store
        # keeps the last 100 queries instead of 1000.
        spark=SparkSettings(master="local[2]", shuffle_partitions=2,
                            delta_snapshot_partitions=1, ui_enabled=False,
                            conf={"spark.driver.memory": "4g",
                                  "spark.sql.ui.retainedExecutions": "100"}),
        temperatures=TemperatureSettings(regions_dir=str(FIXTURES / "regions")),
    )


def lake_at(
    spark: SparkSession, root: Path, max_value_per_unit: dict[str, float] | None = None
) -> Lake:
    """A Lake on `root`, optionally with other value limits for silver's expectations."""
    settings = local_test_settings(root)
    if max_value_per_unit is not None:
        settings = replace(settings, quality=QualitySettings(max_value_per_unit))
    return Lake(spark, settings)


def copy_lake(lake: Lake, root: Path) -> Lake:
    """A copy of `lake` (tables, landing, exports) on `root`, with its other settings.

    Delta's log names data files relative to the table, so the copied directory is the same
    tables at the same versions; copytree keeps modification times too. Nothing the tests do
    reads a file's mtime: time travel is by version and commit times come from the log.
    Absolute paths recorded in rows (landing_path, export_path) still name the original.
    """
    settings = lake.settings.with_lake(str(root))
    if settings.landing_root == lake.settings.landing_root:
        raise ValueError(f"the landing {settings.landing_root} is not under the lake: a copy "
                         "would share it")
    shutil.copytree(lake.settings.lake_root, root)
    return Lake(lake.spark, settings)
