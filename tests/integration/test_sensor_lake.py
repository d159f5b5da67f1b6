"""The sensor source from landed batches to gold: every message in bronze (malformed ones
flagged, a damaged line quarantined), one reading per (sensor, instant) in silver by arrival,
the registry as a type 2 dimension, the 1-minute means (a late message re-aggregates its minute)
and the hourly quality measures with exact values.

One lake for the module, built by the real jobs from batches in the receiver's own format
(sources/sensors/landed.py): three sensors over 10:00-10:02 UTC on 2025-11-12, with a gap, a
value out of range, a message held back, a redelivery, a clock far behind, a clock that jumps
back, a malformed payload and a sensor the registry does not know.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pyspark.sql import SparkSession

from meterlake.catalog import ALL_TABLES
from meterlake.core.contracts import TableContract
from meterlake.core.lake import Lake
from meterlake.engine.ingest import IngestReport, ingest_paths
from meterlake.engine.streaming import ingest_stream
from meterlake.gold.sensor_quality import GOLD_SENSOR_QUALITY
from meterlake.gold.sensor_readings_1min import GOLD_SENSOR_READINGS_1MIN
from meterlake.lake_jobs import load_sensor_registry, snapshot_source
from meterlake.quality.quarantine import QUARANTINE
from meterlake.receive.landing import land_bytes
from meterlake.serve.trino_register import register_lake
from meterlake.silver.sensor_readings import SILVER_SENSOR_READINGS
from meterlake.silver.sensors import SILVER_SENSORS
from meterlake.sources.registry import source_named
from meterlake.sources.sensors.contract import BRONZE_SENSOR_MESSAGES
from meterlake.sources.sensors.landed import ReceivedMessage, encode_batch
from meterlake.sources.sensors.parse import SENSOR_FILES
from tests.helpers.http_server import READ_KEY, running_server
from tests.helpers.lakes import MakeLake, lake_at
from tests.helpers.paths import FIXTURES
from tests.helpers.trino_queries import (
    differences,
    point_spark_catalog,
    spark_result,
    trino_result,
)
from tests.helpers.trino_server import forget_registrations

REGISTRY = FIXTURES / "iot" / "sensors.json"
TEN = datetime(2025, 11, 12, 10, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return TEN + timedelta(seconds=seconds)


def _dt(seconds: float) -> str:
    return _at(seconds).strftime("%Y-%m-%dT%H:%M:%S")


def _message(sensor: str, ts: float, value: object, delivered: float,
             payload: bytes | None = None) -> ReceivedMessage:
    body = payload or json.dumps({"id": sensor, "dt": _dt(ts), "value": value}).encode()
    return ReceivedMessage.checked("sensors", body, _at(delivered), 1, 1, False, False)


MALFORMED = b'{"id": "Sensor 1", "dt": "2025-11-12T10:00:08", "value": "hot"}'
# In delivery order; `ts` and delivery in seconds after 10:00:00.
BATCH_1 = [
    _message("Sensor 1", 0, 20, 0.3),
    _message("Sensor 2", 0, 10, 0.4),
    _message("Sensor 99", 0, 5, 0.5),
    _message("Sensor 1", 1, 21, 1.3),
    _message("Sensor 2", 1, 11, 1.4),
    _message("Sensor 1", 2, 50, 2.3),  # out of the registry's range [0, 45]
    _message("Sensor 2", -30, 12, 2.4),  # Sensor 2's clock jumps back 31 s ...
    _message("Sensor 2", -29, 13, 3.4),  # ... and carries on from there
    _message("Sensor 1", 6, 22, 6.3),  # after a 4 s silence
    _message("Sensor 1", 3, 23, 6.5),  # held back: late
    _message("Sensor 1", 7, 24, 7.3),
    _message("Sensor 1", 8, None, 8.3, MALFORMED),
]
BATCH_2 = [
    _message("Sensor 1", 1, 25, 9.3),  # redelivered, with another value: the latest wins
    _message("Sensor 1", 8, 26, 9.4),
    _message("Sensor 1", 9, 27, 150.0),  # 141 s after its dt: beyond the 60 s tolerance
]
LATE = [_message("Sensor 1", 4, 30, 170.0)]


@dataclass(frozen=True)
class SensorLake:
    lake: Lake
    files: list[Path]


@pytest.fixture(scope="module")
def sensor_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[SensorLake]:
    work = tmp_path_factory.mktemp("sensors")
    files = []
    for number, data in enumerate((encode_batch(BATCH_1), encode_batch(BATCH_2),
                                   b"not a batch line\n"), start=1):
        files.append(work / f"batch-{number}.jsonl")
        files[-1].write_bytes(data)
    lake = lake_at(spark, work / "lake")
    assert load_sensor_registry(lake, REGISTRY).startswith("sensors: 5 sensors; added Sensor 1")
    ingest_paths(lake, SENSOR_FILES, files)
    snapshot_source(lake, source_named("sensors"))
    yield SensorLake(lake, files)


def _rows(lake: Lake, contract: TableContract, *columns: str) -> list[tuple]:
    return sorted(tuple(r) for r in lake.read(contract).select(*columns).collect())


def test_bronze_keeps_every_message_and_flags_the_malformed_one(sensor_lake: SensorLake) -> None:
    bronze = sensor_lake.lake.read(BRONZE_SENSOR_MESSAGES)
    assert bronze.count() == len(BATCH_1) + len(BATCH_2)
    [malformed] = bronze.filter("payload_problem IS NOT NULL").collect()
    assert (malformed["sensor_id"], malformed["ts"], malformed["_source_line"]) == (None, None, 12)
    assert malformed["payload_problem"] == BATCH_1[-1].payload_problem
    assert malformed["reading_date"] == date(2025, 11, 12)  # by its delivery
    assert malformed["_source_file"] == "batch-1.jsonl"


def test_a_damaged_line_is_quarantined_with_its_file_line_and_field(
    sensor_lake: SensorLake,
) -> None:
    assert _rows(sensor_lake.lake, QUARANTINE, "source", "_source_file", "_source_line",
                 "field", "raw_line") == [
        ("sensors", "batch-3.jsonl", 1, "line", "not a batch line")]


def test_silver_holds_one_reading_per_instant_the_latest_arrived(sensor_lake: SensorLake) -> None:
    rows = _rows(sensor_lake.lake, SILVER_SENSOR_READINGS, "sensor_id", "ts", "value",
                 "message_count", "_source_file", "_source_line")
    naive = TEN.replace(tzinfo=None)
    at = lambda seconds: naive + timedelta(seconds=seconds)  # noqa: E731
    assert rows == [
        ("Sensor 1", at(0), 20.0, 1, "batch-1.jsonl", 1),
        ("Sensor 1", at(1), 25.0, 2, "batch-2.jsonl", 1),
        ("Sensor 1", at(2), 50.0, 1, "batch-1.jsonl", 6),
        ("Sensor 1", at(3), 23.0, 1, "batch-1.jsonl", 10),
        ("Sensor 1", at(6), 22.0, 1, "batch-1.jsonl", 9),
        ("Sensor 1", at(7), 24.0, 1, "batch-1.jsonl", 11),
        ("Sensor 1", at(8), 26.0, 1, "batch-2.jsonl", 2),
        ("Sensor 1", at(9), 27.0, 1, "batch-2.jsonl", 3),
        ("Sensor 2", at(-30), 12.0, 1, "batch-1.jsonl", 7),
        ("Sensor 2", at(-29), 13.0, 1, "batch-1.jsonl", 8),
        ("Sensor 2", at(0), 10.0, 1, "batch-1.jsonl", 2),
        ("Sensor 2", at(1), 11.0, 1, "batch-1.jsonl", 5),
        ("Sensor 99", at(0), 5.0, 1, "batch-1.jsonl", 3),
    ]


def test_the_registry_is_one_current_row_per_sensor(sensor_lake: SensorLake) -> None:
    rows = _rows(sensor_lake.lake, SILVER_SENSORS, "sensor_id", "range_min", "range_max",
                 "description", "valid_from", "valid_to", "is_current")
    assert [r[0] for r in rows] == [f"Sensor {n}" for n in range(1, 6)]
    assert rows[0] == ("Sensor 1", 0.0, 45.0, "Main Entrance", datetime(1970, 1, 1), None, True)
    assert all(r[4:] == (datetime(1970, 1, 1), None, True) for r in rows)


def test_quality_measures_of_each_sensor_hour(sensor_lake: SensorLake) -> None:
    rows = {(r["sensor_id"], r["hour_start"].hour): r.asDict()
            for r in sensor_lake.lake.read(GOLD_SENSOR_QUALITY).collect()}
    assert sorted(rows) == [("Sensor 1", 10), ("Sensor 2", 9), ("Sensor 2", 10),
                            ("Sensor 99", 10)]
    measures = ("expected", "readings", "gaps", "longest_gap_seconds", "out_of_range",
                "unregistered", "duplicates", "clock_skew_median_seconds", "late_messages",
                "backward_jumps", "untimely")
    assert {key: tuple(row[m] for m in measures) for key, row in rows.items()} == {
        ("Sensor 1", 10): (3600, 8, 1, 3.0, 1, 0, 1, 0.3, 1, 0, 2),
        ("Sensor 2", 9): (3600, 2, 0, None, 0, 0, 0, 32.4, 0, 1, 1),
        ("Sensor 2", 10): (3600, 2, 1, 29.0, 0, 0, 0, 0.4, 0, 0, 0),
        ("Sensor 99", 10): (3600, 1, 0, None, 0, 1, 0, 0.5, 0, 0, 0),
    }
    # 100 x completeness x validity x timeliness
    assert rows["Sensor 1", 10]["quality_indicator"] == pytest.approx(
        100 * (8 / 3600) * (7 / 8) * (1 - 2 / 8))
    assert rows["Sensor 2", 9]["quality_indicator"] == pytest.approx(100 * (2 / 3600) * 1 * 0.5)
    assert rows["Sensor 99", 10]["quality_indicator"] == 0.0


def test_one_minute_means_and_a_late_message_reaggregates_its_minute(
    sensor_lake: SensorLake, make_lake: MakeLake, tmp_path: Path,
) -> None:
    def minute(lake: Lake, sensor: str, hh_mm: tuple[int, int]) -> tuple:
        [row] = [r for r in _rows(lake, GOLD_SENSOR_READINGS_1MIN, "sensor_id", "minute_start",
                                  "readings", "mean", "min", "max")
                 if r[0] == sensor and (r[1].hour, r[1].minute) == hh_mm]
        return row[2:]

    lake = make_lake("late", copy_of=sensor_lake.lake)
    assert minute(lake, "Sensor 1", (10, 0)) == (8, 217 / 8, 20.0, 50.0)
    assert minute(lake, "Sensor 2", (9, 59)) == (2, 12.5, 12.0, 13.0)
    late = tmp_path / "late.jsonl"
    late.write_bytes(encode_batch(LATE))
    ingest_paths(lake, SENSOR_FILES, [late])
    snapshot_source(lake, source_named("sensors"))
    assert minute(lake, "Sensor 1", (10, 0)) == (9, 247 / 9, 20.0, 50.0)


def test_a_changed_registry_closes_the_old_row(sensor_lake: SensorLake, make_lake: MakeLake,
                                               tmp_path: Path) -> None:
    lake = make_lake("registry", copy_of=sensor_lake.lake)
    registry = json.loads(REGISTRY.read_text())
    registry["Sensor 1"]["range"] = [0, 60]
    del registry["Sensor 5"]
    changed = tmp_path / "sensors.json"
    changed.write_text(json.dumps(registry))
    assert load_sensor_registry(lake, changed) == (
        "sensors: 4 sensors; added none; changed Sensor 1; removed Sensor 5")
    assert load_sensor_registry(lake, changed) == "sensors: 4 sensors, unchanged"
    rows = [r for r in _rows(lake, SILVER_SENSORS, "sensor_id", "range_max", "valid_from",
                             "valid_to", "is_current") if r[0] in ("Sensor 1", "Sensor 5")]
    (old_id, old_max, old_from, closed_at, old_current), new, gone = rows
    assert (old_id, old_max, old_from, old_current) == ("Sensor 1", 45.0, datetime(1970, 1, 1),
                                                         False)
    assert new == ("Sensor 1", 60.0, closed_at, None, True)
    assert gone[0] == "Sensor 5" and gone[3] == closed_at and gone[4] is False


@pytest.fixture(scope="module")
def sensor_api(sensor_lake: SensorLake) -> Iterator[httpx.Client]:
    with running_server(Path(sensor_lake.lake.settings.lake_root)) as server, \
            server.client(READ_KEY) as client:
        yield client


def test_the_api_lists_the_registrys_sensors(sensor_api: httpx.Client) -> None:
    answer = sensor_api.get("/v1/sensors")
    assert answer.status_code == 200
    sensors = answer.json()["sensors"]
    assert [s["sensor_id"] for s in sensors] == [f"Sensor {n}" for n in range(1, 6)]
    assert sensors[1] == {"sensor_id": "Sensor 2", "lat": 90.0, "lng": 90.0, "unit": "C",
                          "type": "temperature", "range_min": 0.0, "range_max": 45.0,
                          "description": "Kitchen", "valid_from": "1970-01-01T00:00:00Z"}


def test_the_api_gives_a_sensors_raw_readings_and_minutes(sensor_api: httpx.Client) -> None:
    raw = sensor_api.get("/v1/sensors/Sensor 2/readings", params={
        "start": "2025-11-12T09:59:31Z", "end": "2025-11-12T10:00:01Z"}).json()
    assert raw == {
        "sensor_id": "Sensor 2", "start": "2025-11-12T09:59:31Z",
        "end": "2025-11-12T10:00:01Z", "resolution": "raw", "unit": "C",
        "points": [
            {"time": "2025-11-12T09:59:31Z", "value": 13.0, "readings": 1, "min": 13.0,
             "max": 13.0},
            {"time": "2025-11-12T10:00:00Z", "value": 10.0, "readings": 1, "min": 10.0,
             "max": 10.0},
        ]}
    minutes = sensor_api.get("/v1/sensors/Sensor 1/readings",
                             params={"resolution": "1min"}).json()
    assert minutes["points"] == [{"time": "2025-11-12T10:00:00Z", "value": 217 / 8,
                                  "readings": 8, "min": 20.0, "max": 50.0}]
    unknown = sensor_api.get("/v1/sensors/Sensor 99/readings").json()
    assert (unknown["unit"], len(unknown["points"])) == (None, 1)
    assert sensor_api.get("/v1/sensors/Sensor 1/readings",
                          params={"resolution": "5min"}).status_code == 422


@pytest.mark.slow
def test_a_running_stream_makes_each_landed_batch_queryable(make_lake: MakeLake) -> None:
    """`ingest sensors --stream --every S`: each micro-batch that loads something is followed
    by the snapshot; a batch landed while the stream runs is picked up by a later one."""
    lake = make_lake("stream")
    landing = lake.settings.landing_root
    land_bytes(landing, "sensors", "first.jsonl", encode_batch(BATCH_2))
    silver_after_each: list[list[tuple]] = []

    def snapshot(loaded: list[IngestReport]) -> None:
        snapshot_source(lake, source_named("sensors"))
        silver_after_each.append(_rows(lake, SILVER_SENSOR_READINGS, "sensor_id", "value"))
        if len(silver_after_each) == 1:
            land_bytes(landing, "sensors", "second.jsonl", encode_batch(LATE))

    reports = ingest_stream(lake, SENSOR_FILES, every=1, after_load=snapshot, run_for=300,
                            should_stop=lambda: len(silver_after_each) == 2)
    assert [[f.landed.original_name for f in r.files] for r in reports] == [
        ["first.jsonl"], ["second.jsonl"]]
    assert silver_after_each == [
        [("Sensor 1", 25.0), ("Sensor 1", 26.0), ("Sensor 1", 27.0)],
        [("Sensor 1", 25.0), ("Sensor 1", 26.0), ("Sensor 1", 27.0), ("Sensor 1", 30.0)],
    ]


def _captured_batches(size: int) -> list[bytes]:
    """The two captured logs replayed as the receiver would have landed them, in batches of
    `size` in publication order (line by line, the two sensors interleaved). They were captured
    in Berlin (UTC+1 in November) with `dt` written in local time: the broker delivered each
    message at `dt` - 1 h, UTC (rounded up to the millisecond, as the receiver's clock is)."""
    logs = [(FIXTURES / "iot" / f"2025-11-12_Sensor_{n}.jsonl").read_bytes().splitlines()
            for n in (1, 2)]
    messages = []
    for line in (line for pair in zip(*logs, strict=True) for line in pair):
        local = datetime.fromisoformat(json.loads(line)["dt"]).replace(tzinfo=UTC)
        delivered = local - timedelta(hours=1)
        delivered += timedelta(microseconds=-delivered.microsecond % 1000)
        messages.append(ReceivedMessage.checked("sensors", line, delivered, 0, 0, False, False))
    return [encode_batch(messages[i:i + size]) for i in range(0, len(messages), size)]


def _captured_hours() -> dict[tuple[str, int], tuple[int, int]]:
    """(sensor, hour of dt read as UTC) -> (readings, silences over 2 s ending in that hour),
    from the logs with the json module."""
    hours: dict[tuple[str, int], list[int]] = {}
    for n in (1, 2):
        lines = (FIXTURES / "iot" / f"2025-11-12_Sensor_{n}.jsonl").read_text().splitlines()
        times = sorted(datetime.fromisoformat(json.loads(line)["dt"]) for line in lines)
        for previous, ts in zip([None, *times], times, strict=False):
            counts = hours.setdefault((f"Sensor {n}", ts.hour), [0, 0])
            counts[0] += 1
            counts[1] += previous is not None and (ts - previous).total_seconds() > 2
    return {key: (readings, gaps) for key, (readings, gaps) in hours.items()}


def test_the_captured_logs_local_times_make_every_message_untimely(
    make_lake: MakeLake, tmp_path: Path,
) -> None:
    """The real logs end to end: every message one reading, the hours' counts and gaps as in
    the files, and the trap their `dt` holds (Berlin time without offset, read as UTC: an hour
    off every delivery) caught: every message untimely, indicator 0."""
    lake = make_lake("captured")
    files = []
    for number, data in enumerate(_captured_batches(20_000)):
        files.append(tmp_path / f"captured-{number}.jsonl")
        files[-1].write_bytes(data)
    load_sensor_registry(lake, REGISTRY)
    ingest_paths(lake, SENSOR_FILES, files)
    snapshot_source(lake, source_named("sensors"))
    assert lake.read(SILVER_SENSOR_READINGS).count() == 62_820
    quality = lake.read(GOLD_SENSOR_QUALITY).collect()
    assert {(r["sensor_id"], r["hour_start"].hour): (r["readings"], r["gaps"])
            for r in quality} == _captured_hours()
    assert {(r["out_of_range"], r["unregistered"], r["duplicates"], r["quality_indicator"])
            for r in quality} == {(0, 0, 0, 0.0)}
    assert all(r["untimely"] == r["readings"] for r in quality)
    assert all(-3600.0 < r["clock_skew_median_seconds"] <= -3599.999 for r in quality)
    # The logs step back 21 times each (a fraction of a second): late or a jump, never lost.
    assert {sensor: sum(r["late_messages"] + r["backward_jumps"] for r in quality
                        if r["sensor_id"] == sensor) for sensor in ("Sensor 1", "Sensor 2")} \
        == {"Sensor 1": 21, "Sensor 2": 21}


@pytest.mark.slow
def test_analysts_sensor_queries_answer_alike_in_trino_and_spark_sql(
    sensor_lake: SensorLake, trino_url: str,
) -> None:
    """The analysts' queries over the sensor tables, registered with `trino register`: every
    column of every row the same in Trino and in Spark SQL."""
    lake = sensor_lake.lake
    forget_registrations(trino_url)
    try:
        register_lake(trino_url, lake.settings.lake_root,
                      [(c.layer, c.name) for c in ALL_TABLES], lake.settings.object_store)
        point_spark_catalog(lake, (SILVER_SENSOR_READINGS, GOLD_SENSOR_READINGS_1MIN,
                                   GOLD_SENSOR_QUALITY, SILVER_SENSORS))
        for sql in (
            "SELECT * FROM silver.sensor_readings WHERE sensor_id = 'Sensor 1' "
            "AND reading_date = DATE '2025-11-12'",
            "SELECT * FROM gold.sensor_readings_1min",
            "SELECT * FROM gold.sensor_quality",
            "SELECT r.sensor_id, r.ts, r.value, s.range_max, s.description "
            "FROM silver.sensor_readings r JOIN silver.sensors s ON r.sensor_id = s.sensor_id "
            "AND s.valid_from <= r.ts AND (s.valid_to IS NULL OR r.ts < s.valid_to)",
        ):
            from_spark = spark_result(lake.spark, sql)
            from_trino = trino_result(trino_url, sql)
            assert from_trino == from_spark, differences(from_trino, from_spark)
            assert from_spark.rows, sql
    finally:
        forget_registrations(trino_url)
