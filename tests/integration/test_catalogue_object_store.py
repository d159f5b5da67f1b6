"""The data catalogue of a lake on the object store (SeaweedFS on loopback, infra/s3.sh): a
table written with delta-rs and a batch landed after it, read as the jobs (who may list the
landing zone) and as the analyst (who may only read the lake: the landing zone's newest
arrival then comes from ops.ingest_log, here not written, so it is unknown)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from meterlake.catalog import table_descriptions
from meterlake.core.object_store import credentials_from_env, delta_rs_location
from meterlake.receive.landing import land_bytes
from meterlake.serve.catalogue import CatalogueBuilder
from meterlake.serve.catalogue_pages import catalogue_json
from meterlake.serve.delta_reads import LatestTables
from tests.helpers.object_store_lakes import s3_settings, unique_prefix
from tests.helpers.object_store_server import ObjectStore

pytestmark = pytest.mark.slow

_UTC_MICROS = pa.timestamp("us", tz="UTC")


def test_freshness_and_landing_on_the_object_store(
    object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in object_store["jobs"].items():
        monkeypatch.setenv(key, value)
    settings = s3_settings(unique_prefix("catalogue"), object_store["jobs"])
    uri, options = delta_rs_location(f"{settings.lake_root}/bronze/sensor_messages",
                                     settings.object_store)
    write_deltalake(uri, pa.table({"sensor_id": ["Sensor 1"], "ts": pa.array(
        [datetime(2025, 11, 12, 10, tzinfo=UTC)], _UTC_MICROS)}), storage_options=options)
    committed = DeltaTable(uri, storage_options=options).history(1)[0]["timestamp"]
    landed = land_bytes(settings.landing_root, "sensors", "batch.jsonl", b"{}\n",
                        object_store=settings.object_store)

    def catalogue() -> dict:
        tables = LatestTables(settings.lake_root, settings.object_store)
        return catalogue_json(CatalogueBuilder(table_descriptions(), tables,
                                               settings.landing_root).build())

    as_jobs = catalogue()
    arrival = landed.received_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert [z for z in as_jobs["landing"] if z["name"] == "landing:sensors"] == [{
        "name": "landing:sensors", "location": f"{settings.landing_root}/sensors",
        "newest_arrival": arrival, "seen_in": "landing zone"}]
    bronze = next(t for t in as_jobs["tables"] if t["table"] == "bronze.sensor_messages")
    lag = (landed.received_at.timestamp() * 1000 - committed) / 1000
    assert bronze["freshness"] == {
        "version": 0, "committed_at": bronze["freshness"]["committed_at"],
        "data_changed_at": bronze["freshness"]["data_changed_at"],
        "lag_seconds": round(lag, 3), "behind": "landing:sensors"}
    assert lag > 0

    for key, value in object_store["analyst"].items():
        monkeypatch.setenv(key, value)
    assert credentials_from_env().access_key_id == object_store["analyst"]["AWS_ACCESS_KEY_ID"]
    as_analyst = catalogue()
    assert [z for z in as_analyst["landing"] if z["name"] == "landing:sensors"] == [{
        "name": "landing:sensors", "location": f"{settings.landing_root}/sensors",
        "newest_arrival": None, "seen_in": "ops.ingest_log"}]
    assert as_analyst["tables"] == [
        {**t, "freshness": t["freshness"] and {**t["freshness"], "lag_seconds": None,
                                               "behind": None}}
        if t["table"] == "bronze.sensor_messages" else t for t in as_jobs["tables"]]
