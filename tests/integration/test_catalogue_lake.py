"""The data catalogue of a lake built by the real jobs: the registry and the ingest through the
CLI (so they write their OpenLineage events), the sensors' snapshot; then the catalogue's JSON
for a few tables, the page and the JSON served by the real `meterlake serve`, `meterlake
catalog` as a process (its exit code: delta-rs can abort an exiting interpreter), and the
lineage events the two CLI runs wrote.

One lake for the module: the tests only read it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from meterlake.catalog import ALL_TABLES, table_descriptions
from meterlake.cli import main
from meterlake.core.lake import Lake
from meterlake.engine.ingest import INGEST_LOG
from meterlake.gold.sensor_quality import GOLD_SENSOR_QUALITY
from meterlake.lake_jobs import snapshot_source
from meterlake.serve.catalogue import CatalogueBuilder
from meterlake.serve.catalogue_pages import catalogue_json
from meterlake.serve.delta_reads import LatestTables
from meterlake.silver.sensor_readings import SILVER_SENSOR_READINGS
from meterlake.sources.registry import source_named
from meterlake.sources.sensors.landed import ReceivedMessage, encode_batch
from tests.helpers.http_server import READ_KEY, running_server
from tests.helpers.lakes import lake_at
from tests.helpers.paths import FIXTURES, REPO

REGISTRY = FIXTURES / "iot" / "sensors.json"
TEN = datetime(2025, 11, 12, 10, 0, tzinfo=UTC)
# The test session's Spark settings: the CLI, run in this process, reuses its session.
CONF = ("spark:\n  master: local[2]\n  shuffle_partitions: 2\n  delta_snapshot_partitions: 1\n"
        "  ui_enabled: false\n")


def _message(sensor: str, second: int, value: float) -> ReceivedMessage:
    at = TEN + timedelta(seconds=second)
    payload = json.dumps({"id": sensor, "dt": at.strftime("%Y-%m-%dT%H:%M:%S"),
                          "value": value}).encode()
    return ReceivedMessage.checked("sensors", payload, at + timedelta(milliseconds=300), 1, 1,
                                   False, False)


@dataclass(frozen=True)
class CataloguedLake:
    lake: Lake
    root: Path
    catalogue: dict[str, Any]

    def table(self, name: str) -> dict[str, Any]:
        return next(t for t in self.catalogue["tables"] if t["table"] == name)


@pytest.fixture(scope="module")
def catalogued(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[CataloguedLake]:
    work = tmp_path_factory.mktemp("catalogue")
    root, conf = work / "lake", work / "conf.yaml"
    conf.write_text(f"lake_root: {root}\n{CONF}", encoding="utf-8")
    batch = work / "batch-1.jsonl"
    batch.write_bytes(encode_batch([_message("Sensor 1", s, 20 + s) for s in range(3)]
                                   + [_message("Sensor 2", s, 10.0) for s in range(2)]))
    cli = ["--conf", str(conf), "--lake", str(root)]
    assert main(["sensors", "registry", str(REGISTRY), *cli]) == 0
    assert main(["ingest", "sensors", str(batch), *cli]) == 0
    lake = lake_at(spark, root)
    snapshot_source(lake, source_named("sensors"))
    catalogue = CatalogueBuilder(table_descriptions(), LatestTables(str(root)),
                                 f"{root}/landing").build()
    yield CataloguedLake(lake, root, catalogue_json(catalogue))


def _committed_at(lake: Lake, name: str) -> tuple[int, str]:
    """The table's version and its commit instant as Spark dates it (in-commit timestamps)."""
    contract = next(c for c in ALL_TABLES if c.qualified_name == name)
    last = DeltaTable.forPath(lake.spark, lake.path(contract)).history(1).first()
    assert last is not None
    instant = last["timestamp"].replace(tzinfo=UTC)
    return int(last["version"]), instant.isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


def test_silver_is_listed_with_its_grain_freshness_quality_and_lineage(
    catalogued: CataloguedLake,
) -> None:
    silver = catalogued.table("silver.sensor_readings")
    version, committed_at = _committed_at(catalogued.lake, "silver.sensor_readings")
    newest_hour = catalogued.lake.read(GOLD_SENSOR_QUALITY).agg(F.max("hour_start")).first()
    assert newest_hour is not None
    indicator = catalogued.lake.read(GOLD_SENSOR_QUALITY).filter(
        F.col("hour_start") == newest_hour[0]).agg(F.avg("quality_indicator")).first()
    assert indicator is not None
    assert {k: v for k, v in silver.items() if k != "columns"} == {
        "table": "silver.sensor_readings", "layer": "silver", "name": "sensor_readings",
        "grain": SILVER_SENSOR_READINGS.grain, "keys": ["sensor_id", "ts"],
        "ordering": ["_received_at", "_source_line", "_ingest_id"],
        "partition_by": ["reading_date"], "owner": "data engineering team",
        "retention": "configured", "is_append_only": False,
        "location": f"{catalogued.root}/silver/sensor_readings", "status": "written",
        "freshness": {"version": version, "committed_at": committed_at,
                      "data_changed_at": committed_at, "lag_seconds": 0.0, "behind": None},
        "quality": {"checked_at": silver["quality"]["checked_at"], "checked_version": version,
                    "checks": 5, "failed": [], "sensor_quality": {
                        "hour_start": "2025-11-12T10:00:00Z",
                        "mean_quality_indicator": round(indicator[0], 3), "sensors": 2}},
        "lineage": {"fed_by": ["bronze.sensor_messages"], "sources": ["landing:sensors"],
                    "feeds": ["gold.sensor_readings_1min", "gold.sensor_quality",
                              "ops.dq_results"]},
        "checks": {"row_rules": [], "expectations": [
            "ExpectCompoundColumnsToBeUnique(column_list=['sensor_id', 'ts'])",
            *(f"ExpectColumnValuesToNotBeNull(column={column})"
              for column in ("sensor_id", "ts", "value", "_ingest_id"))]},
    }
    assert silver["columns"][3] == {
        "name": "value", "type": "double", "nullable": False, "unit": None,
        "description": "the measured value, in the sensor's unit (silver.sensors.unit)"}


