"""One Spark session for the whole run (building one costs seconds); lakes under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.config import QualitySettings, Settings, SparkSettings
from meterlake.lake import Lake
from meterlake.spark import build_session

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
LEAP = FIXTURES / "leap"


def test_settings(lake_root: Path) -> Settings:
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
    )


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = build_session(test_settings(tmp_path_factory.mktemp("session")), "meterlake-tests")
    yield session
    session.stop()


@pytest.fixture
def lake(spark: SparkSession, tmp_path: Path) -> Lake:
    return Lake(spark, test_settings(tmp_path / "lake"))


def lake_at(
    spark: SparkSession, root: Path, max_value_per_unit: dict[str, float] | None = None
) -> Lake:
    """A Lake on `root`, optionally with other value limits for silver's expectations."""
    settings = test_settings(root)
    if max_value_per_unit is not None:
        settings = replace(settings, quality=QualitySettings(max_value_per_unit))
    return Lake(spark, settings)
