"""The backbone on real fixture drops plus crafted corrections: bronze keeps every version,
silver holds the latest by arrival, audit rebuilds the past, and repeating anything is a no-op.

The module's lake is staged once and only read; the test that runs everything again does so on
a copy of its own, and the others build their own lakes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.audit.readings import as_known_at, reading_history
from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG, ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN, run_grid
from meterlake.quality.quarantine import QUARANTINE
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import csv_rows, leap_files, leap_rows, utc, write_drop
from tests.helpers.lakes import MakeLake, lake_at
from tests.helpers.paths import LEAP

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"
CORRECTED = "2020-06-06T09:15:00.000Z"  # 312.4 in input_0.csv line 2
REVERTED = "2020-06-04T11:45:00.000Z"  # 208.2 in input_0.csv line 3
NEW_METER = "00000000-0000-4000-8000-000000000001"


def _crafted_drops(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_drop(directory / "drop_a.csv", [
            (METER, CORRECTED, "999.9"), (METER, REVERTED, "250.0"),
        ]),
        write_drop(directory / "drop_b.csv", [
            (METER, REVERTED, "208.2"),
            (NEW_METER, "2020-06-01T00:00:00.000Z", "10.5"),
            (NEW_METER, "2020-06-01T00:15:00.000Z", "11.0"),
        ]),
    ]


def _business(df):  # type: ignore[no-untyped-def]
    return sorted(
        tuple(r) for r in df.select(
            "meter_id", "interval_start", "value", "version_count", "_source_file", "_source_line"
        ).collect()
    )


@pytest.fixture(scope="module")
def staged(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Fixtures, then drop A, then drop B, each followed by a snapshot; instants in between.
    Tests only read its lake."""
    root = tmp_path_factory.mktemp("staged")
    lake = lake_at(spark, root / "lake")
    drop_a, drop_b = _crafted_drops(root / "crafted")
    reports = {"fixtures": ingest_paths(lake, UTILITY_DROP_FILES, [LEAP])}
    snapshots = [run_snapshot(lake, utility_drops_source.SNAPSHOT)]
    instants = [datetime.now(UTC)]
    reports["a"] = ingest_paths(lake, UTILITY_DROP_FILES, [drop_a])
    snapshots.append(run_snapshot(lake, utility_drops_source.SNAPSHOT))
    instants.append(datetime.now(UTC))
    reports["b"] = ingest_paths(lake, UTILITY_DROP_FILES, [drop_b])
    snapshots.append(run_snapshot(lake, utility_drops_source.SNAPSHOT))
    return {"lake": lake, "reports": reports, "snapshots": snapshots, "instants": instants,
            "drops": [drop_a, drop_b]}


def test_every_fixture_line_lands_in_bronze_with_its_lineage(staged: dict) -> None:
    lake: Lake = staged["lake"]
    bronze = lake.read(BRONZE_UTILITY_DROPS).filter(F.col("_source_file").startswith("input_"))
    actual = sorted(tuple(r) for r in bronze.select(
        "meter_id", "interval_start", "energy_wh", "_source_file", "_source_line").collect())
    assert actual == sorted(leap_rows())
    report = staged["reports"]["fixtures"]
    assert [(f.landed.original_name, f.outcome, f.rows_loaded, f.rows_quarantined)
            for f in report.files] == [
        (p.name, "loaded", len(csv_rows(p)), 0) for p in leap_files()
    ]
    assert lake.read(QUARANTINE).isEmpty()


def test_first_snapshot_holds_exactly_the_fixture_readings(staged: dict) -> None:
    first = staged["snapshots"][0]
    assert (first.rows_read, first.rows_inserted, first.rows_updated) == (1246, 1246, 0)
    silver_v1 = staged["lake"].read(SILVER_METER_READINGS, first.silver_version)
    expected = sorted((m, t, e, 1, f, line) for m, t, e, f, line in leap_rows())
    assert _business(silver_v1) == expected
    units = silver_v1.select("unit", "commodity", "interval_minutes", "source").distinct()
    assert [tuple(r) for r in units.collect()] == [("Wh", "electricity", 15, "utility_drops")]


def _silver_row(lake: Lake, meter: str, interval: str) -> tuple:
    row = lake.read(SILVER_METER_READINGS).filter(
        (F.col("meter_id") == meter) & (F.col("interval_start") == F.lit(utc(interval)))
    ).select("value", "version_count", "_source_file", "_source_line").collect()
    assert len(row) == 1
    return tuple(row[0])


