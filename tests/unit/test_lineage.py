"""OpenLineage run events (meterlake.serve.lineage): names, inputs derived from the contracts,
the files the FileTransport writes, and a directory that cannot be written (a warning, never a
failed job)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meterlake.catalog import ALL_TABLES
from meterlake.serve.lineage import (
    LINEAGE_DIR_VARIABLE,
    LineageRun,
    dataset_name,
    job_inputs,
    lineage_directory,
    namespace,
)

TABLES = {contract.qualified_name: contract.describe() for contract in ALL_TABLES}
INGEST_OUTPUTS = ["ops.ingest_batches", "bronze.utility_drops", "bronze.quarantine",
                  "ops.ingest_log"]


def _events(directory: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(directory.iterdir())]


def test_a_run_reads_what_its_tables_are_fed_by_without_every_landing_zone() -> None:
    assert job_inputs([TABLES[name] for name in INGEST_OUTPUTS]) == ["landing:utility_drops"]
    assert job_inputs([TABLES["gold.sensor_quality"]]) == [
        "bronze.sensor_messages", "silver.sensor_readings", "silver.sensors"]
    assert [dataset_name(n) for n in ("landing:smrt", "reference:settlement_book",
                                      "silver.sensors")] == [
        "landing.smrt", "reference.settlement_book", "silver.sensors"]


def test_the_directory_comes_from_the_environment_else_the_lake() -> None:
    assert lineage_directory("/data/lake", {}) == "/data/lake/_lineage"
    assert lineage_directory("/data/lake", {LINEAGE_DIR_VARIABLE: "/var/ol"}) == "/var/ol"
    assert lineage_directory("/data/lake", {LINEAGE_DIR_VARIABLE: "off"}) is None
    assert lineage_directory("s3a://bucket/lake", {}) == str(Path("var/lineage").resolve())
    assert namespace("/data/lake/") == "meterlake:///data/lake"


def test_a_run_writes_start_then_complete_with_its_inputs_and_outputs(tmp_path: Path) -> None:
    run = LineageRun("ingest.utility_drops", "/data/lake", "/data/landing", TABLES,
                     str(tmp_path / "lineage"))
    run.start()
    run.start()  # once only
    run.finish(INGEST_OUTPUTS)
    run.finish(INGEST_OUTPUTS)
    files = sorted(p.name for p in (tmp_path / "lineage").iterdir())
    assert [name.split("-", 1)[1] for name in files] == [
        f"ingest.utility_drops-{run.run_id}-START.json",
        f"ingest.utility_drops-{run.run_id}-COMPLETE.json"]
    start, complete = _events(tmp_path / "lineage")
    assert [(e["eventType"], e["run"]["runId"], e["job"]["name"], e["job"]["namespace"])
            for e in (start, complete)] == [
        (state, run.run_id, "ingest.utility_drops", "meterlake:///data/lake")
        for state in ("START", "COMPLETE")]
    assert (start["inputs"], start["outputs"], start["producer"]) == ([], [], "urn:meterlake:0.1.0")
    assert [d["name"] for d in complete["inputs"]] == ["landing.utility_drops"]
    assert [d["name"] for d in complete["outputs"]] == INGEST_OUTPUTS
    landing = complete["inputs"][0]["facets"]["dataSource"]
    assert (landing["name"], landing["uri"]) == ("landing:utility_drops",
                                                 "file:///data/landing/utility_drops")
    bronze = complete["outputs"][1]["facets"]
    assert bronze["schema"]["fields"][3] == {
        "name": "energy_wh", "type": "double", "fields": [],
        "description": "energy measured over the interval [Wh]"}
    assert bronze["ownership"]["owners"] == [{"name": "data platform team", "type": "team"}]
    assert bronze["documentation"]["description"] == TABLES["bronze.utility_drops"].grain


def test_a_run_that_never_wrote_emits_nothing_and_an_error_is_a_fail(tmp_path: Path) -> None:
    LineageRun("summary", "/data/lake", "/data/landing", TABLES, str(tmp_path)).finish([])
    assert list(tmp_path.iterdir()) == []
    run = LineageRun("snapshot", "/data/lake", "/data/landing", TABLES, str(tmp_path))
    run.start()
    run.finish(["silver.meter_readings"], RuntimeError("silver.meter_readings: unique failed"))
    failed = _events(tmp_path)[1]
    assert failed["eventType"] == "FAIL"
    assert failed["run"]["facets"]["errorMessage"]["message"] == (
        "RuntimeError: silver.meter_readings: unique failed")
    assert [d["name"] for d in failed["inputs"]] == ["bronze.utility_drops", "bronze.smrt"]


def test_an_unwritable_directory_is_a_warning_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the directory should be")
    run = LineageRun("grid", "/data/lake", "/data/landing", TABLES, str(blocked))
    run.start()
    run.finish(["gold.meter_intervals_15min"], KeyboardInterrupt())
    warnings = capsys.readouterr().err.splitlines()
    assert [w.split(": ", 3)[:3] for w in warnings] == [
        ["meterlake", "warning", f"OpenLineage START event of grid not written to {blocked}"],
        ["meterlake", "warning", f"OpenLineage ABORT event of grid not written to {blocked}"]]
