"""The read API: meters, one meter's readings, received files, dropzone statistics, settlements.

Routes are plain functions, so FastAPI runs them in its threadpool: delta-rs reads block and
must not stall the event loop that answers ingest calls. Every route needs a key with the
`read` scope. A table that does not exist yet answers 404 saying what creates it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from meterlake.core import instants
from meterlake.receive.http_auth import READ, require_scope
from meterlake.receive.http_docs import UNAUTHORIZED, error
from meterlake.receive.http_request import check_query_parameters
from meterlake.serve import delta_reads as reads
from meterlake.serve.models import (
    DropzoneStat,
    DropzoneStats,
    Health,
    MeterCount,
    MeterReadings,
    ReadingPoint,
    ReceivedFile,
    ReceivedFiles,
    SensorInfo,
    SensorPoint,
    SensorReadings,
    Sensors,
    Settlements,
    SourceCount,
)

Start = Annotated[str | None, Query(
    description="inclusive lower bound: ISO 8601 with an offset (write + as %2B in a URL)",
    examples=["2020-06-01T00:00:00Z"], json_schema_extra={"format": "date-time"},
)]
End = Annotated[str | None, Query(
    description="exclusive upper bound: ISO 8601 with an offset (write + as %2B in a URL)",
    examples=["2020-06-02T00:00:00Z"], json_schema_extra={"format": "date-time"},
)]
Limit = Annotated[int, Query(ge=1, le=100_000, description="at most this many rows")]
Source = Annotated[str | None, Query(description="only this source", examples=["utility_drops"])]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    403: error("the key lacks the read scope", "this API key lacks the 'read' scope"),
    422: error("a parameter is invalid", "start: needs a UTC offset, e.g. 2020-06-01T00:00:00Z"),
}


def _with_404(example: str) -> dict[int | str, dict[str, Any]]:
    return {**_ERRORS, 404: error("nothing to read yet", example)}


def lake_tables(request: Request) -> reads.LatestTables:
    """The app's open tables (refreshed per request); the dashboard's routes read them too."""
    tables: reads.LatestTables = request.app.state.tables
    return tables


def latest_table(request: Request, ref: reads.TableRef) -> reads.TableVersion:
    """`ref` at its latest version; 404 saying what creates it while it does not exist."""
    try:
        return lake_tables(request).latest(ref)
    except reads.MissingTableError as missing:
        raise HTTPException(404, str(missing)) from None


def parse_instant(name: str, text: str | None) -> datetime | None:
    """The instant of query parameter `name` in UTC; 422 unless it is an instant as
    `meterlake.core.instants` reads them (ISO 8601 with an offset, a real date and time)."""
    if text is None:
        return None
    try:
        return instants.parse_instant(text)
    except instants.MalformedInstantError:
        # A '+' left unescaped in a URL arrives as a space.
        hint = " (write a + offset as %2B in a URL)" if " " in text else ""
        raise HTTPException(
            422, f"{name}: not an ISO 8601 timestamp like 2020-06-01T00:00:00Z: '{text}'{hint}"
        ) from None
    except instants.NaiveInstantError:
        raise HTTPException(422, f"{name}: needs a UTC offset, e.g. {text}Z") from None
    except instants.InvalidInstantError as invalid:
        raise HTTPException(
            422, f"{name}: not a valid date and time ({invalid.reason})") from None
    except instants.InstantOutOfRangeError:
        raise HTTPException(422, f"{name}: outside years 1 to 9999 in UTC") from None


def parse_range(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """Both bounds parsed; 422 when start is after end."""
    first, last = parse_instant("start", start), parse_instant("end", end)
    if first is not None and last is not None and first > last:
        raise HTTPException(422, "start must not be after end")
    return first, last


def health() -> Health:
    """Liveness: answers without a key and without touching the lake."""
    return Health(status="ok")


def meters_count(request: Request) -> MeterCount:
    """How many meters and readings silver holds, per source and commodity."""
    total, per_source = reads.meter_counts(latest_table(request, reads.SILVER_METER_READINGS))
    by_source = [SourceCount(**row) for row in per_source]
    return MeterCount(meters=total, readings=sum(s.readings for s in by_source),
                      by_source=by_source)


def _as_points(table: Any) -> list[ReadingPoint]:
    return [ReadingPoint(time=row["bucket_start"], value=row["value"], readings=row["readings"])
            for row in table.to_pylist()]


def meter_readings(
    request: Request,
    meter_id: Annotated[str, Path(examples=["475bd821-23e6-4634-83c3-d85aa0c548c9"])],
    start: Start = None,
    end: End = None,
    points: Annotated[int | None, Query(
        ge=1, le=100_000,
        description="at most this many points: readings averaged over equal time buckets",
    )] = None,
) -> MeterReadings:
    """One meter's readings with start <= interval_start < end, oldest first; with `points`,
    downsampled server-side to the means of at most that many equal time buckets (from `start`,
    or the first reading, to `end`, or the end of the last reading's interval)."""
    start_at, end_at = parse_range(start, end)
    found = reads.meter_readings(latest_table(request, reads.SILVER_METER_READINGS), meter_id,
                                 start_at, end_at)
    unit = found.column("unit")[0].as_py() if found.num_rows else None
    answer = MeterReadings(meter_id=meter_id, start=start_at, end=end_at, unit=unit,
                           bucket_seconds=None, points=[])
    if points is None or found.num_rows <= points:
        answer.points = [ReadingPoint(time=r["interval_start"], value=r["value"], readings=1)
                         for r in found.select(["interval_start", "value"]).to_pylist()]
        return answer
    times = found.column("interval_start")
    first = start_at or times[0].as_py()
    last_minutes = found.column("interval_minutes")[-1].as_py()
    last = end_at or times[-1].as_py() + timedelta(minutes=last_minutes)
    span_us = (last - first) // timedelta(microseconds=1)
    bucket_us = reads.bucket_micros(span_us, points)
    answer.bucket_seconds = bucket_us // 1_000_000
    answer.points = _as_points(reads.downsample(found, first, bucket_us))
    return answer


def _file(row: dict[str, Any]) -> ReceivedFile:
    return ReceivedFile(**{name: row[name] for name in ReceivedFile.model_fields})


def files(
    request: Request,
    source: Source = None,
    since: Annotated[str | None, Query(
        description="only files received at or after this instant (a paging cursor)",
        examples=["2026-11-24T00:00:00Z"], json_schema_extra={"format": "date-time"},
    )] = None,
    limit: Limit = 1000,
) -> ReceivedFiles:
    """Received files with their outcome, in arrival order (from ops.ingest_log)."""
    rows = reads.received_files(latest_table(request, reads.INGEST_LOG), source,
                                parse_instant("since", since), limit)
    return ReceivedFiles(files=[_file(row) for row in rows])


def files_last(request: Request, source: Source = None) -> ReceivedFile:
    """The file received last, and what became of it."""
    row = reads.last_file(latest_table(request, reads.INGEST_LOG), source)
    if row is None:
        raise HTTPException(404, "no file received" + (f" from {source}" if source else ""))
    return _file(row)


def dropzone_stats(
    request: Request, start: Start = None, end: End = None, limit: Limit = 10_000
) -> DropzoneStats:
    """Per-UTC-timestamp statistics of the dropzone payloads with start <= time < end."""
    start_at, end_at = parse_range(start, end)
    rows = reads.dropzone_stats(latest_table(request, reads.SILVER_DROPZONE), start_at, end_at,
                                limit)
    return DropzoneStats(stats=[
        DropzoneStat(**{**row, "ingest_id": row.get("_ingest_id"),
                        "received_at": row.get("_received_at")})
        for row in rows
    ])


def settlements(request: Request, limit: Limit = 1000) -> Settlements:
    """Settlement runs (gold.settlement_summary), once there are any."""
    try:
        summary = lake_tables(request).latest(reads.GOLD_SETTLEMENT_SUMMARY)
    except reads.MissingTableError:
        raise HTTPException(404, "no settlement runs yet") from None
    return Settlements(table_version=summary.version, rows=reads.first_rows(summary, limit))


def sensors(request: Request) -> Sensors:
    """Every sensor the registry describes now (silver.sensors, current rows)."""
    rows = reads.current_sensors(latest_table(request, reads.SILVER_SENSORS))
    return Sensors(sensors=[SensorInfo(**{name: row[name] for name in SensorInfo.model_fields})
                            for row in rows])


def _sensor_unit(request: Request, sensor_id: str) -> str | None:
    try:
        registry = lake_tables(request).latest(reads.SILVER_SENSORS)
    except reads.MissingTableError:
        return None
    return next((row["unit"] for row in reads.current_sensors(registry)
                 if row["sensor_id"] == sensor_id), None)


def sensor_readings(
    request: Request,
    sensor_id: Annotated[str, Path(examples=["Sensor 1"])],
    start: Start = None,
    end: End = None,
    resolution: Annotated[Literal["raw", "1min"], Query(
        description="raw: every reading; 1min: per UTC minute, mean, min, max and count")] = "raw",
    limit: Limit = 100_000,
) -> SensorReadings:
    """One sensor's readings with start <= time < end, oldest first, raw or per minute."""
    start_at, end_at = parse_range(start, end)
    if resolution == "raw":
        found = reads.sensor_series(latest_table(request, reads.SILVER_SENSOR_READINGS),
                                    sensor_id, "ts", start_at, end_at, limit)
        points = [SensorPoint(time=r["ts"], value=r["value"], readings=1, min=r["value"],
                              max=r["value"]) for r in found.to_pylist()]
    else:
        found = reads.sensor_series(latest_table(request, reads.GOLD_SENSOR_READINGS_1MIN),
                                    sensor_id, "minute_start", start_at, end_at, limit)
        points = [SensorPoint(time=r["minute_start"], value=r["mean"], readings=r["readings"],
                              min=r["min"], max=r["max"]) for r in found.to_pylist()]
    return SensorReadings(sensor_id=sensor_id, start=start_at, end=end_at, resolution=resolution,
                          unit=_sensor_unit(request, sensor_id), points=points)


def read_router() -> APIRouter:
    """The read routes, each behind the `read` scope (liveness excepted)."""
    router = APIRouter()
    router.add_api_route("/healthz", health, methods=["GET"], tags=["service"],
                         summary="Liveness")
    secured = APIRouter(
        dependencies=[Depends(require_scope(READ)), Depends(check_query_parameters)],
        tags=["read"],
    )
    missing_silver = "silver.meter_readings does not exist yet: run `meterlake snapshot`"
    for path, route, summary, responses in (
        ("/v1/meters/count", meters_count, "Count meters and readings",
         _with_404(missing_silver)),
        ("/v1/meters/{meter_id}/readings", meter_readings, "One meter's readings, downsampled",
         _with_404(missing_silver)),
        ("/v1/files", files, "Received files and their outcome",
         _with_404("ops.ingest_log does not exist yet: run `meterlake ingest`")),
        ("/v1/files/last", files_last, "The last received file", _with_404("no file received")),
        ("/v1/dropzone/stats", dropzone_stats, "Dropzone statistics per UTC timestamp",
         _with_404("silver.dropzone_measurements does not exist yet: run `meterlake ingest "
                   "dropzone` and its snapshot")),
        ("/v1/settlements", settlements, "Settlement runs",
         _with_404("no settlement runs yet")),
        ("/v1/sensors", sensors, "The sensors and their registry entry",
         _with_404("silver.sensors does not exist yet: run `meterlake sensors registry "
                   "sensors.json`")),
        ("/v1/sensors/{sensor_id}/readings", sensor_readings,
         "One sensor's readings, raw or per minute",
         _with_404("silver.sensor_readings does not exist yet: run `meterlake ingest sensors "
                   "--stream` and its snapshot")),
    ):
        secured.add_api_route(path, route, methods=["GET"], summary=summary,
                              responses=responses)
    router.include_router(secured)
    return router
