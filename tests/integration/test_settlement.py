"""Monthly settlement on a real lake: the hand-computed March 2024 case (DST start, a mid-month
move, a gap and one event), then a correction, revisions, diff, reproduction and the package.

The module's lake is settled once (revision 1, a correction, revision 2 of north) and the tests
only read its tables, in any order; the one that vacuums silver does so on a copy of its own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.audit.settlement import diff_runs, package, reproduce
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.gold.settlement.book import book_from_mapping
from meterlake.gold.settlement.run import settle
from meterlake.gold.settlement.tables import (
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    REPORT_RUNS,
)
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import utc, write_drop
from tests.helpers.lakes import MakeLake, lake_at
from tests.helpers.settlement_case import (
    BOOK,
    EXPECTED_LINES,
    EXPECTED_SUMMARY,
    MONTH,
    march_drop,
)

# 2024-03-05 12:00 in Amsterdam (UTC+1): M1 read 50 Wh there; the correction says 1050 Wh.
CORRECTED_AT = "2024-03-05T11:00:00.000Z"


@pytest.fixture(scope="module")
def settled(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The lake after revision 1 of both partners and, after a correction of M1, revision 2 of
    north; with the runs by partner. Tests only read its tables."""
    root = tmp_path_factory.mktemp("settlement")
    lake = lake_at(spark, root / "lake")
    book = book_from_mapping(BOOK, "case")
    ingest_paths(lake, UTILITY_DROP_FILES, [march_drop(root / "drop_20240401T0000Z.csv")])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    first = {r.partner: r for r in settle(lake, book, MONTH)}
    correction = write_drop(root / "drop_20240402T0000Z.csv", [("M1", CORRECTED_AT, "1050.0")])
    ingest_paths(lake, UTILITY_DROP_FILES, [correction])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    second = {r.partner: r for r in settle(lake, book, MONTH, ["north"])}
    return {"lake": lake, "first": first, "second": second}


def _lines(lake: Lake, run_id: str) -> dict[tuple, tuple]:
    rows = lake.read(GOLD_SETTLEMENT_LINES).filter(F.col("run_id") == run_id).collect()
    return {
        (r["partner"], r["meter_id"], r["line_type"], r["line_name"]): (
            r["intervals_expected"], r["intervals_present"], r["intervals_estimated"],
            *(None if r[c] is None else str(r[c]) for c in (
                "kwh_measured", "kwh_estimated", "kwh_baseline", "kwh_reduction",
                "adjustment_factor", "price", "amount")))
        for r in rows
    }


def _summary(lake: Lake, run_id: str) -> tuple:
    r = lake.read(GOLD_SETTLEMENT_SUMMARY).filter(F.col("run_id") == run_id).first()
    assert r is not None
    return (r["meters"], r["intervals_expected"], r["intervals_present"],
            r["intervals_estimated"], *(str(r[c]) for c in (
                "kwh_measured", "kwh_estimated", "energy_amount", "kwh_reduction",
                "event_amount", "total_amount", "completeness")))


def test_lines_equal_the_hand_computed_amounts(settled: dict) -> None:
    lake, first = settled["lake"], settled["first"]
    lines = {**_lines(lake, first["north"].run_id), **_lines(lake, first["south"].run_id)}
    assert lines == EXPECTED_LINES


def test_summaries_equal_the_hand_computed_totals(settled: dict) -> None:
    lake, first = settled["lake"], settled["first"]
    for partner, expected in EXPECTED_SUMMARY.items():
        assert _summary(lake, first[partner].run_id) == expected