def test_bronze_has_seen_the_newest_landed_batch(catalogued: CataloguedLake) -> None:
    received = catalogued.lake.read(INGEST_LOG).agg(F.max("received_at")).first()
    assert received is not None
    newest = received[0].replace(tzinfo=UTC).isoformat(timespec="microseconds")
    assert [z for z in catalogued.catalogue["landing"] if z["name"] == "landing:sensors"] == [{
        "name": "landing:sensors", "location": f"{catalogued.root}/landing/sensors",
        "newest_arrival": newest.replace("+00:00", "Z"), "seen_in": "landing zone"}]
    bronze = catalogued.table("bronze.sensor_messages")
    version, committed_at = _committed_at(catalogued.lake, "bronze.sensor_messages")
    sensor_quality = catalogued.table("silver.sensor_readings")["quality"]["sensor_quality"]
    assert (bronze["freshness"], bronze["quality"], bronze["lineage"]) == (
        {"version": version, "committed_at": committed_at, "data_changed_at": committed_at,
         "lag_seconds": 0.0, "behind": None},
        {"checked_at": None, "checked_version": None, "checks": 0, "failed": [],
         "sensor_quality": sensor_quality},
        {"fed_by": ["landing:sensors"], "sources": ["landing:sensors"],
         "feeds": ["silver.sensor_readings", "gold.sensor_quality", "ops.snapshot_progress"]})
    # The registry is a dimension from a file: no readings' indicator, no expectations.
    registry = catalogued.table("silver.sensors")
    assert (registry["quality"], registry["lineage"]["sources"]) == (
        None, ["reference:sensor_registry"])


def test_tables_not_written_yet_are_listed_as_such(catalogued: CataloguedLake) -> None:
    statuses = {t["table"]: t["status"] for t in catalogued.catalogue["tables"]}
    assert list(statuses) == [c.qualified_name for c in ALL_TABLES]
    assert sorted(n for n, s in statuses.items() if s == "not written yet") == [
        "bronze.dropzone", "bronze.quarantine", "bronze.smrt", "bronze.temperature_records",
        "bronze.utility_drops", "gold.dropzone_daily", "gold.meter_intervals_15min",
        "gold.meter_usage_hourly", "gold.region_temperature_hourly", "gold.settlement_lines",
        "gold.settlement_summary", "ops.report_runs", "silver.dropzone_measurements",
        "silver.meter_readings", "silver.temperature_records"]
    settlement = catalogued.table("gold.settlement_lines")
    assert (settlement["freshness"], settlement["quality"], settlement["owner"]) == (
        None, None, "billing team")


def _without_instant_of_generation(catalogue: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in catalogue.items() if k != "generated_at"}


def test_the_server_shows_every_table_on_the_page_and_in_json(
    catalogued: CataloguedLake,
) -> None:
    with running_server(catalogued.root, workers=1) as server, server.client() as browser:
        assert browser.get("/catalog").headers["location"] == "/dashboard/catalog"
        unsigned = browser.get("/dashboard/catalog")
        assert (unsigned.status_code, unsigned.headers["location"]) == (
            303, "/dashboard/sign-in?next=%2Fdashboard%2Fcatalog")
        signed = browser.post("/dashboard/sign-in", data={
            "api_key": READ_KEY, "next": "/dashboard/catalog"}, follow_redirects=True)
        assert signed.status_code == 200
        page = signed.text
        with server.client(READ_KEY) as api:
            served = api.get("/v1/catalog").json()
    assert "<script" not in page
    for contract in ALL_TABLES:
        assert f'<section id="table-{contract.qualified_name}"' in page, contract.qualified_name
    assert _without_instant_of_generation(served) == _without_instant_of_generation(
        catalogued.catalogue)


def test_the_command_prints_the_same_json_and_exits_0(catalogued: CataloguedLake) -> None:
    done = subprocess.run([sys.executable, "-m", "meterlake.cli", "catalog", "--json",
                           "--lake", str(catalogued.root)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert _without_instant_of_generation(json.loads(done.stdout)) == \
        _without_instant_of_generation(catalogued.catalogue)


def test_each_cli_run_wrote_its_openlineage_events(catalogued: CataloguedLake) -> None:
    events = [json.loads(p.read_text())
              for p in sorted((catalogued.root / "_lineage").iterdir())]
    assert [(e["eventType"], e["job"]["name"], [d["name"] for d in e["inputs"]],
             [d["name"] for d in e["outputs"]]) for e in events] == [
        ("START", "sensor-registry", [], []),
        ("COMPLETE", "sensor-registry", ["reference.sensor_registry"], ["silver.sensors"]),
        ("START", "ingest.sensors", [], []),
        ("COMPLETE", "ingest.sensors", ["landing.sensors"],
         ["bronze.quarantine", "bronze.sensor_messages", "ops.ingest_batches",
          "ops.ingest_log"]),
    ]
    namespaces = {e["job"]["namespace"] for e in events} | {
        d["namespace"] for e in events for d in e["inputs"] + e["outputs"]}
    assert namespaces == {f"meterlake://{catalogued.root}"}
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"] != events[2]["run"]["runId"]
