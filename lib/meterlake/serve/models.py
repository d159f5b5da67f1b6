"""Response bodies of the read API, with the examples /openapi.json and /docs show.

Instants are UTC and serialised with `Z`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from meterlake.serve.delta_reads import jsonable

UtcInstant = Annotated[datetime, PlainSerializer(jsonable, return_type=str)]


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class SourceCount(BaseModel):
    source: str
    commodity: str
    meters: int
    readings: int


class MeterCount(BaseModel):
    model_config = _example({"meters": 3, "readings": 1246, "by_source": [
        {"source": "utility_drops", "commodity": "electricity", "meters": 3, "readings": 1246}
    ]})

    meters: int = Field(description="distinct meters in silver.meter_readings")
    readings: int = Field(description="readings (one per meter and interval)")
    by_source: list[SourceCount]


class ReadingPoint(BaseModel):
    time: UtcInstant = Field(description="interval start of the reading, or start of the bucket")
    value: float = Field(description="the reading, or the mean of the bucket's readings")
    readings: int = Field(description="how many readings the point stands for")


class MeterReadings(BaseModel):
    model_config = _example({
        "meter_id": "475bd821-23e6-4634-83c3-d85aa0c548c9",
        "start": "2020-06-01T00:00:00Z", "end": "2020-06-02T00:00:00Z", "unit": "Wh",
        "bucket_seconds": 3600,
        "points": [{"time": "2020-06-01T00:00:00Z", "value": 101.25, "readings": 4}],
    })

    meter_id: str
    start: UtcInstant | None = Field(description="inclusive bound asked for, if any")
    end: UtcInstant | None = Field(description="exclusive bound asked for, if any")
    unit: str | None = Field(description="unit of the values (Wh, kWh); null without readings")
    bucket_seconds: int | None = Field(
        description="width of the averaging buckets; null when the readings are returned as is"
    )
    points: list[ReadingPoint]


class ReceivedFile(BaseModel):
    model_config = _example({
        "received_at": "2026-11-24T01:13:00.276419Z", "source": "utility_drops",
        "original_name": "input_0.csv", "outcome": "loaded", "reason": None,
        "rows_loaded": 124, "rows_quarantined": 0, "byte_size": 8812,
        "sha256": "7d744d981d980d2c55c96e0224ce371299ebe48b8ff5c7899dbde73ddf0d921e",
        "ingest_id": "e3674918620e48abb0791b272de45efe", "duplicate_of": None,
    })

    received_at: UtcInstant
    source: str
    original_name: str
    outcome: str = Field(description="loaded, rejected or duplicate")
    reason: str | None
    rows_loaded: int
    rows_quarantined: int
    byte_size: int
    sha256: str
    ingest_id: str
    duplicate_of: str | None


class ReceivedFiles(BaseModel):
    files: list[ReceivedFile] = Field(description="in arrival order")


class DropzoneStat(BaseModel):
    model_config = _example({
        "time_stamp_utc": "2019-05-01T10:00:00Z", "payload_count": 1, "value_count": 100,
        "mean": 1.4917, "std": 0.8362, "sum": 149.17, "sum_squares": 291.75,
        "ingest_id": "9b2d6c1f3e8a4b7c9d0e1f2a3b4c5d6e",
        "received_at": "2026-11-24T01:13:00.276419Z",
    })

    time_stamp_utc: UtcInstant
    payload_count: int
    value_count: int
    mean: float | None
    std: float | None = Field(description="sample standard deviation (n-1); null for one value")
    sum: float | None
    sum_squares: float | None
    ingest_id: str | None = Field(description="lineage: the landed payload the row came from")
    received_at: UtcInstant | None


class DropzoneStats(BaseModel):
    stats: list[DropzoneStat] = Field(description="one row per UTC timestamp, in time order")


class Settlements(BaseModel):
    model_config = _example({"table_version": 3, "rows": [{"run_id": "2020-06", "meters": 3}]})

    table_version: int
    rows: list[dict[str, Any]] = Field(description="rows of gold.settlement_summary")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class SensorInfo(BaseModel):
    sensor_id: str
    lat: float
    lng: float
    unit: str
    type: str
    range_min: float = Field(description="lowest value the sensor can measure")
    range_max: float = Field(description="highest value the sensor can measure")
    description: str
    valid_from: UtcInstant = Field(description="since when this description holds")


class Sensors(BaseModel):
    model_config = _example({"sensors": [{
        "sensor_id": "Sensor 1", "lat": 10.0, "lng": 10.0, "unit": "C", "type": "temperature",
        "range_min": 0.0, "range_max": 45.0, "description": "Main Entrance",
        "valid_from": "1970-01-01T00:00:00Z"}]})

    sensors: list[SensorInfo] = Field(description="the registry's current row of each sensor")


class SensorPoint(BaseModel):
    time: UtcInstant = Field(description="the reading's instant, or the minute's start")
    value: float = Field(description="the reading, or the minute's mean")
    readings: int = Field(description="how many readings the point stands for")
    min: float = Field(description="lowest reading of the point")
    max: float = Field(description="highest reading of the point")


class SensorReadings(BaseModel):
    model_config = _example({
        "sensor_id": "Sensor 1", "start": "2025-11-12T10:00:00Z",
        "end": "2025-11-12T11:00:00Z", "resolution": "1min", "unit": "C",
        "points": [{"time": "2025-11-12T10:00:00Z", "value": 22.5, "readings": 60,
                    "min": 20.0, "max": 25.0}],
    })

    sensor_id: str
    start: UtcInstant | None = Field(description="inclusive bound asked for, if any")
    end: UtcInstant | None = Field(description="exclusive bound asked for, if any")
    resolution: str = Field(description="raw (silver.sensor_readings) or 1min "
                                        "(gold.sensor_readings_1min)")
    unit: str | None = Field(description="the registry's unit for the sensor; null when the "
                                         "registry does not know it")
    points: list[SensorPoint]
