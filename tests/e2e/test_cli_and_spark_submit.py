"""End to end through the user's doors: the `meterlake` command and spark-submit of the jobs
with the package zipped for --py-files. Each command starts its own JVM, hence `slow`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.core.jars import jar_paths
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from tests.helpers.fixture_data import SMRT, csv_rows, smrt_latest
from tests.helpers.packaging import package_zip
from tests.helpers.paths import BIN, LEAP, REPO

pytestmark = pytest.mark.slow

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    return subprocess.run([str(c) for c in command], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_ingest_snapshot_and_audit(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest = _run(BIN / "meterlake", "ingest", "utility_drops", LEAP / "input_0.csv",
                  "--lake", lake)
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.splitlines()[0] == (
        "ingest utility_drops batch 0: 1 loaded, 0 rejected, 0 duplicate; "
        "124 rows to bronze, 0 quarantined"
    )
    snapshot = _run(BIN / "meterlake", "snapshot", "--lake", lake)
    assert snapshot.returncode == 0, snapshot.stderr
    assert "silver version 1: 124 readings inserted, 0 corrections applied" in snapshot.stdout
    history = _run(BIN / "meterlake", "audit", "history", "--meter", METER,
                   "--interval", "2020-06-06T09:15:00Z", "--lake", lake)
    assert history.returncode == 0, history.stderr
    [line] = history.stdout.splitlines()
    marker, value, received_at, source, ingest_id = line.split()
    assert (marker, value, source) == ("*", "312.4", "input_0.csv:2")
    assert received_at.endswith("Z") and ingest_id.startswith("ingest=")


def test_cli_refuses_a_timestamp_without_offset(tmp_path: Path) -> None:
    result = _run(BIN / "meterlake", "audit", "as-known-at", "--at", "2020-06-06T09:15:00",
                  "--lake", tmp_path)
    assert result.returncode == 2
    assert "timestamp needs a UTC offset" in result.stderr


def test_spark_submit_runs_the_packaged_jobs(spark: SparkSession, tmp_path: Path) -> None:
    archive, lake = package_zip(tmp_path), tmp_path / "lake"
    jars = ",".join(str(p) for p in jar_paths())
    submit = [BIN / "spark-submit", "--master", "local[1]", "--jars", jars, "--py-files", archive]
    ingest = _run(*submit, "jobs/ingest.py", "--lake", lake, "utility_drops",
                  LEAP / "input_1.csv")
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert "1 loaded, 0 rejected, 0 duplicate; 125 rows to bronze" in ingest.stdout
    snapshot = _run(*submit, "jobs/snapshot.py", "--lake", lake)
    assert snapshot.returncode == 0, snapshot.stderr[-3000:]
    silver = spark.read.format("delta").load(SILVER_METER_READINGS.path(str(lake)))
    actual = sorted(tuple(r) for r in silver.select(
        "meter_id", "interval_start", F.col("value"), "_source_file", "_source_line").collect())
    assert actual == sorted(csv_rows(LEAP / "input_1.csv"))


def test_cli_watch_then_views(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    for name in ("PN000001.SMRT", "PN000011.SMRT"):
        (inbox / name).write_bytes((SMRT / name).read_bytes())
    watch = _run(BIN / "meterlake", "watch", "smrt", inbox, "--interval", "0.2", "--polls", "2",
                 "--lake", lake)
    assert watch.returncode == 0, watch.stderr[-3000:]
    assert (inbox / "processed" / "PN000001.SMRT").is_file()
    assert (inbox / "rejected" / "PN000011.SMRT.reason.txt").is_file()
    files = _run(BIN / "meterlake", "files", "list", "--lake", lake)
    lines = files.stdout.splitlines()
    assert lines[0] == "2 files received"
    assert " smrt          loaded    PN000001.SMRT rows=174" in lines[1]
    assert lines[2].endswith("reason=file name 'PN000011.SMRT' does not match the header's "
                             "generation number 'PN000010' (expected 'PN000010.SMRT')")
    meters = _run(BIN / "meterlake", "meters", "count", "--lake", lake)
    expected = smrt_latest([SMRT / "PN000001.SMRT"])
    assert meters.stdout.splitlines() == [
        f"{len({m for m, _t in expected})} meters",
        f"  smrt (gas): {len({m for m, _t in expected})} meters, {len(expected)} readings",
    ]