def test_corrections_win_and_a_repeated_old_value_keeps_the_latest(staged: dict) -> None:
    lake: Lake = staged["lake"]
    assert _silver_row(lake, METER, CORRECTED) == (999.9, 2, "drop_a.csv", 2)
    assert _silver_row(lake, METER, REVERTED) == (208.2, 3, "drop_b.csv", 2)
    assert _silver_row(lake, NEW_METER, "2020-06-01T00:15:00.000Z") == (11.0, 1, "drop_b.csv", 4)
    assert [(s.rows_read, s.rows_inserted, s.rows_updated) for s in staged["snapshots"][1:]] == [
        (2, 0, 2), (3, 2, 1)
    ]
    assert lake.read(SILVER_METER_READINGS).count() == 1248


def test_history_lists_every_version_in_arrival_order(staged: dict) -> None:
    history = reading_history(staged["lake"], METER, utc(REVERTED)).collect()
    assert [(r["value"], r["_source_file"], r["_source_line"], r["is_current"])
            for r in history] == [
        (208.2, "input_0.csv", 3, False),
        (250.0, "drop_a.csv", 3, False),
        (208.2, "drop_b.csv", 2, True),
    ]
    arrivals = [r["_received_at"] for r in history]
    assert arrivals == sorted(arrivals) and len(set(arrivals)) == 3
    assert all(Path(r["landing_path"]).is_file() for r in history)


def test_as_known_at_rebuilds_each_past_snapshot(staged: dict) -> None:
    lake: Lake = staged["lake"]
    for instant, snapshot in zip(staged["instants"], staged["snapshots"], strict=False):
        rebuilt = as_known_at(lake, instant)
        assert _business(rebuilt) == _business(
            lake.read(SILVER_METER_READINGS, snapshot.silver_version)
        )
    before_a = as_known_at(lake, staged["instants"][0]).filter(
        F.col("interval_start") == F.lit(utc(CORRECTED))
    ).filter(F.col("meter_id") == METER).select("value").collect()
    assert [r["value"] for r in before_a] == [312.4]


def test_running_everything_again_changes_nothing(staged: dict, make_lake: MakeLake) -> None:
    lake = make_lake(copy_of=staged["lake"])  # the second run logs 12 duplicates: not in theirs
    versions = {c.name: lake.version(c) for c in (BRONZE_UTILITY_DROPS, SILVER_METER_READINGS)}
    again = ingest_paths(lake, UTILITY_DROP_FILES, [LEAP, *staged["drops"]])
    assert {f.outcome for f in again.files} == {"duplicate"}
    assert all(f.duplicate_of for f in again.files)
    second = run_snapshot(lake, utility_drops_source.SNAPSHOT)
    assert (second.rows_read, second.silver_version) == (0, None)
    assert {c.name: lake.version(c) for c in (BRONZE_UTILITY_DROPS, SILVER_METER_READINGS)} \
        == versions
    outcomes = lake.read(INGEST_LOG).groupBy("outcome").count().collect()
    assert sorted(tuple(r) for r in outcomes) == [("duplicate", 12), ("loaded", 12)]


def test_a_backlog_in_one_run_equals_file_by_file(staged: dict, make_lake: MakeLake) -> None:
    backlog = make_lake("backlog")
    ingest_paths(backlog, UTILITY_DROP_FILES, [LEAP, *staged["drops"]])
    run_snapshot(backlog, utility_drops_source.SNAPSHOT)
    assert _business(backlog.read(SILVER_METER_READINGS)) == _business(
        staged["lake"].read(SILVER_METER_READINGS)
    )


def test_grid_fills_every_gap_between_first_and_last_reading(make_lake: MakeLake) -> None:
    lake = make_lake("grid")
    ingest_paths(lake, UTILITY_DROP_FILES, [LEAP])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    run_grid(lake)
    grid = lake.read(GOLD_METER_INTERVALS_15MIN)
    # 3 meters, each read from 2020-06-01 to 2020-06-07 23:45 somewhere in the fixtures: the
    # span per meter is computed from the files themselves.
    spans = {}
    for meter, start, _e, _f, _l in leap_rows():
        low, high = spans.get(meter, (start, start))
        spans[meter] = (min(low, start), max(high, start))
    expected_rows = sum(int((hi - lo).total_seconds() // 900) + 1 for lo, hi in spans.values())
    present = grid.filter(~F.col("is_missing"))
    assert grid.count() == expected_rows
    assert sorted(tuple(r) for r in present.select("meter_id", "interval_start", "energy_wh")
                  .collect()) == sorted((m, t, e) for m, t, e, _f, _l in leap_rows())
    hour = grid.filter((F.col("meter_id") == METER)
                       & (F.col("hour_start") == F.lit(utc("2020-06-06T09:00:00Z"))))
    values = [e for m, t, e, _f, _l in leap_rows()
              if m == METER and t.date().isoformat() == "2020-06-06" and t.hour == 9]
    means = [r["hour_mean_energy_wh"] for r in hour.collect()]
    assert len(means) == 4 and means == [pytest.approx(sum(values) / len(values), rel=1e-12)] * 4
