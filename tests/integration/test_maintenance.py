"""OPTIMIZE compacts silver to one Z-ordered file per date without changing a row; bronze is
compacted only on request and keeps its rows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pyspark.sql import SparkSession

from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.maintenance import run_optimize
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.lakes import lake_at
from tests.helpers.paths import LEAP


def _files_per_date(lake: Lake) -> Counter[str]:
    return Counter(p.split("interval_date=")[1].split("/")[0]
                   for p in lake.read(SILVER_METER_READINGS).inputFiles())


def _rows(lake: Lake, contract) -> list[tuple]:  # type: ignore[no-untyped-def]
    return sorted(tuple(r) for r in lake.read(contract).collect())


def test_optimize_compacts_without_changing_rows(spark: SparkSession, tmp_path: Path) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    for name in ("input_0.csv", "input_1.csv", "input_2.csv"):
        ingest_paths(lake, UTILITY_DROP_FILES, [LEAP / name])
        run_snapshot(lake, utility_drops_source.SNAPSHOT)
    assert max(_files_per_date(lake).values()) > 1
    silver_rows, bronze_rows = _rows(lake, SILVER_METER_READINGS), _rows(lake, BRONZE_UTILITY_DROPS)
    bronze_version = lake.version(BRONZE_UTILITY_DROPS)

    reports = run_optimize(lake)
    assert [r.table for r in reports] == ["silver.meter_readings", "gold.meter_intervals_15min"]
    assert set(_files_per_date(lake).values()) == {1}
    assert _rows(lake, SILVER_METER_READINGS) == silver_rows
    assert lake.version(BRONZE_UTILITY_DROPS) == bronze_version

    with_bronze = run_optimize(lake, bronze=True)
    assert with_bronze[0].table == "bronze.utility_drops" and with_bronze[0].files_removed > 0
    assert _rows(lake, BRONZE_UTILITY_DROPS) == bronze_rows
