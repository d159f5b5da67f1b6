"""Which version answers "as of instant K". Every table meterlake creates has in-commit
timestamps (`core.lake.table_properties`), so each version is dated by the instant written in
its own commit, not by its log file's modification time, which a copy without preserved times
(`cp -r`) changes. Spark (DESCRIBE HISTORY, `timestampAsOf`), delta-rs's `history()`, Trino
(`FOR TIMESTAMP AS OF`, `$history`) and meterlake's `committed_at` agree on it, on the table and
on such a copy, for K at a commit instant, a millisecond either side and between two commits.
Outside the history they part: before the first commit both Spark and Trino refuse; after the
last one Spark refuses and Trino answers the last version.

delta-rs 1.6.6's `load_as_version(datetime)` still goes by modification times (pinned below, so
an upgrade that fixes it is noticed); meterlake never resolves an instant with it. A table made
before in-commit timestamps keeps file times for its older versions in Spark (pinned last).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from deltalake import DeltaTable as RsTable
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructType
from trino.exceptions import TrinoUserError

from meterlake.core.contracts import TableContract, struct_field
from meterlake.core.instants import to_millis
from meterlake.core.lake import Lake
from meterlake.gold.settlement.inputs import committed_at
from tests.helpers.lakes import lake_at
from tests.helpers.trino_server import trino_rows

# Version 0 creates the table; version v >= 1 appends the one row v = v (one file), so a
# version's row count, and its number of files, is its number in every engine.
PROBE = TableContract(
    layer="ops", name="commit_probe", grain="one row per commit after the first",
    schema=StructType([struct_field("v", IntegerType(), False)]),
)
VERSIONS = range(5)
MS = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# K outside the table's history: before its first commit, after its last.
BEFORE, AFTER = "before the first commit", "after the last commit"
SPARK_REFUSES = {BEFORE: "DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION",
                 AFTER: "DELTA_TIMESTAMP_GREATER_THAN_COMMIT"}
TRINO_SCHEMA = "commit_instants"


@dataclass(frozen=True)
class Probe:
    lake: Lake
    original: Path
    copy: Path
    # The in-commit timestamp of each version, read from the log itself.
    instants: list[datetime]


def _commit_info(table: Path, version: int) -> dict:
    entry = (table / "_delta_log" / f"{version:020d}.json").read_text(encoding="utf-8")
    [info] = [action["commitInfo"] for action in map(json.loads, entry.splitlines())
              if "commitInfo" in action]
    return info


@pytest.fixture(scope="module")
def probe(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Probe:
    lake = lake_at(spark, tmp_path_factory.mktemp("instants") / "lake")
    lake.ensure(PROBE)
    for v in VERSIONS[1:]:
        lake.append_rows(PROBE, [(v,)])
    original = Path(lake.path(PROBE))
    # Later than every commit, so that every copied log file is younger than every commit.
    time.sleep(0.05)
    copy = tmp_path_factory.mktemp("copied") / "commit_probe"
    subprocess.run(["cp", "-r", str(original), str(copy)], check=True)
    instants = [EPOCH + timedelta(milliseconds=_commit_info(original, v)["inCommitTimestamp"])
                for v in VERSIONS]
    return Probe(lake, original, copy, instants)


def _ks(instants: list[datetime]) -> list[tuple[str, datetime, int | str]]:
    """(label, K, the version that answers "as of K" by in-commit timestamps, or BEFORE/AFTER
    when K is outside the history)."""
    ks: list[tuple[str, datetime, int | str]] = []
    last = len(instants) - 1
    for v, at in enumerate(instants):
        ks += [(f"v{v}", at, v), (f"v{v}-1ms", at - MS, v - 1 if v else BEFORE),
               (f"v{v}+1ms", at + MS, v if v < last else AFTER)]
        if v < last:
            ks.append((f"v{v}..v{v + 1}", to_millis(at + (instants[v + 1] - at) / 2), v))
    return ks


def _spark_as_of(spark: SparkSession, table: Path, at: datetime) -> int | str:
    text = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # the session's zone is UTC
    try:
        # The files of the version name it, without running a Spark job.
        return len(spark.read.format("delta").option("timestampAsOf", text).load(str(table))
                   .inputFiles())
    except PySparkException as error:
        return str(error.getCondition())


def test_commits_carry_in_commit_timestamps_in_whole_milliseconds(probe: Probe) -> None:
    detail = probe.lake.spark.sql(f"DESCRIBE DETAIL delta.`{probe.original}`").first()
    assert detail is not None
    assert (detail["minReaderVersion"], detail["minWriterVersion"]) == (1, 7)
    assert "inCommitTimestamp" in detail["tableFeatures"]
    assert detail["properties"]["delta.enableInCommitTimestamps"] == "true"
    assert probe.instants == sorted(set(probe.instants))
    assert all(at.microsecond % 1000 == 0 for at in probe.instants)


@pytest.mark.parametrize("which", ["original", "copy"])
def test_every_reader_dates_each_version_by_its_in_commit_timestamp(
    probe: Probe, which: str
) -> None:
    table: Path = getattr(probe, which)
    history = probe.lake.spark.sql(f"DESCRIBE HISTORY delta.`{table}`").select(
        "version", F.unix_millis("timestamp").alias("ms")).orderBy("version").collect()
    assert [EPOCH + timedelta(milliseconds=r["ms"]) for r in history] == probe.instants
    rs_history = sorted(RsTable(str(table)).history(), key=lambda h: h["version"])
    assert [EPOCH + timedelta(milliseconds=h["timestamp"]) for h in rs_history] == probe.instants
    assert [committed_at(probe.lake, str(table), v) for v in VERSIONS] == probe.instants


@pytest.mark.parametrize("which", ["original", "copy"])
def test_spark_answers_as_of_k_by_in_commit_timestamps(probe: Probe, which: str) -> None:
    table: Path = getattr(probe, which)
    ks = _ks(probe.instants)
    answers = {label: _spark_as_of(probe.lake.spark, table, at) for label, at, _ in ks}
    assert answers == {label: SPARK_REFUSES.get(str(expected), expected)
                       for label, _, expected in ks}


def test_delta_rs_load_as_version_goes_by_modification_times(probe: Probe) -> None:
    # Every log file of the copy is younger than every commit: delta-rs 1.6.6 then answers
    # version 0 for each K, where the others answer by in-commit timestamps.
    answers = set()
    for _, at, _ in _ks(probe.instants):
        table = RsTable(str(probe.copy))
        table.load_as_version(at)
        answers.add(table.version())
    assert answers == {0}


@pytest.fixture(scope="module")
def in_trino(probe: Probe, trino_url: str) -> Iterator[str]:
    """The probe and its copy registered in Trino as commit_instants.probe_original and
    .probe_copy, in a schema of their own; unregistered at the end."""
    trino_rows(trino_url, f"CREATE SCHEMA IF NOT EXISTS lake_admin.{TRINO_SCHEMA}")
    names = {"original": "probe_original", "copy": "probe_copy"}
    for which, name in names.items():
        trino_rows(trino_url, f"CALL lake_admin.system.register_table('{TRINO_SCHEMA}', "
                              f"'{name}', 'local://{getattr(probe, which)}')")
    try:
        yield trino_url
    finally:
        for name in names.values():
            trino_rows(trino_url, f"CALL lake_admin.system.unregister_table('{TRINO_SCHEMA}', "
                                  f"'{name}')")
        trino_rows(trino_url, f"DROP SCHEMA lake_admin.{TRINO_SCHEMA}")


def _trino_as_of(url: str, table: str, at: datetime) -> int | str:
    literal = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    try:
        [[rows]] = trino_rows(url, f"SELECT count(*) FROM lake.{TRINO_SCHEMA}.{table} "
                                   f"FOR TIMESTAMP AS OF TIMESTAMP '{literal} UTC'")
    except TrinoUserError as error:
        return str(error.message).split(" at or before ")[0]
    return int(rows)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["original", "copy"])
def test_trino_dates_versions_and_answers_as_of_k_like_spark(
    probe: Probe, in_trino: str, which: str
) -> None:
    table = f"probe_{which}"
    history = trino_rows(in_trino, f'SELECT version, "timestamp" FROM '
                                   f'lake.{TRINO_SCHEMA}."{table}$history" ORDER BY version')
    assert history == [[v, at] for v, at in zip(VERSIONS, probe.instants, strict=True)]
    ks = _ks(probe.instants)
    answers = {label: _trino_as_of(in_trino, table, at) for label, at, _ in ks}
    trino_edges = {BEFORE: "No temporal version history", AFTER: VERSIONS[-1]}
    assert answers == {label: trino_edges.get(str(expected), expected)
                       for label, _, expected in ks}


def test_versions_before_in_commit_timestamps_keep_file_times_in_spark(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A table made without them (a lake from before this change): enabling them is one more
    commit; Delta records from which version, and dates only the versions from there on by
    their in-commit timestamps. Earlier versions keep their log files' modification times in
    Spark; `committed_at`, like Trino, takes their commitInfo timestamp."""
    table = tmp_path / "older"
    DeltaTable.create(spark).location(str(table)).addColumn("v", "INT").execute()
    spark.createDataFrame([(1,)], "v int").write.format("delta").mode("append").save(str(table))
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES "
              "('delta.enableInCommitTimestamps' = 'true')")
    spark.createDataFrame([(3,)], "v int").write.format("delta").mode("append").save(str(table))
    # Some time apart, as a copy or a restore would make them, and far from the commit instants.
    for version in (0, 1):
        log_file = table / "_delta_log" / f"{version:020d}.json"
        moved_ns = (_commit_info(table, version)["timestamp"] + 3_600_000) * 1_000_000
        os.utime(log_file, ns=(moved_ns, moved_ns))

    detail = spark.sql(f"DESCRIBE DETAIL delta.`{table}`").first()
    assert detail is not None
    assert detail["properties"]["delta.inCommitTimestampEnablementVersion"] == "2"
    infos = [_commit_info(table, v) for v in range(4)]
    assert ["inCommitTimestamp" in info for info in infos] == [False, False, True, True]
    history = {r["version"]: r["ms"] for r in spark.sql(f"DESCRIBE HISTORY delta.`{table}`")
               .select("version", F.unix_millis("timestamp").alias("ms")).collect()}
    lake = lake_at(spark, tmp_path / "lake")
    for version, info in enumerate(infos):
        if version < 2:
            # Spark: the (moved) file time; committed_at: the commitInfo timestamp.
            assert history[version] == info["timestamp"] + 3_600_000
            assert committed_at(lake, str(table), version) == EPOCH + timedelta(
                milliseconds=info["timestamp"])
        else:
            assert history[version] == info["inCommitTimestamp"]
            assert committed_at(lake, str(table), version) == EPOCH + timedelta(
                milliseconds=info["inCommitTimestamp"])
