"""The read API on the real server over a lake built by the real pipeline from the fixture
drops; every expected value is read from the fixture CSVs with the csv module."""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from meterlake.engine.ingest import INGEST_LOG, ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.serve import delta_reads
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import csv_rows, leap_files, leap_rows
from tests.helpers.http_server import INGEST_KEY, READ_KEY, Server, running_server
from tests.helpers.lakes import lake_at
from tests.helpers.paths import LEAP, REPO

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"


@pytest.fixture(scope="session")
def read_server(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("read-api") / "lake"
    lake = lake_at(spark, root)
    ingest_paths(lake, UTILITY_DROP_FILES, [LEAP])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    with running_server(root) as started:
        yield started


@pytest.fixture(scope="session")
def reader(read_server: Server) -> Iterator[httpx.Client]:
    with read_server.client(READ_KEY) as client:
        yield client


def z(instant: datetime) -> str:
    """A naive UTC datetime (as fixture_data gives them) as the API writes it."""
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def meter_rows(meter: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    return sorted((t, e) for m, t, e, _f, _l in leap_rows() if m == meter and start <= t < end)


def test_meters_count(reader: httpx.Client) -> None:
    rows = leap_rows()
    meters = len({m for m, *_ in rows})
    assert reader.get("/v1/meters/count").json() == {
        "meters": meters, "readings": len(rows),
        "by_source": [{"source": "utility_drops", "commodity": "electricity",
                       "meters": meters, "readings": len(rows)}],
    }


def test_one_meters_readings_over_a_range_given_with_an_offset(reader: httpx.Client) -> None:
    # 20:00 at -04:00 is midnight UTC: the bounds are instants, whatever their offset.
    answer = reader.get(f"/v1/meters/{METER}/readings", params={
        "start": "2020-06-01T20:00:00-04:00", "end": "2020-06-04T00:00:00Z"}).json()
    expected = meter_rows(METER, datetime(2020, 6, 2), datetime(2020, 6, 4))
    assert answer == {
        "meter_id": METER, "start": "2020-06-02T00:00:00Z", "end": "2020-06-04T00:00:00Z",
        "unit": "Wh", "bucket_seconds": None,
        "points": [{"time": z(t), "value": e, "readings": 1} for t, e in expected],
    }


def hourly_means(rows: list[tuple[datetime, float]], first: datetime, bucket: timedelta
                 ) -> list[tuple[str, float, int]]:
    buckets: dict[datetime, list[float]] = {}
    for t, e in rows:
        buckets.setdefault(first + (t - first) // bucket * bucket, []).append(e)
    return [(z(b), statistics.fmean(v), len(v)) for b, v in sorted(buckets.items())]


def as_tuples(points: list[dict]) -> list[tuple[str, float, int]]:
    return [(p["time"], p["value"], p["readings"]) for p in points]


def test_downsampling_averages_equal_time_buckets(reader: httpx.Client) -> None:
    answer = reader.get(f"/v1/meters/{METER}/readings", params={
        "start": "2020-06-03T00:00:00Z", "end": "2020-06-04T00:00:00Z", "points": 24}).json()
    day = datetime(2020, 6, 3)
    expected = hourly_means(meter_rows(METER, day, day + timedelta(days=1)), day,
                            timedelta(hours=1))
    assert answer["bucket_seconds"] == 3600
    assert len(answer["points"]) <= 24
    assert as_tuples(answer["points"]) == [(t, pytest.approx(v, rel=1e-12), n)
                                           for t, v, n in expected]


def test_downsampling_an_open_range_spans_first_to_last_reading(reader: httpx.Client) -> None:
    rows = meter_rows(METER, datetime.min, datetime.max)
    first, last_end = rows[0][0], rows[-1][0] + timedelta(minutes=15)
    answer = reader.get(f"/v1/meters/{METER}/readings", params={"points": 5}).json()
    width = timedelta(seconds=-(-int((last_end - first).total_seconds()) // 5))
    assert answer["bucket_seconds"] == width.total_seconds()
    assert as_tuples(answer["points"]) == [(t, pytest.approx(v, rel=1e-12), n)
                                           for t, v, n in hourly_means(rows, first, width)]
    assert sum(p["readings"] for p in answer["points"]) == len(rows)


def test_a_meter_without_readings_has_no_points(reader: httpx.Client) -> None:
    answer = reader.get("/v1/meters/no-such-meter/readings").json()
    assert (answer["points"], answer["unit"]) == ([], None)


@pytest.mark.parametrize(("params", "message"), [
    ({"start": "2020-06-01T00:00:00"}, "start: needs a UTC offset, e.g. 2020-06-01T00:00:00Z"),
    ({"end": "2020-06-01T00:00:00"}, "end: needs a UTC offset, e.g. 2020-06-01T00:00:00Z"),
    ({"start": "2020-06-02T00:00:00Z", "end": "2020-06-01T00:00:00Z"},
     "start must not be after end"),
    ({"points": 0}, "points: Input should be greater than or equal to 1"),
    ({"start": "yesterday"},
     "start: not an ISO 8601 timestamp like 2020-06-01T00:00:00Z: 'yesterday'"),
    ({"start": "1591000000"},
     "start: not an ISO 8601 timestamp like 2020-06-01T00:00:00Z: '1591000000'"),
    ({"start": "2020-06-01T00:00:00 01:00"},
     "start: not an ISO 8601 timestamp like 2020-06-01T00:00:00Z: '2020-06-01T00:00:00 01:00' "
     "(write a + offset as %2B in a URL)"),
    ({"end": "2020-02-30T00:00:00Z"},
     "end: not a valid date and time (day is out of range for month)"),
    ({"end": "0001-01-01T00:00:00+01:00"}, "end: outside years 1 to 9999 in UTC"),
    ({"star": "2020-06-01T00:00:00Z"},
     "unknown query parameters ['star']; this route takes: end, points, start"),
    ({"points": [3, 4]}, "query parameters given more than once: ['points']"),
])
def test_bad_parameters_are_422_with_a_message(
    reader: httpx.Client, params: dict, message: str
) -> None:
    response = reader.get(f"/v1/meters/{METER}/readings", params=params)
    assert (response.status_code, response.json()) == (422, {"detail": message})


def test_a_one_meter_range_read_opens_only_its_date_partitions(read_server: Server) -> None:
    silver = delta_reads.LatestTables(str(read_server.lake_root)).latest(
        delta_reads.SILVER_METER_READINGS)
    rows = delta_reads.readings_filter(
        METER, datetime(2020, 6, 2, tzinfo=UTC), datetime(2020, 6, 3, 12, tzinfo=UTC))
    opened = [f.path for f in silver.files.get_fragments(filter=rows)]
    partitions = {path.split("/")[-2] for path in silver.files.files}
    assert len(partitions) == 7
    assert {path.split("/")[-2] for path in opened} == {"interval_date=2020-06-02",
                                                        "interval_date=2020-06-03"}


def test_a_meter_whose_id_is_a_files_truncated_maximum_is_still_found(
    read_server: Server,
) -> None:
    # Delta keeps 32 characters of a string's min/max (a meter id has 36) and appends a
    # tie-breaker to the maximum; files are skipped on those statistics.
    silver = delta_reads.LatestTables(str(read_server.lake_root)).latest(
        delta_reads.SILVER_METER_READINGS)
    found = 0
    for fragment in silver.files.get_fragments():
        meters = pq.read_table(silver.files.filesystem.open_input_file(fragment.path),
                               columns=["meter_id"]).column("meter_id")
        largest = pc.max(meters).as_py()
        assert len(largest) > 32
        read = delta_reads.meter_readings(silver, largest, None, None)
        found += 1
        assert read.num_rows == sum(1 for m, *_ in leap_rows() if m == largest)
    assert found == 7


def expected_file(path: Path) -> dict:
    content = path.read_bytes()
    return {"source": "utility_drops", "original_name": path.name, "outcome": "loaded",
            "reason": None, "rows_loaded": len(csv_rows(path)), "rows_quarantined": 0,
            "byte_size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
            "duplicate_of": None}


def without_arrival(file: dict) -> dict:
    return {k: v for k, v in file.items() if k not in ("received_at", "ingest_id")}


def test_files_lists_every_received_file_in_arrival_order(reader: httpx.Client) -> None:
    listed = reader.get("/v1/files").json()["files"]
    assert [without_arrival(f) for f in listed] == [expected_file(p) for p in leap_files()]
    assert [f["received_at"] for f in listed] == sorted(f["received_at"] for f in listed)
    assert all(f["received_at"].endswith("Z") for f in listed)
    page = reader.get("/v1/files", params={"since": listed[7]["received_at"], "limit": 2}).json()
    assert page["files"] == listed[7:9]
    assert reader.get("/v1/files", params={"source": "smrt"}).json() == {"files": []}


def test_files_last_is_the_last_received(reader: httpx.Client) -> None:
    last = reader.get("/v1/files/last").json()
    assert without_arrival(last) == expected_file(leap_files()[-1])
    response = reader.get("/v1/files/last", params={"source": "smrt"})
    assert (response.status_code, response.json()) == (
        404, {"detail": "no file received from smrt"})


DROPZONE_SCHEMA = (
    "time_stamp_utc TIMESTAMP, payload_count BIGINT, value_count BIGINT, mean DOUBLE, "
    "std DOUBLE, sum DOUBLE, sum_squares DOUBLE, _ingest_id STRING, _received_at TIMESTAMP"
)


def test_dropzone_stats_are_404_until_the_table_exists_then_served_by_range(
    spark: SparkSession, reader: httpx.Client, read_server: Server
) -> None:
    response = reader.get("/v1/dropzone/stats")
    assert (response.status_code, response.json()) == (404, {"detail": (
        "silver.dropzone_measurements does not exist yet: run `meterlake ingest dropzone` and "
        "its snapshot")})
    received = datetime(2026, 1, 2, 3, 4, 5, 123456)
    rows = [
        (datetime(2019, 5, 1, 10), 1, 3, 2.0, 1.0, 6.0, 14.0, "a" * 32, received),
        (datetime(2019, 5, 2, 10), 2, 4, 1.5, 0.5, 6.0, 9.75, "b" * 32, received),
        (datetime(2019, 5, 3, 10), 1, 1, 7.0, None, 7.0, 49.0, "c" * 32, received),
    ]
    spark.createDataFrame(rows, DROPZONE_SCHEMA).write.format("delta").save(
        f"{read_server.lake_root}/silver/dropzone_measurements")
    answer = reader.get("/v1/dropzone/stats", params={
        "start": "2019-05-02T06:00:00-04:00", "end": "2019-05-04T00:00:00Z"}).json()
    assert answer == {"stats": [
        {"time_stamp_utc": "2019-05-02T10:00:00Z", "payload_count": 2, "value_count": 4,
         "mean": 1.5, "std": 0.5, "sum": 6.0, "sum_squares": 9.75, "ingest_id": "b" * 32,
         "received_at": "2026-01-02T03:04:05.123456Z"},
        {"time_stamp_utc": "2019-05-03T10:00:00Z", "payload_count": 1, "value_count": 1,
         "mean": 7.0, "std": None, "sum": 7.0, "sum_squares": 49.0, "ingest_id": "c" * 32,
         "received_at": "2026-01-02T03:04:05.123456Z"},
    ]}


def test_settlements_are_404_until_a_run_exists(
    spark: SparkSession, reader: httpx.Client, read_server: Server
) -> None:
    response = reader.get("/v1/settlements")
    assert (response.status_code, response.json()) == (404, {"detail": "no settlement runs yet"})
    spark.createDataFrame(
        [("2020-06", date(2020, 6, 1), 3, 1234.5)],
        "run_month STRING, period_start DATE, meters INT, energy_wh DOUBLE",
    ).write.format("delta").save(f"{read_server.lake_root}/gold/settlement_summary")
    assert reader.get("/v1/settlements").json() == {"table_version": 0, "rows": [
        {"run_month": "2020-06", "period_start": "2020-06-01", "meters": 3, "energy_wh": 1234.5}
    ]}


@pytest.mark.parametrize("path", ["/v1/meters/count", f"/v1/meters/{METER}/readings",
                                  "/v1/files", "/v1/files/last", "/v1/dropzone/stats",
                                  "/v1/settlements"])
def test_reads_need_a_key_with_the_read_scope(read_server: Server, path: str) -> None:
    with read_server.client(INGEST_KEY) as ingest_only, read_server.client() as anonymous:
        assert (ingest_only.get(path).status_code, ingest_only.get(path).json()) == (
            403, {"detail": "this API key lacks the 'read' scope"})
        assert anonymous.get(path).status_code == 401


def test_every_route_is_documented_with_examples(read_server: Server) -> None:
    spec = httpx.get(f"{read_server.url}/openapi.json").json()
    assert sorted(spec["paths"]) == [
        "/healthz", "/v1/catalog", "/v1/dropzone", "/v1/dropzone/stats", "/v1/files",
        "/v1/files/last", "/v1/meters/count", "/v1/meters/{meter_id}/readings",
        "/v1/sensors", "/v1/sensors/{sensor_id}/readings", "/v1/settlements",
    ]
    schemas = spec["components"]["schemas"]
    for name in ("Accepted", "MeterCount", "MeterReadings", "ReceivedFile", "DropzoneStat",
                 "Settlements", "Sensors", "SensorReadings"):
        assert schemas[name]["examples"], name
    body = spec["paths"]["/v1/dropzone"]["post"]["requestBody"]["content"]
    assert sorted(body) == ["application/json", "multipart/form-data"]
    assert spec["components"]["securitySchemes"] == {"HTTPBearer": {
        "type": "http", "scheme": "bearer", "description": "an API key from METERLAKE_API_KEYS"}}
    docs = httpx.get(f"{read_server.url}/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text


def test_the_server_modules_import_neither_spark_nor_delta_spark() -> None:
    code = ("import sys, meterlake.receive.http_ingest, meterlake.serve.api, meterlake.serve.app, "
            "meterlake.cli.serve; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'delta')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_table_locations_match_the_contracts() -> None:
    assert delta_reads.SILVER_METER_READINGS.path("/lake") == SILVER_METER_READINGS.path("/lake")
    assert delta_reads.INGEST_LOG.path("/lake") == INGEST_LOG.path("/lake")
