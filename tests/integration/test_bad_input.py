"""Malformed files are rejected whole with a reason; malformed rows are quarantined with file,
line, field and reason while the file's good rows load; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG, IngestReport, ingest_paths
from meterlake.quality.quarantine import QUARANTINE
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import utc
from tests.helpers.lakes import lake_at
from tests.helpers.paths import FIXTURES

M = "m-1"
ROWS_CSV = f""",meter_id,interval_date_time,energy_wh
0,{M},2020-06-01T00:00:00.000Z,10.0
1,,2020-06-01T00:15:00.000Z,5.0
2,{M},2020-13-45T99:00:00.000Z,5.0
3,{M},2020-06-01T00:07:00.000Z,5.0
4,{M},2020-06-01T00:30:00.000Z,n/a
5,{M},2020-06-01T00:45:00.000Z,-12.5
6,{M},2020-06-01T01:00:00.000Z
7,{M},2020-06-01T01:15:00.000Z,1.0
8,{M},2020-06-01T01:15:00.000Z,2.0
9,{M},2020-06-01T01:30:00.000Z,3.5
10,{M},2020-06-01T01:45:00,3.5
"""

BAD_HEADER = b"meter,ts,value\nm-1,2020-06-01T00:00:00Z,1\n"
WITH_NUL = b",meter_id,interval_date_time,energy_wh\n0,m\x00,2020-06-01T00:00:00Z,1\n"

EXPECTED_QUARANTINE = [
    (3, "meter_id", "meter_id: meter_id is empty"),
    (4, "interval_date_time", "interval_date_time: not an ISO 8601 timestamp with a UTC "
                              "offset: '2020-13-45T99:00:00.000Z'"),
    (5, "interval_date_time",
     "interval_date_time: not on a 15-minute boundary: '2020-06-01T00:07:00.000Z'"),
    (6, "energy_wh", "energy_wh: not a number: 'n/a'"),
    (7, "energy_wh", "energy_wh: negative energy: '-12.5'"),
    (8, "(line)", "(line): expected 4 fields, found 3"),
    (9, "(line)", "(line): conflicting energy_wh for one meter and interval in this file "
                  "(lines 9, 10)"),
    (10, "(line)", "(line): conflicting energy_wh for one meter and interval in this file "
                   "(lines 9, 10)"),
    (12, "interval_date_time", "interval_date_time: not an ISO 8601 timestamp with a UTC "
                               "offset: '2020-06-01T01:45:00'"),
]


@pytest.fixture(scope="module")
def loaded(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lake, IngestReport]:
    root = tmp_path_factory.mktemp("bad")
    drops = root / "drops"
    drops.mkdir()
    (drops / "a_rows.csv").write_text(ROWS_CSV, encoding="utf-8")
    (drops / "b_header.csv").write_bytes(BAD_HEADER)
    (drops / "c_empty.csv").write_bytes(b"")
    (drops / "d_nul.csv").write_bytes(WITH_NUL)
    png = FIXTURES / "temperature" / "region-points.png"
    lake = lake_at(spark, root / "lake")
    return lake, ingest_paths(lake, UTILITY_DROP_FILES, [drops, png])


def test_whole_files_are_rejected_with_their_reason(loaded: tuple[Lake, IngestReport]) -> None:
    lake, report = loaded
    log = lake.read(INGEST_LOG).select(
        "original_name", "outcome", "reason", "rows_loaded", "rows_quarantined", "byte_size"
    ).orderBy("original_name")
    assert [tuple(r) for r in log.collect()] == [
        ("a_rows.csv", "loaded", None, 2, 9, len(ROWS_CSV.encode())),
        ("b_header.csv", "rejected",
         "header is 'meter,ts,value', expected ',meter_id,interval_date_time,energy_wh'", 0, 0,
         len(BAD_HEADER)),
        ("c_empty.csv", "rejected", "file is empty", 0, 0, 0),
        ("d_nul.csv", "rejected", "not a text file: contains NUL bytes", 0, 0, len(WITH_NUL)),
        ("region-points.png", "rejected", "not a text file: invalid UTF-8", 0, 0,
         (FIXTURES / "temperature" / "region-points.png").stat().st_size),
    ]
    assert [f.outcome for f in report.files] == ["loaded"] + ["rejected"] * 4


def test_bad_rows_are_quarantined_with_line_field_and_reason(
    loaded: tuple[Lake, IngestReport]
) -> None:
    lake, _ = loaded
    quarantine = lake.read(QUARANTINE)
    actual = quarantine.select("_source_line", "field", "reason").orderBy("_source_line")
    assert [tuple(r) for r in actual.collect()] == EXPECTED_QUARANTINE
    raw = {r["_source_line"]: r["raw_line"] for r in quarantine.collect()}
    assert raw[7] == f"5,{M},2020-06-01T00:45:00.000Z,-12.5"
    assert {r["_source_file"] for r in quarantine.collect()} == {"a_rows.csv"}


def test_good_rows_load_and_no_line_is_lost(loaded: tuple[Lake, IngestReport]) -> None:
    lake, _ = loaded
    bronze = lake.read(BRONZE_UTILITY_DROPS)
    assert [tuple(r) for r in bronze.select(
        "meter_id", "interval_start", "energy_wh", "_source_line").orderBy("_source_line")
        .collect()] == [
        (M, utc("2020-06-01T00:00:00Z"), 10.0, 2),
        (M, utc("2020-06-01T01:30:00Z"), 3.5, 11),
    ]
    loaded_lines = {r["_source_line"] for r in bronze.collect()}
    quarantined_lines = {r["_source_line"] for r in lake.read(QUARANTINE).collect()}
    assert loaded_lines.isdisjoint(quarantined_lines)
    assert loaded_lines | quarantined_lines == set(range(2, 13))


def test_rejected_files_leave_no_rows_anywhere(loaded: tuple[Lake, IngestReport]) -> None:
    lake, report = loaded
    rejected = [f.landed.ingest_id for f in report.files if f.outcome == "rejected"]
    for contract in (BRONZE_UTILITY_DROPS, QUARANTINE):
        assert lake.read(contract).filter(F.col("_ingest_id").isin(rejected)).isEmpty()
    png = FIXTURES / "temperature" / "region-points.png"
    originals = {"b_header.csv": BAD_HEADER, "c_empty.csv": b"", "d_nul.csv": WITH_NUL,
                 "region-points.png": png.read_bytes()}
    for outcome in report.files:
        if outcome.outcome == "rejected":
            landed = Path(outcome.landed.landing_path).read_bytes()
            assert landed == originals[outcome.landed.original_name]