def test_exports_hold_the_lines_and_the_manifest_their_checksums(settled: dict) -> None:
    run = settled["first"]["north"]
    directory = Path(run.export_path)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert set(manifest["outputs"]) == {"lines.csv", "lines.parquet", "summary.csv",
                                        "summary.parquet"}
    for name, recorded in manifest["outputs"].items():
        data = (directory / name).read_bytes()
        assert (recorded["sha256"], recorded["bytes"]) == (hashlib.sha256(data).hexdigest(),
                                                           len(data))
        if name.endswith(".csv"):  # a CSV export is canonical: its rows checksum is its own
            assert recorded["rows_sha256"] == recorded["sha256"]
    parquet = pq.read_table(directory / "lines.parquet").to_pylist()
    assert [(r["meter_id"], r["line_name"], str(r["amount"])) for r in parquet] == [
        ("M1", "offpeak", "52.62"), ("M1", "peak", "63.14"), ("M1", "dr-0320", "1.17"),
        ("M2", "offpeak", "29.44"), ("M2", "peak", "42.24")]
    with (directory / "lines.csv").open(newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert [(r["meter_id"], r["line_type"], r["line_name"], r["amount"]) for r in exported] == [
        ("M1", "energy", "offpeak", "52.62"), ("M1", "energy", "peak", "63.14"),
        ("M1", "event", "dr-0320", "1.17"), ("M2", "energy", "offpeak", "29.44"),
        ("M2", "energy", "peak", "42.24")]
    assert {r["run_id"] for r in exported} == {run.run_id}
    assert manifest["run_id"] == run.run_id and manifest["revision"] == 1
    assert manifest["parameters"]["book"]["partners"].keys() == {"north"}
    assert manifest["row_counts"] == {"lines": 5, "summary": 1}


def test_the_run_records_its_inputs_and_configuration(settled: dict, spark: SparkSession
                                                      ) -> None:
    lake, run = settled["lake"], settled["first"]["north"]
    row = lake.read(REPORT_RUNS).filter(F.col("run_id") == run.run_id).first()
    assert row is not None
    inputs = json.loads(row["inputs"])
    # Silver: created (0), first MERGE (1); bronze: created (0), first load (1).
    assert inputs["silver_version"] == 1
    assert inputs["bronze_versions"] == {"utility_drops": 1, "smrt": None}
    # As known at the in-commit timestamp of bronze version 1: the instant Spark's history
    # shows for it, and the one at which Spark's time travel answers that version.
    bronze = lake.path(UTILITY_DROP_FILES.bronze)
    [history] = spark.sql(f"DESCRIBE HISTORY delta.`{bronze}`").filter("version = 1").collect()
    assert row["as_known_at"] == history["timestamp"]
    assert row["as_known_at"].microsecond % 1000 == 0
    as_known = row["as_known_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
    rows_by_version = [lake.read(UTILITY_DROP_FILES.bronze, v).count() for v in (0, 1, 2)]
    assert len(set(rows_by_version)) == 3  # the count names the version
    assert spark.read.format("delta").option("timestampAsOf", as_known).load(bronze).count() == (
        rows_by_version[1])
    assert row["started_at"].microsecond % 1000 == 0
    assert row["finished_at"].microsecond % 1000 == 0
    north_book = book_from_mapping(json.loads(row["parameters"])["book"], "recorded")
    assert row["book_sha256"] == north_book.sha256()
    assert row["code_version"].startswith("meterlake ")


def test_a_correction_changes_the_next_revision_and_not_the_first(settled: dict) -> None:
    lake, first, second = settled["lake"], settled["first"], settled["second"]
    assert second["north"].revision == 2 and set(second) == {"north"}
    assert _lines(lake, first["north"].run_id) == {
        k: v for k, v in EXPECTED_LINES.items() if k[0] == "north"}
    revised = _lines(lake, second["north"].run_id)
    # +1 kWh of peak energy: (211.12 + 0.36) x 0.30 = 63.444 -> 63.44.
    peak = ("north", "M1", "energy", "peak")
    assert revised[peak] == (1344, 1340, 4, "211.120000", "0.360000", None, None, None,
                             "0.300000", "63.44")
    assert {k: v for k, v in revised.items() if k != peak} == {
        k: v for k, v in EXPECTED_LINES.items() if k[0] == "north" and k != peak}
    assert _summary(lake, second["north"].run_id)[4:10] == (
        "762.200000", "0.360000", "187.74", "0.780800", "1.17", "188.91")


def test_diff_names_the_changed_line_and_the_correction_behind_it(settled: dict) -> None:
    lake, first, second = settled["lake"], settled["first"], settled["second"]
    lines, readings = diff_runs(lake, first["north"].run_id, second["north"].run_id)
    assert [(r["meter_id"], r["line_name"], r["amount_a"], r["amount_b"], r["amount_change"])
            for r in lines.collect()] == [
        ("M1", "peak", Decimal("63.14"), Decimal("63.44"), Decimal("0.30"))]
    assert [(r["meter_id"], r["interval_start"], r["value_a"], r["value_b"], r["file"])
            for r in readings.collect()] == [
        ("M1", utc(CORRECTED_AT), 50.0, 1050.0, "drop_20240402T0000Z.csv")]


def test_package_holds_every_run_its_sources_and_later_corrections(
    settled: dict, tmp_path: Path
) -> None:
    lake, first, second = settled["lake"], settled["first"], settled["second"]
    archive = package(lake, "north", 2024, tmp_path / "audit")
    with zipfile.ZipFile(archive) as zipped:
        index = json.loads(zipped.read("index.json"))
        assert [(r["month"], r["revision"]) for r in index["runs"]] == [(MONTH, 1), (MONTH, 2)]
        folders = {r["revision"]: r["folder"] for r in index["runs"]}
        exported = Path(first["north"].export_path, "lines.csv").read_bytes()
        assert zipped.read(f"{folders[1]}/lines.csv") == exported
        sources_1 = list(csv.DictReader(io.StringIO(
            zipped.read(f"{folders[1]}/source_files.csv").decode())))
        assert [(r["_source_file"], r["readings"]) for r in sources_1] == [
            ("drop_20240401T0000Z.csv", "5940")]
        later_1 = list(csv.DictReader(io.StringIO(
            zipped.read(f"{folders[1]}/corrections_after.csv").decode())))
        assert [(r["meter_id"], r["value_in_run"], r["new_value"], r["_source_file"])
                for r in later_1] == [("M1", "50.0", "1050.0", "drop_20240402T0000Z.csv")]
        later_2 = zipped.read(f"{folders[2]}/corrections_after.csv").decode().splitlines()
        assert len(later_2) == 1  # the header: nothing arrived after revision 2
        assert second["north"].run_id in folders[2]


def test_reproduce_matches_after_later_merges_through_time_travel(settled: dict) -> None:
    result = reproduce(settled["lake"], settled["first"]["north"].run_id)
    assert result.through == "silver"
    assert result.matches, str(result)
    assert len(result.checksums) == 4


def test_reproduce_matches_after_vacuum_of_silver_through_bronze(
    settled: dict, spark: SparkSession, make_lake: MakeLake
) -> None:
    lake = make_lake(copy_of=settled["lake"])  # VACUUM would take time travel from the others
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        DeltaTable.forPath(spark, lake.path(SILVER_METER_READINGS)).vacuum(0)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    for run in (settled["first"]["north"], settled["first"]["south"],
                settled["second"]["north"]):
        result = reproduce(lake, run.run_id)
        assert result.matches, str(result)
        expected_route = "bronze" if run.revision == 1 else "silver"
        assert result.through == expected_route, str(result)
