"""The SMRT watcher: only completely written files, moved with their fate, nothing loaded
twice across a restart; a watched utility drop readable through the read API's reader; and
the views that answer how many meters and which files."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG, ingest_pending
from meterlake.lake_jobs import directory_watcher
from meterlake.receive.landing import land_file
from meterlake.receive.watcher import Watcher
from meterlake.serve import delta_reads
from meterlake.serve.lake_queries import last_file, meter_readings, meters_by_source, received_files
from meterlake.sources.smrt import source as smrt_source
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.utility_drops import source as utility_drops_source
from tests.helpers.fixture_data import SMRT, csv_rows, smrt_consu_rows, smrt_latest
from tests.helpers.lakes import lake_at
from tests.helpers.paths import LEAP


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


def test_a_file_loaded_before_a_crash_is_moved_with_its_logged_fate(
    spark: SparkSession, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lake = lake_at(spark, tmp_path / "lake")
    shutil.copy(SMRT / "PN000012.SMRT", inbox / "PN000012.SMRT")
    # The previous watcher landed and loaded the file, then died before moving it: its fate is
    # only in ops.ingest_log now, and the next batch has nothing of it to report.
    land_file(lake.settings.landing_root, "smrt", inbox / "PN000012.SMRT", sender="watcher")
    ingest_pending(lake, smrt_source.SOURCE.files)
    restarted = _watcher(lake, inbox)
    assert (restarted.poll(), restarted.poll()) == (0, 1)
    assert [r["outcome"] for r in lake.read(INGEST_LOG).collect()] == ["rejected"]
    assert (inbox / "rejected" / "PN000012.SMRT.reason.txt").read_text() == (
        "rejected: trailer: missing\n"
    )


def test_a_watched_utility_drop_is_readable_through_the_read_api(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lake = lake_at(spark, tmp_path / "lake")
    drop = LEAP / "input_0.csv"
    shutil.copy(drop, inbox / drop.name)
    watcher = directory_watcher(lake, utility_drops_source.SOURCE, inbox, batch_size=5)
    with caplog.at_level(logging.INFO, logger="meterlake.receive.watcher"):
        assert (watcher.poll(), watcher.poll()) == (0, 1)
    # The operator's line per poll that took files: how many, and the backlog it left.
    polls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("poll: ")]
    assert len(polls) == 1
    assert polls[0].startswith("poll: 1 files taken, 0 complete files left waiting; landed in ")
    silver = delta_reads.LatestTables(lake.settings.lake_root).latest(
        delta_reads.SILVER_METER_READINGS)
    rows = csv_rows(drop)
    for meter in sorted({r[0] for r in rows}):
        found = delta_reads.meter_readings(silver, meter, None, None)
        assert [(p["interval_start"], p["value"]) for p in found.to_pylist()] == sorted(
            (r[1].replace(tzinfo=UTC), r[2]) for r in rows if r[0] == meter)
