"""The temperature source's parse step and silver's latest-by-arrival rule, on inline responses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from pyspark.sql import DataFrame, SparkSession

from meterlake.core.config import Settings
from meterlake.silver.temperature_records import latest_records
from meterlake.sources.temperatures.parse import parse_files

RECEIVED = datetime(2026, 12, 7, 9, 5, 1, tzinfo=UTC)
STARTED = "2026-12-07T09:05:00.250000+00:00"
SETTINGS = Settings(lake_root="/unused", landing_root="/unused/landing")


def record(record_id: str | None = "r1", timestamp: object = "2026-12-07 09:05:00",
           lat: object = 48.8566, lon: object = 2.3522, temperature: object = 11.5,
           country: object = "France") -> dict[str, object]:
    return {"id": record_id, "timestamp": timestamp, "lat": lat, "lon": lon,
            "temperature": temperature, "country": country}


def responses_df(spark: SparkSession, *bodies: bytes,
                 context: dict[str, str] | None = None) -> DataFrame:
    rows = [(f"ingest-{n}", f"response-{n}.json", RECEIVED, "sha", f"/landing/{n}", len(body),
             context, bytearray(body)) for n, body in enumerate(bodies)]
    return spark.createDataFrame(rows, "_ingest_id string, _source_file string, _received_at "
                                 "timestamp, _file_sha256 string, landing_path string, byte_size "
                                 "long, context map<string,string>, content binary")


def test_a_record_becomes_one_bronze_row_with_the_request_time(spark: SparkSession) -> None:
    body = json.dumps([record(), record("r2", country=" fRance ", temperature=None),
                       record("r3", country="Germany")]).encode()
    parsed = parse_files(responses_df(spark, body, context={"request_started_at": STARTED}),
                         SETTINGS)
    rows = parsed.bronze_df.orderBy("_source_line").collect()
    assert [(r["record_id"], r["temperature"], r["is_in_france"], r["_source_line"])
            for r in rows] == [("r1", 11.5, True, 1), ("r2", None, True, 2),
                               ("r3", 11.5, False, 3)]
    first = rows[0]
    assert first["measured_at"] == datetime(2026, 12, 7, 9, 5)  # the partner's text, read as UTC
    assert first["measured_date"] == date(2026, 12, 7)
    assert first["request_started_at"] == datetime(2026, 12, 7, 9, 5, 0, 250000)
    assert (first["lat"], first["lon"], first["_ingest_id"]) == (48.8566, 2.3522, "ingest-0")
    assert parsed.quarantine_df.count() == 0


def test_a_response_ingested_from_a_file_takes_its_arrival_as_request_time(
    spark: SparkSession
) -> None:
    parsed = parse_files(responses_df(spark, json.dumps([record()]).encode()), SETTINGS)
    assert parsed.bronze_df.first()["request_started_at"] == datetime(2026, 12, 7, 9, 5, 1)


def test_each_unusable_record_is_quarantined_with_its_field_and_value(
    spark: SparkSession
) -> None:
    body = json.dumps([
        record("ok"),
        record("a", lat="n/a"),
        record("b", lon=200.5),
        record("c", temperature="warm"),
        record("d", temperature=99.0),
        record(None),
        record("e", timestamp="yesterday"),
        record("f", lat=None),
        5,
    ]).encode()
    parsed = parse_files(responses_df(spark, body), SETTINGS)
    quarantined = sorted((r["_source_line"], r["field"], r["reason"])
                         for r in parsed.quarantine_df.collect())
    assert quarantined == [
        (2, "lat", "lat: not a number: 'n/a'"),
        (3, "lon", "lon: outside [-180, 180]: '200.5'"),
        (4, "temperature", "temperature: not a number: 'warm'"),
        (5, "temperature", "temperature: outside [-90, 60] °C: '99.0'"),
        (6, "id", "id: missing or empty"),
        (7, "timestamp", "timestamp: not a 'YYYY-MM-DD HH:MM:SS' timestamp: 'yesterday'"),
        (8, "lat", "lat: missing"),
        (9, "record", "record: not a JSON object; id: missing or empty; timestamp: not a "
                      "'YYYY-MM-DD HH:MM:SS' timestamp: (empty); lat: missing; lon: missing"),
    ]
    assert [r["record_id"] for r in parsed.bronze_df.collect()] == ["ok"]
    assert parsed.quarantine_df.filter("source = 'temperatures'").count() == 8


def test_a_body_that_is_not_a_json_array_is_rejected_whole(spark: SparkSession) -> None:
    bodies = (b'{"id": "x"}', b"[{\"id\": ", b"", json.dumps([record()]).encode())
    parsed = parse_files(responses_df(spark, *bodies), SETTINGS)
    verdicts = dict(parsed.verdicts_df.collect())
    assert verdicts == {"ingest-0": "not a JSON array", "ingest-1": "not a JSON array",
                        "ingest-2": "file is empty", "ingest-3": None}
    assert [r["_ingest_id"] for r in parsed.bronze_df.collect()] == ["ingest-3"]


def bronze_version(spark: SparkSession, record_id: str, temperature: float, received: datetime,
                   started: datetime, line: int) -> DataFrame:
    return spark.createDataFrame(
        [(record_id, date(2026, 12, 7), datetime(2026, 12, 7, 9, 5), 48.8566, 2.3522,
          temperature, "France", True, started, f"i-{received:%H%M}", "f.json", line, received,
          "sha")],
        "record_id string, measured_date date, measured_at timestamp, lat double, lon double, "
        "temperature double, country string, is_in_france boolean, request_started_at "
        "timestamp, _ingest_id string, _source_file string, _source_line int, _received_at "
        "timestamp, _file_sha256 string")


def test_silver_keeps_the_latest_arrival_and_the_first_import_time(spark: SparkSession) -> None:
    nine, ten, noon = (datetime(2026, 12, 7, h, 5, tzinfo=UTC) for h in (9, 10, 12))
    versions_df = (
        bronze_version(spark, "r1", 11.0, nine, nine, 3)
        .unionByName(bronze_version(spark, "r1", 13.0, noon, noon, 1))
        .unionByName(bronze_version(spark, "r1", 12.0, ten, ten, 7))  # arrived between them
        .unionByName(bronze_version(spark, "r2", 5.0, ten, ten, 2))
    )
    rows = {r["record_id"]: r for r in latest_records(versions_df).collect()}
    assert (rows["r1"]["temperature"], rows["r1"]["version_count"],
            rows["r1"]["first_request_started_at"], rows["r1"]["request_started_at"],
            rows["r1"]["_ingest_id"]) == (13.0, 3, datetime(2026, 12, 7, 9, 5),
                                          datetime(2026, 12, 7, 12, 5), "i-1205")
    assert (rows["r2"]["temperature"], rows["r2"]["version_count"]) == (5.0, 1)
