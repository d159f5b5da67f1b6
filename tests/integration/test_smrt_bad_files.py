"""SMRT all-or-nothing rules on crafted files, each with its exact error text, and the shapes
real senders produce (LF, no final newline, spaces after commas, blank lines) accepted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.core.config import Settings, SmrtSettings
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.smrt.parse import SMRT_FILES
from tests.helpers.lakes import lake_at

HEADER = '"HEADR","SMRT","GAZ","20191016","102939","{generation}"'
GOOD = '"CONSU","000000002","20191014","1100",10.28'

CASES = {
    "PN000101.SMRT": (
        f"{GOOD}\r\n\"TRAIL\"\r\n",
        "header: missing",
    ),
    "PN000102.SMRT": (
        f"{GOOD}\r\n{HEADER.format(generation='PN000102')}\r\n\"TRAIL\"\r\n",
        "header: misplaced or repeated (lines 2)",
    ),
    "PN000103.SMRT": (
        HEADER.format(generation="PN000103") + "\r\n" + GOOD + "\r\n"
        + '"CONSU","00000000A","20191014","1200",2.84\r\n'
        + '"CONSU","000000002","20191314","1230",abc\r\n'
        + '"CONSU","000000002","20191014","1300"\r\n"TRAIL"\r\n',
        "line 3: meter number: not a string of digits: '00000000A'; "
        "line 4: measurement date: not a YYYYMMDD date: '20191314'; "
        "time: not HHMM at the start of an hour: '1230'; consumption: not a number: 'abc'; "
        "line 5: (record): CONSU has 4 fields, expected 5; consumption: not a number: (empty)",
    ),
    "PN000104.SMRT": (
        HEADER.format(generation="PN000104") + "\n" + GOOD + "\n\"TRAIL\"\n" + GOOD + "\n",
        "trailer: misplaced or repeated (lines 3)",
    ),
    "DV000105.SMRT": (
        HEADER.format(generation="DV000105") + "\n" + GOOD + "\n\"TRAIL\"\n",
        "development file DV000105 refused: configuration accepts production (PN) files only",
    ),
    "PN000106.SMRT": (
        '"HEADR","SMRT","GAZ","20191016","1029","PN106"\n' + GOOD + "\n\"TRAIL\",\"x\"\n",
        "line 1: creation date and time: not "
        "YYYYMMDD and HHMMSS: '20191016' '1029'; generation number: 'PN106' does not match "
        "(PN|DV)[0-9]{6}; line 3: (record): TRAIL has 2 fields, expected 1",
    ),
}

# LF endings, no final newline, spaces after commas, blank lines between records.
ACCEPTED_SHAPES = (
    '"HEADR", "SMRT", "GAZ", "20191016", "102939", "PN000107"\n\n'
    '"CONSU", "0000000001", "20190928", "0000", 0.00\n'
    '\n"CONSU", "0000000001", "20190928", "0100", 1.52\n"TRAIL"'
)


@pytest.fixture(scope="module")
def loaded(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, dict]:
    root = tmp_path_factory.mktemp("smrt-bad")
    drops = root / "drops"
    drops.mkdir()
    for name, (content, _reason) in CASES.items():
        (drops / name).write_bytes(content.encode())
    (drops / "PN000107.SMRT").write_bytes(ACCEPTED_SHAPES.encode())
    lake = lake_at(spark, root / "lake")
    report = ingest_paths(lake, SMRT_FILES, [drops])
    return lake, {f.landed.original_name: f for f in report.files}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_is_rejected_whole_with_every_reason(loaded: tuple[Lake, dict], name: str) -> None:
    lake, outcomes = loaded
    assert (outcomes[name].outcome, outcomes[name].reason) == ("rejected", CASES[name][1])
    rows = lake.read(BRONZE_SMRT).filter(F.col("_source_file") == name)
    assert rows.isEmpty()


def test_real_sender_shapes_are_accepted(loaded: tuple[Lake, dict]) -> None:
    lake, outcomes = loaded
    assert (outcomes["PN000107.SMRT"].outcome, outcomes["PN000107.SMRT"].rows_loaded) == (
        "loaded", 2)
    rows = lake.read(BRONZE_SMRT).filter(F.col("_source_file") == "PN000107.SMRT").select(
        "meter_id", "consumption", "_source_line", "generation", "generation_number")
    assert sorted(tuple(r) for r in rows.collect()) == [
        ("0000000001", 0.0, 3, "PN000107", 107), ("0000000001", 1.52, 5, "PN000107", 107),
    ]


def test_dev_files_load_where_configuration_allows(spark: SparkSession, tmp_path: Path) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    lake = Lake(spark, _with_dev(lake))
    path = tmp_path / "DV000105.SMRT"
    path.write_bytes(CASES["DV000105.SMRT"][0].encode())
    [outcome] = ingest_paths(lake, SMRT_FILES, [path]).files
    assert (outcome.outcome, outcome.rows_loaded) == ("loaded", 1)


def _with_dev(lake: Lake) -> Settings:
    return replace(lake.settings, smrt=SmrtSettings(production_only=False))
