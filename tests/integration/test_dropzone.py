"""Dropzone payloads from the real samples: exact per-payload statistics in bronze, the latest
or pooled statistics per UTC timestamp in silver, the daily rollup, and bad payloads kept."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.core.config import DropzoneSettings
from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_pending
from meterlake.engine.streaming import ingest_stream
from meterlake.gold.dropzone_daily import GOLD_DROPZONE_DAILY
from meterlake.lake_jobs import snapshot_source
from meterlake.quality.quarantine import QUARANTINE
from meterlake.receive.landing import land_file
from meterlake.silver.dropzone_measurements import SILVER_DROPZONE_MEASUREMENTS
from meterlake.sources.dropzone import source as dropzone_source
from meterlake.sources.dropzone.contract import BRONZE_DROPZONE
from meterlake.sources.dropzone.parse import DROPZONE_FILES
from tests.helpers.lakes import lake_at
from tests.helpers.paths import FIXTURES

DROPZONE = FIXTURES / "dropzone"
ORDER = ["file.json", "ArrayOfObjects.json", *(f"file_{n}.json" for n in range(10))]


def _payloads(name: str) -> list[dict]:
    body = json.loads((DROPZONE / name).read_text())
    return body if isinstance(body, list) else [body]


def _utc(stamp: str) -> datetime:
    parsed = datetime.fromisoformat(stamp)
    return (parsed - parsed.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]


def _load(lake: Lake, names: list[str], directory: Path = DROPZONE) -> None:
    for name in names:
        land_file(lake.settings.landing_root, "dropzone", directory / name)
    ingest_pending(lake, DROPZONE_FILES)
    snapshot_source(lake, dropzone_source.SOURCE)


@pytest.fixture(scope="module")
def latest_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = lake_at(spark, tmp_path_factory.mktemp("dropzone") / "lake")
    _load(lake, ORDER)
    return lake


def test_bronze_has_exact_statistics_per_payload(latest_lake: Lake) -> None:
    rows = {(r["_source_file"], r["_source_line"]): r
            for r in latest_lake.read(BRONZE_DROPZONE).collect()}
    assert len(rows) == sum(len(_payloads(n)) for n in ORDER)
    for name in ORDER:
        for line, payload in enumerate(_payloads(name), 1):
            row, values = rows[(name, line)], payload["data"]
            assert row["time_stamp_utc"] == _utc(payload["time_stamp"])
            assert row["value_count"] == len(values)
            assert row["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
            assert row["std"] == pytest.approx(statistics.stdev(values), rel=1e-12)
            assert row["sum_squares"] == pytest.approx(sum(v * v for v in values), rel=1e-12)


def test_silver_keeps_the_latest_payload_per_utc_timestamp(latest_lake: Lake) -> None:
    silver = {r["time_stamp_utc"]: r for r in latest_lake.read(SILVER_DROPZONE_MEASUREMENTS)
              .collect()}
    # "-04:00" is US/Eastern daylight time: 06:00 there is 10:00 UTC.
    assert sorted(silver) == [datetime(2019, 5, day, 10) for day in range(1, 11)]
    newest: dict[datetime, tuple[int, list[float]]] = {}
    for name in ORDER:
        for payload in _payloads(name):
            key = _utc(payload["time_stamp"])
            newest[key] = (newest.get(key, (0, []))[0] + 1, payload["data"])
    for key, (payloads, values) in newest.items():
        assert (silver[key]["payload_count"], silver[key]["value_count"]) == (payloads, 100)
        assert silver[key]["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
    # The 4th of May came in ArrayOfObjects.json (two payloads) and later in file_3.json.
    assert silver[datetime(2019, 5, 4, 10)]["payload_count"] == 3


def test_pooled_statistics_and_daily_rollup(spark: SparkSession, tmp_path: Path) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    lake = Lake(spark, replace(lake.settings, dropzone=DropzoneSettings(statistics="pooled")))
    _load(lake, ["ArrayOfObjects.json", "file_3.json", "file_4.json"])
    pooled = [v for name in ("ArrayOfObjects.json", "file_3.json") for p in _payloads(name)
              for v in p["data"]]
    [fourth] = lake.read(SILVER_DROPZONE_MEASUREMENTS).filter(
        "time_stamp_utc = TIMESTAMP'2019-05-04 10:00:00'").collect()
    assert (fourth["payload_count"], fourth["value_count"]) == (3, 300)
    assert fourth["mean"] == pytest.approx(statistics.fmean(pooled), rel=1e-12)
    assert fourth["std"] == pytest.approx(statistics.stdev(pooled), rel=1e-9)
    daily = {r["stamp_date"].isoformat(): r for r in lake.read(GOLD_DROPZONE_DAILY).collect()}
    assert sorted(daily) == ["2019-05-04", "2019-05-05"]
    assert (daily["2019-05-04"]["timestamps"], daily["2019-05-04"]["value_count"]) == (1, 300)
    assert daily["2019-05-04"]["mean"] == pytest.approx(statistics.fmean(pooled), rel=1e-12)


def test_bad_payloads_are_quarantined_and_bad_bodies_rejected(
    spark: SparkSession, tmp_path: Path
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "mixed.json").write_text(json.dumps([
        {"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.0, 2.0]},
        {"time_stamp": "2019-05-01T06:00:00", "data": [1.0]},
        {"time_stamp": "2019-05-01T07:00:00Z", "data": []},
        {"time_stamp": "2019-05-01T08:00:00Z", "data": [1.0, "x", 3]},
    ]))
    # A bare NaN is no JSON number; the text "Infinity" reads as a number, but no finite one.
    (drops / "nan.json").write_text('[{"time_stamp": "2019-05-01T09:00:00Z", "data": [1, NaN]},'
                                    ' {"time_stamp": "2019-05-01T09:00:00Z", '
                                    '"data": ["Infinity"]}]')
    (drops / "garbage.json").write_text("this is not json")
    lake = lake_at(spark, tmp_path / "lake")
    for name in ("mixed.json", "nan.json", "garbage.json"):
        land_file(lake.settings.landing_root, "dropzone", drops / name)
    report = ingest_pending(lake, DROPZONE_FILES)
    assert [(f.landed.original_name, f.outcome, f.reason, f.rows_loaded, f.rows_quarantined)
            for f in report.files] == [
        ("mixed.json", "loaded", None, 1, 3),
        ("nan.json", "loaded", None, 0, 2),
        ("garbage.json", "rejected", "not a JSON object or array of objects", 0, 0),
    ]
    quarantine = lake.read(QUARANTINE).orderBy("_source_file", "_source_line").select(
        "_source_file", "_source_line", "reason").collect()
    assert [tuple(r) for r in quarantine] == [
        ("mixed.json", 2, "time_stamp: not an ISO 8601 timestamp with a UTC offset: "
                          "'2019-05-01T06:00:00'"),
        ("mixed.json", 3, "data: missing or empty"),
        ("mixed.json", 4, "data: not a number at position 2"),
        ("nan.json", 1, "data: not a number at position 2"),
        ("nan.json", 2, "data: NaN or infinite value"),
    ]
    snapshot_source(lake, dropzone_source.SOURCE)
    [only] = lake.read(SILVER_DROPZONE_MEASUREMENTS).collect()
    assert (only["time_stamp_utc"], only["mean"]) == (datetime(2019, 5, 1, 10), 1.5)
    assert only["std"] == pytest.approx(statistics.stdev([1.0, 2.0]))
    assert only["time_stamp_utc"] - datetime(2019, 5, 1, 6) == timedelta(hours=4)


def test_streaming_ingest_loads_each_landed_file_once(spark: SparkSession, tmp_path: Path) -> None:
    lake = lake_at(spark, tmp_path / "lake")
    for name in ("file_1.json", "file_2.json"):
        land_file(lake.settings.landing_root, "dropzone", DROPZONE / name)
    first = ingest_stream(lake, DROPZONE_FILES)
    land_file(lake.settings.landing_root, "dropzone", DROPZONE / "file_3.json")
    second = ingest_stream(lake, DROPZONE_FILES)
    third = ingest_stream(lake, DROPZONE_FILES)
    assert [[f.landed.original_name for f in r.files] for r in first] == [
        ["file_1.json", "file_2.json"]]
    assert [[f.landed.original_name for f in r.files] for r in second] == [["file_3.json"]]
    assert third == []
    loaded = sorted((r["_source_file"], r["time_stamp_utc"])
                    for r in lake.read(BRONZE_DROPZONE).collect())
    assert loaded == [(f"file_{d - 1}.json", datetime(2019, 5, d, 10)) for d in (2, 3, 4)]
