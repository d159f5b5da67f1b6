"""Every job on the object store gives the tables the same jobs give on local disk.

The main job of `make run` (the same 20 meters, 7 days and seed) runs once on local disk and
once with the lake and the landing zone on the session's SeaweedFS server (infra/s3.sh), through
the same library calls the CLI makes; then the other jobs (settle, reproduce, stream ingest,
optimize, publish, the read API through delta-rs) run against the S3 lake. The CLI's errors for
a wrong key or a missing bucket are checked in a process of its own, like a user sees them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from sqlalchemy import create_engine, text

from meterlake.audit.settlement import diff_runs, package, reproduce
from meterlake.core.contracts import TableContract
from meterlake.core.jars import jar_paths
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.streaming import ingest_stream
from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN, run_grid
from meterlake.gold.meter_usage_hourly import GOLD_METER_USAGE_HOURLY
from meterlake.gold.settlement.book import load_book
from meterlake.gold.settlement.run import EXPORTS, settle
from meterlake.gold.settlement.tables import (
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    REPORT_RUNS,
)
from meterlake.lake_jobs import run_pipeline
from meterlake.maintenance import run_optimize
from meterlake.quality.quarantine import QUARANTINE
from meterlake.receive.landing import land_file, list_landed
from meterlake.serve import delta_reads
from meterlake.serve.publish.publisher import publish
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.registry import source_named
from meterlake.sources.utility_drops.generate import UtilityDropPlan, write_utility_drops
from tests.helpers.lakes import lake_at
from tests.helpers.object_store_lakes import S3_CONF, fingerprint, s3_lake
from tests.helpers.packaging import package_zip
from tests.helpers.paths import BIN, REPO

pytestmark = pytest.mark.slow

# `make run`'s sample: its settlement of June 2020 is known (README).
PLAN = UtilityDropPlan(meters=20, days=7, seed=42, drops_per_day=4, correction_rate=0.03,
                       new_meters=3, bad_row_rate=0.002)
BOOK = REPO / "conf" / "settlement.yaml"
COMPARED: tuple[TableContract, ...] = (
    source_named("utility_drops").files.bronze, QUARANTINE, SILVER_METER_READINGS,
    GOLD_METER_INTERVALS_15MIN, GOLD_METER_USAGE_HOURLY, GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
)
UTILITY_DROPS = source_named("utility_drops").files


@dataclass(frozen=True)
class Sample:
    drops: Path
    local: Lake


@pytest.fixture(scope="module")
def sample(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """`make run` on local disk: the reference the object-store lakes are compared with."""
    drops = write_utility_drops(PLAN, tmp_path_factory.mktemp("drops"))
    local = lake_at(spark, tmp_path_factory.mktemp("local") / "lake")
    run_pipeline(local, UTILITY_DROPS, drops)
    settle(local, load_book(BOOK), "2020-06")
    return Sample(drops[0].parent, local)


@pytest.fixture(scope="module")
def s3(spark: SparkSession, sample: Sample, object_store_env: dict[str, str]
       ) -> Iterator[Lake]:
    """The same jobs with the lake and the landing zone on the object store."""
    with s3_lake(spark, "main-job", object_store_env) as lake:
        run_pipeline(lake, UTILITY_DROPS, [sample.drops])
        settle(lake, load_book(BOOK), "2020-06")
        yield lake


def test_the_main_job_on_s3_gives_the_local_tables(sample: Sample, s3: Lake) -> None:
    assert s3.settings.lake_root.startswith("s3a://meterlake/lake/tests/main-job-")
    for contract in COMPARED:
        rows, digest = fingerprint(s3, contract)
        assert rows > 0, contract.qualified_name
        assert (rows, digest) == fingerprint(sample.local, contract), contract.qualified_name
    totals = {r["partner"]: (str(r["total_amount"]), r["currency"])
              for r in s3.read(GOLD_SETTLEMENT_SUMMARY).collect()}
    assert totals == {"north": ("507.28", "EUR"), "south": ("397.09", "USD")}


def test_landed_files_and_exports_live_on_s3(s3: Lake) -> None:
    landed = list_landed(s3.settings.landing_root, UTILITY_DROPS.name,
                         object_store=s3.settings.object_store)
    assert len(landed) == PLAN.days * PLAN.drops_per_day
    assert all(f.landing_path.startswith(f"{s3.settings.landing_root}/utility_drops/")
               for f in landed)
    exports = [r["export_path"] for r in s3.read(REPORT_RUNS).collect()]
    assert len(exports) == 2
    assert all(p.startswith(f"{s3.settings.lake_root}/exports/settlements/") for p in exports)


def test_a_settlement_on_s3_reproduces_byte_for_byte(s3: Lake) -> None:
    [north] = [r["run_id"] for r in s3.read(GOLD_SETTLEMENT_SUMMARY).collect()
               if r["partner"] == "north"]
    result = reproduce(s3, north)
    assert result.same_bytes and all(result.same_bytes.values()), result.same_bytes
    assert result.directory.startswith(f"{s3.settings.lake_root}/exports/reproductions/")


def test_the_read_api_reads_the_s3_lake_through_delta_rs(sample: Sample, s3: Lake) -> None:
    tables = delta_reads.LatestTables(s3.settings.lake_root, s3.settings.object_store)
    silver = tables.latest(delta_reads.SILVER_METER_READINGS)
    assert silver.version == s3.version(SILVER_METER_READINGS)
    assert silver.files.count_rows() == sample.local.read(SILVER_METER_READINGS).count()
    assert delta_reads.meter_counts(silver) == delta_reads.meter_counts(
        delta_reads.LatestTables(sample.local.settings.lake_root).latest(
            delta_reads.SILVER_METER_READINGS))


def test_publish_from_the_s3_lake(sample: Sample, s3: Lake, tmp_path: Path) -> None:
    counts = {}
    for name, lake in (("s3", s3), ("local", sample.local)):
        url = f"sqlite:///{tmp_path / name}.db"
        publish(lake, url)
        with create_engine(url).connect() as connection:
            counts[name] = connection.execute(text("SELECT COUNT(*) FROM readings")).scalar()
    assert counts["s3"] == counts["local"] == sample.local.read(SILVER_METER_READINGS).count()


def test_optimize_on_s3_keeps_every_row(s3: Lake) -> None:
    silver, grid = fingerprint(s3, SILVER_METER_READINGS), fingerprint(
        s3, GOLD_METER_INTERVALS_15MIN)
    reports = run_optimize(s3, vacuum=True)
    assert [(r.table, r.vacuumed) for r in reports] == [
        ("silver.meter_readings", True), ("gold.meter_intervals_15min", True)]
    assert fingerprint(s3, SILVER_METER_READINGS) == silver
    # The rewrite is a new silver version (dataChange false): the grid follows it, same rows.
    assert run_grid(s3).is_rebuilt is True
    assert fingerprint(s3, GOLD_METER_INTERVALS_15MIN) == grid


def test_diff_and_audit_package_of_runs_on_s3(s3: Lake, tmp_path: Path) -> None:
    [first] = [r["run_id"] for r in s3.read(REPORT_RUNS).collect() if r["partner"] == "north"]
    [second] = settle(s3, load_book(BOOK), "2020-06", ["north"])
    assert second.revision == 2
    lines_df, readings_df = diff_runs(s3, first, second.run_id)
    assert (lines_df.count(), readings_df.count()) == (0, 0)  # nothing arrived in between
    archive = package(s3, "north", 2020, tmp_path)
    with zipfile.ZipFile(archive) as zipped:
        index = json.loads(zipped.read("index.json"))
        names = set(zipped.namelist())
        assert [r["run_id"] for r in index["runs"]] == [first, second.run_id]
        for run in index["runs"]:
            recorded = json.loads(zipped.read(f"{run['folder']}/manifest.json"))["outputs"]
            for name, _frame, _fmt in EXPORTS:
                assert f"{run['folder']}/{name}" in names
                exported = zipped.read(f"{run['folder']}/{name}")
                assert hashlib.sha256(exported).hexdigest() == recorded[name]["sha256"]


def test_stream_ingest_from_the_s3_landing_zone(
    spark: SparkSession, sample: Sample, object_store_env: dict[str, str]
) -> None:
    first, second = sorted(sample.drops.iterdir())[:2]
    with s3_lake(spark, "stream", object_store_env) as lake:
        land_file(lake.settings.landing_root, UTILITY_DROPS.name, first, "receiver",
                  object_store=lake.settings.object_store)
        [report] = ingest_stream(lake, UTILITY_DROPS)
        land_file(lake.settings.landing_root, UTILITY_DROPS.name, second, "receiver",
                  object_store=lake.settings.object_store)
        [later] = ingest_stream(lake, UTILITY_DROPS)
        assert ingest_stream(lake, UTILITY_DROPS) == []
        assert [f.landed.original_name for f in report.files + later.files] == [
            first.name, second.name]
        assert (report.batch, later.batch) == (0, 1)
        assert lake.read(UTILITY_DROPS.bronze).count() == report.rows_loaded + later.rows_loaded


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "meterlake"), *args, "--conf", str(S3_CONF)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_wrong_secret_is_one_line_naming_the_url_and_the_identity(
    object_store_env: dict[str, str],
) -> None:
    env = {**os.environ, **object_store_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    result = _cli("snapshot", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"meterlake: error: s3a://meterlake/lake: the secret key is wrong as "
        f"{object_store_env['AWS_ACCESS_KEY_ID']}\n")


def test_a_missing_bucket_is_one_line_naming_the_url_and_the_identity(
    object_store_env: dict[str, str],
) -> None:
    env = {**os.environ, **object_store_env}
    result = _cli("snapshot", "--lake", "s3a://no-such-bucket/lake", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"meterlake: error: s3a://no-such-bucket/lake: access denied (no such bucket, or no "
        f"right to it) as {object_store_env['AWS_ACCESS_KEY_ID']}\n")


def _job_env(object_store_env: dict[str, str], lake: Lake) -> dict[str, str]:
    return {**os.environ, **object_store_env, "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1", "METERLAKE_LANDING": lake.settings.landing_root}


def _spark_submit(master: str, archive: Path, job: str, *args: str, env: dict[str, str]
                  ) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "spark-submit"), "--master", master,
               "--jars", ",".join(str(p) for p in jar_paths()), "--py-files", str(archive),
               # Both workers' one core each, and no more memory than a worker offers.
               "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2",
               f"jobs/{job}.py", "--conf", str(S3_CONF), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_spark_submit_to_the_cluster_with_the_lake_on_s3_gives_the_local_tables(
    spark: SparkSession, sample: Sample, object_store_env: dict[str, str], spark_cluster: str,
    tmp_path: Path,
) -> None:
    archive = package_zip(tmp_path)
    with s3_lake(spark, "cluster", object_store_env) as lake:
        env, on = _job_env(object_store_env, lake), ("--lake", lake.settings.lake_root)
        steps = [("ingest", (*on, "utility_drops", str(sample.drops))), ("snapshot", on),
                 ("grid", on), ("settle", (*on, "--month", "2020-06", "--book", str(BOOK))),
                 ("optimize", on)]
        for job, args in steps:
            result = _spark_submit(spark_cluster, archive, job, *args, env=env)
            assert result.returncode == 0, f"{job}: {result.stderr[-3000:]}"
        for contract in COMPARED:
            assert fingerprint(lake, contract) == fingerprint(sample.local, contract), (
                contract.qualified_name)


def test_two_snapshots_at_once_on_s3_end_like_one_after_the_other(
    spark: SparkSession, sample: Sample, object_store_env: dict[str, str],
) -> None:
    with s3_lake(spark, "two-writers", object_store_env) as lake:
        ingest_paths(lake, UTILITY_DROPS, [sample.drops])
        lake.release_leases()
        bronze_version = lake.version(UTILITY_DROPS.bronze)
        env = _job_env(object_store_env, lake)
        command = [str(BIN / "meterlake"), "snapshot", "--conf", str(S3_CONF),
                   "--lake", lake.settings.lake_root]
        jobs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [job.communicate(timeout=600) for job in jobs]
        assert [job.returncode for job in jobs] == [0, 0], [err[-2000:] for _, err in outputs]
        readings = sorted(
            next(line for line in out.splitlines() if line.startswith("snapshot utility_drops"))
            for out, _err in outputs)
        silver_rows = sample.local.read(SILVER_METER_READINGS).count()
        # One job merged everything; the other waited for the lease, then found nothing new.
        assert readings[0].endswith(f"silver version 1: {silver_rows} readings inserted, "
                                    "0 corrections applied")
        assert readings[1] == (
            f"snapshot utility_drops: nothing new in bronze (version {bronze_version})")
        assert fingerprint(lake, SILVER_METER_READINGS) == fingerprint(
            sample.local, SILVER_METER_READINGS)
        history = lake.for_update(SILVER_METER_READINGS).history().select(
            "version", "operation").orderBy("version").collect()
        assert [(r["version"], r["operation"]) for r in history] == [
            (0, "CREATE TABLE"), (1, "WRITE")]
