"""The JSON (and CSV) the usage view reads: meters, the downsampled series, a reading's history.

Behind the dashboard session (401 without one). Timestamps in and out are UTC instants; a naive
one is refused like everywhere else in the API. The chart's local time zone only names the
extra local-time column of the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from meterlake.serve import dashboard_reads as dreads
from meterlake.serve import delta_reads as reads
from meterlake.serve import sessions
from meterlake.serve.api import lake_tables, latest_table, parse_instant
from meterlake.serve.delta_reads import jsonable
from meterlake.serve.usage_series import UsageSeries, usage_series

MAX_METERS = 8
_METER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
UNIT = "Wh"


def require_data_session(request: Request) -> sessions.Session:
    session = sessions.verify(request.app.state.session_secret,
                              request.cookies.get(sessions.COOKIE), request.app.state.api_keys)
    if session is None:
        raise HTTPException(401, "no valid dashboard session: sign in at /dashboard/sign-in")
    return session


def parse_meters(text: str) -> list[str]:
    """`a,b` as distinct meter ids in order; 422 naming a malformed one or too many."""
    meters = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not meters:
        raise HTTPException(422, "meters: name at least one meter id")
    if len(meters) > MAX_METERS:
        raise HTTPException(422, f"meters: at most {MAX_METERS} at once, got {len(meters)}")
    for meter in meters:
        if not _METER_ID.fullmatch(meter):
            raise HTTPException(422, f"meters: not a meter id: {meter!r}")
    return meters


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(422, f"tz: not a known time zone: {name!r}") from None


def _known(request: Request, meters: list[str]) -> dict[str, dreads.MeterSpan]:
    spans = dreads.meter_spans(latest_table(request, dreads.GOLD_METER_USAGE_HOURLY))
    unknown = [m for m in meters if m not in spans]
    if unknown:
        raise HTTPException(404, f"no 15-minute readings for meters {unknown}")
    return spans


def _span(span: dreads.MeterSpan) -> dict[str, Any]:
    return {"meter_id": span.meter_id, "first": jsonable(span.first_hour),
            "end": jsonable(span.end)}


def meters(
    request: Request,
    q: Annotated[str, Query(max_length=128)] = "",
    ids: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Meters whose id contains `q` (case-insensitive), or the meters `ids`, with their span."""
    if ids is not None:
        wanted = parse_meters(ids)
        spans = _known(request, wanted)
        return {"meters": [_span(spans[m]) for m in wanted]}
    spans = dreads.meter_spans(latest_table(request, dreads.GOLD_METER_USAGE_HOURLY))
    needle = q.strip().lower()
    found = [s for m, s in spans.items() if needle in m.lower()][:limit]
    return {"meters": [_span(s) for s in found]}


def _series(request: Request, meter_ids: str, start: str, end: str, points: int
            ) -> tuple[UsageSeries, dict[str, dreads.MeterSpan]]:
    chosen = parse_meters(meter_ids)
    start_at, end_at = parse_instant("start", start), parse_instant("end", end)
    assert start_at is not None and end_at is not None
    if start_at >= end_at:
        raise HTTPException(422, "start must be before end")
    spans = _known(request, chosen)
    found = usage_series(latest_table(request, dreads.GOLD_METER_INTERVALS),
                         latest_table(request, dreads.GOLD_METER_USAGE_HOURLY),
                         latest_table(request, reads.SILVER_METER_READINGS),
                         chosen, start_at, end_at, points)
    return found, spans


Meters = Annotated[str, Query(description="comma-separated meter ids", max_length=1200)]
Instant = Annotated[str, Query(description="ISO 8601 with an offset")]
Points = Annotated[int, Query(ge=10, le=4000, description="at most about this many buckets")]


def series(request: Request, meters: Meters, start: Instant, end: Instant,
           points: Points = 1000) -> JSONResponse:
    """The meters' usage over [start, end), one bucket per point: times as Unix seconds."""
    found, spans = _series(request, meters, start, end, points)
    body = {
        "start": jsonable(found.start), "end": jsonable(found.end), "unit": UNIT,
        "bucket_minutes": found.bucket_minutes, "source": found.source,
        "times": [int(t.timestamp()) for t in found.times],
        "meters": [{**_span(spans[line.meter_id]), "mean": line.mean, "min": line.low,
                    "max": line.high, "intervals": line.intervals, "missing": line.missing,
                    "corrected": line.corrected} for line in found.meters],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def series_csv(request: Request, meters: Meters, start: Instant, end: Instant,
               points: Points = 1000, tz: str = "UTC") -> Response:
    """The same series as CSV: one row per meter and bucket, UTC and local start."""
    zone = parse_zone(tz)
    found, _spans = _series(request, meters, start, end, points)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["meter_id", "bucket_start_utc", "bucket_start_local", "time_zone",
                     "bucket_minutes", "intervals", "missing_intervals", f"mean_{UNIT}",
                     f"min_{UNIT}", f"max_{UNIT}", "corrected"])
    for line in found.meters:
        for i, t in enumerate(found.times):
            writer.writerow([
                line.meter_id, jsonable(t), t.astimezone(zone).isoformat(), tz,
                found.bucket_minutes, line.intervals[i], line.missing[i], _num(line.mean[i]),
                _num(line.low[i]), _num(line.high[i]),
                (line.corrected[i] if line.corrected else "")])
    name = f"meterlake-usage-{found.start:%Y%m%dT%H%MZ}-{found.end:%Y%m%dT%H%MZ}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def history(request: Request, meter: str, interval: Instant) -> dict[str, Any]:
    """Every version of one reading (`meterlake audit history`), oldest arrival first."""
    meter_id = parse_meters(meter)[0]
    at = parse_instant("interval", interval)
    assert at is not None
    versions = dreads.reading_history(lake_tables(request), meter_id, at)
    return {"meter_id": meter_id, "interval_start": jsonable(at.astimezone(UTC)),
            "versions": [{k: jsonable(v) for k, v in row.items()} for row in versions]}


def data_router() -> APIRouter:
    router = APIRouter(prefix="/dashboard/api", dependencies=[Depends(require_data_session)])
    router.add_api_route("/meters", meters, methods=["GET"])
    router.add_api_route("/series", series, methods=["GET"])
    router.add_api_route("/series.csv", series_csv, methods=["GET"])
    router.add_api_route("/history", history, methods=["GET"])
    return router
