"""The SMRT file flow on the real sample files: exact outcomes for every fixture, exact silver
values whatever the delivery order, and the all-or-nothing rules with their error text."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.engine.ingest import IngestReport, ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.smrt import source as smrt_source
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.smrt.parse import SMRT_FILES
from tests.helpers.fixture_data import SMRT, smrt_consu_rows, smrt_latest
from tests.helpers.lakes import MakeLake, lake_at

VALID = [SMRT / f"PN{n:06d}.SMRT" for n in range(1, 11)]


def _silver(lake: Lake) -> dict:
    rows = lake.read(SILVER_METER_READINGS).filter(F.col("source") == "smrt").collect()
    return {(r["meter_id"], r["interval_start"]): (r["value"], r["_source_file"],
                                                   r["_source_line"], r["version_count"])
            for r in rows}


def _outcomes(report: IngestReport) -> list[tuple[str, str, str | None]]:
    return [(f.landed.original_name, f.outcome, f.reason) for f in report.files]


@pytest.fixture(scope="module")
def in_order(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, list]:
    """PN000001..PN000010 delivered one by one in order, then the two defective files.
    Tests only read its lake."""
    lake = lake_at(spark, tmp_path_factory.mktemp("smrt") / "lake")
    reports = [ingest_paths(lake, SMRT_FILES, [path]) for path in VALID]
    reports.append(ingest_paths(lake, SMRT_FILES, [SMRT / "PN000011.SMRT", SMRT / "PN000012.SMRT"]))
    run_snapshot(lake, smrt_source.SNAPSHOT)
    return lake, reports


def test_every_fixture_file_has_its_exact_outcome(in_order: tuple[Lake, list]) -> None:
    _lake, reports = in_order
    outcomes = [o for report in reports for o in _outcomes(report)]
    assert outcomes == [(p.name, "loaded", None) for p in VALID] + [
        ("PN000011.SMRT", "rejected", "file name 'PN000011.SMRT' does not match the header's "
         "generation number 'PN000010' (expected 'PN000010.SMRT')"),
        ("PN000012.SMRT", "rejected", "trailer: missing"),
    ]
    loaded = [f for report in reports for f in report.files if f.outcome == "loaded"]
    assert [f.rows_loaded for f in loaded] == [len(smrt_consu_rows(p)) for p in VALID]


def test_bronze_keeps_every_version_and_silver_the_latest_generated(
    in_order: tuple[Lake, list]
) -> None:
    lake, _ = in_order
    bronze = lake.read(BRONZE_SMRT).select("meter_id", "interval_start", "consumption",
                                           "_source_file", "_source_line")
    expected_bronze = [row[:5] for p in VALID for row in smrt_consu_rows(p)]
    assert sorted(tuple(r) for r in bronze.collect()) == sorted(expected_bronze)
    assert _silver(lake) == smrt_latest(VALID)
    units = lake.read(SILVER_METER_READINGS).select("unit", "commodity", "interval_minutes")
    assert [tuple(r) for r in units.distinct().collect()] == [("kWh", "gas", 60)]


def test_reverse_order_and_one_batch_give_the_same_silver(
    in_order: tuple[Lake, list], make_lake: MakeLake
) -> None:
    # Newest first, three deliveries each merged on its own: older generations arrive last.
    reverse = make_lake("reverse")
    for paths in (VALID[:6:-1], VALID[6:2:-1], VALID[2::-1]):
        ingest_paths(reverse, SMRT_FILES, list(paths))
        run_snapshot(reverse, smrt_source.SNAPSHOT)
    batch = make_lake("batch")
    ingest_paths(batch, SMRT_FILES, VALID)
    run_snapshot(batch, smrt_source.SNAPSHOT)
    expected = _silver(in_order[0])
    assert _silver(reverse) == expected
    assert _silver(batch) == expected


def test_a_file_name_already_loaded_is_not_loaded_again(
    in_order: tuple[Lake, list], make_lake: MakeLake
) -> None:
    lake = make_lake(copy_of=in_order[0])  # the second delivery is logged: not in theirs
    reports = in_order[1]
    first = reports[0].files[0].landed.ingest_id
    again = ingest_paths(lake, SMRT_FILES, [VALID[0]])
    assert _outcomes(again) == [("PN000001.SMRT", "duplicate",
                                 f"same file name as ingest {first}, already loaded")]
