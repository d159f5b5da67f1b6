"""The SMRT watcher: only completely written files, moved with their fate, nothing loaded
twice across a restart; and the views that answer how many meters and which files."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG
from meterlake.lake_jobs import directory_watcher
from meterlake.receive.landing import land_file
from meterlake.receive.watcher import Watcher
from meterlake.serve.lake_queries import last_file, meter_readings, meters_by_source, received_files
from meterlake.sources.smrt import source as smrt_source
from meterlake.sources.smrt.contract import BRONZE_SMRT
from tests.helpers.fixture_data import SMRT, smrt_consu_rows, smrt_latest
from tests.helpers.lakes import lake_at


def _watcher(lake: Lake, inbox: Path) -> Watcher:
    return directory_watcher(lake, smrt_source.SOURCE, inbox, batch_size=5)


@pytest.fixture(scope="module")
def watched(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("watch")
    inbox = root / "inbox"
    inbox.mkdir()
    lake = lake_at(spark, root / "lake")
    for name in ("PN000001.SMRT", "PN000002.SMRT", "PN000012.SMRT"):
        shutil.copy(SMRT / name, inbox / name)
    growing = inbox / "PN000003.SMRT"
    growing.write_bytes((SMRT / "PN000003.SMRT").read_bytes()[:100])
    watcher = _watcher(lake, inbox)
    first_poll = watcher.poll()
    growing.write_bytes((SMRT / "PN000003.SMRT").read_bytes())
    second_poll = watcher.poll()
    third_poll = watcher.poll()
    return {"lake": lake, "inbox": inbox, "polls": (first_poll, second_poll, third_poll)}


def test_only_complete_files_are_taken_and_moved_with_their_fate(watched: dict) -> None:
    inbox: Path = watched["inbox"]
    # Poll 1 only notes sizes; poll 2 takes the three stable files (PN000003 was still
    # growing); poll 3 takes PN000003 once it stopped changing.
    assert watched["polls"] == (0, 3, 1)
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "PN000001.SMRT", "PN000002.SMRT", "PN000003.SMRT"
    ]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == [
        "PN000012.SMRT", "PN000012.SMRT.reason.txt"
    ]
    assert (inbox / "rejected" / "PN000012.SMRT.reason.txt").read_text() == (
        "rejected: trailer: missing\n"
    )
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []


def test_silver_follows_the_watched_files(watched: dict) -> None:
    lake: Lake = watched["lake"]
    paths = [SMRT / f"PN00000{n}.SMRT" for n in (1, 2, 3)]
    expected = smrt_latest(paths)
    meter, start = sorted(expected)[0]
    rows = meter_readings(lake, meter, start, datetime(2100, 1, 1)).collect()
    mine = {k: v for k, v in expected.items() if k[0] == meter}
    assert [(r["interval_start"], r["value"], r["_source_file"]) for r in rows] == [
        (k[1], v[0], v[1]) for k, v in sorted(mine.items())
    ]
    counts = [tuple(r) for r in meters_by_source(lake).collect()]
    assert counts == [("smrt", "gas", len({k[0] for k in expected}), len(expected))]


def test_files_views_list_every_received_file_and_the_last(watched: dict) -> None:
    lake: Lake = watched["lake"]
    files = [(r["original_name"], r["outcome"]) for r in received_files(lake, "smrt").collect()]
    assert files == [("PN000001.SMRT", "loaded"), ("PN000002.SMRT", "loaded"),
                     ("PN000012.SMRT", "rejected"), ("PN000003.SMRT", "loaded")]
    last = last_file(lake)
    assert last is not None and last["original_name"] == "PN000003.SMRT"


def test_a_restart_after_landing_loads_nothing_twice(spark: SparkSession, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lake = lake_at(spark, tmp_path / "lake")
    shutil.copy(SMRT / "PN000004.SMRT", inbox / "PN000004.SMRT")
    # The previous watcher landed the file and died before loading or moving it.
    land_file(lake.settings.landing_root, "smrt", inbox / "PN000004.SMRT", sender="watcher")
    restarted = _watcher(lake, inbox)
    assert (restarted.poll(), restarted.poll()) == (0, 1)
    assert [r["outcome"] for r in lake.read(INGEST_LOG).collect()] == ["loaded"]
    assert lake.read(BRONZE_SMRT).count() == len(smrt_consu_rows(SMRT / "PN000004.SMRT"))
    assert (inbox / "processed" / "PN000004.SMRT").is_file()
