"""HTTP ingest: `POST /v1/dropzone` lands JSON payloads (the service is `meterlake.serve.app`).

An accepted body is landed under source `dropzone` (temporary name, fsync, atomic rename, fsync
of the directory) before the 202 answers with its landing id, so every 2xx is a landed object
and a crash after it loses nothing. A body refused at the door (422) is landed too, under
`dropzone_rejected` with the reason in its metadata, for lineage; unauthenticated (401/403) and
oversized (413) requests are not kept. Blocking file I/O runs in the threadpool, never on the
event loop. No Spark here: the `ingest dropzone` job loads what landed, on its own schedule.

Settings come from the environment so that every uvicorn worker process builds the same app:
`METERLAKE_API_KEYS` (see `http_auth`), `METERLAKE_MAX_BODY_BYTES` (default 1 MiB), and the
lake and landing roots as `meterlake.core.config.load_settings` finds them (`METERLAKE_CONF`,
`METERLAKE_LAKE`, `METERLAKE_LANDING`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from meterlake.core.config import DashboardSettings, load_settings
from meterlake.receive import http_docs
from meterlake.receive.dropzone_landing import Received, receive_or_reject
from meterlake.receive.http_auth import INGEST, KEYS_VARIABLE, ApiKey, parse_api_keys, require_scope
from meterlake.receive.http_request import (
    check_query_parameters,
    read_limited_body,
    uploaded_payload,
)
from meterlake.receive.landing import LandedFile, land_bytes
from meterlake.sources.dropzone import REJECTED_NAME
from meterlake.sources.dropzone.door import RejectedBodyError

MAX_BODY_VARIABLE = "METERLAKE_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class HttpSettings:
    lake_root: str
    landing_root: str
    api_keys: tuple[ApiKey, ...]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)


def http_settings_from_env(env: Mapping[str, str] | None = None) -> HttpSettings:
    """Settings of one server process; raises ValueError when no API key is configured (every
    call would be refused) or the size limit is not a positive integer."""
    env = os.environ if env is None else env
    lake = load_settings(env=env)
    keys = parse_api_keys(env.get(KEYS_VARIABLE, ""))
    if not keys:
        raise ValueError(f"{KEYS_VARIABLE} is empty: set comma-separated keys (key[:scope+...])")
    limit_text = env.get(MAX_BODY_VARIABLE, str(DEFAULT_MAX_BODY_BYTES))
    if not limit_text.isdigit() or int(limit_text) < 1:
        raise ValueError(f"{MAX_BODY_VARIABLE} must be a positive integer, got {limit_text!r}")
    return HttpSettings(lake.lake_root, lake.landing_root, keys, int(limit_text), lake.dashboard)


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _accepted_body(received: Received) -> dict[str, Any]:
    landed = received.landed
    return {
        "landing_id": landed.ingest_id,
        "received_at": _utc_text(landed.received_at),
        "sha256": landed.sha256,
        "byte_size": landed.byte_size,
        "payloads": [
            {"time_stamp_utc": _utc_text(p.time_stamp_utc), "value_count": p.value_count}
            for p in received.payloads
        ],
        "replayed": received.replayed,
    }


def _default_name(request_started: datetime, suffix: str = ".json") -> str:
    """The original name of a body that came without one: when the request arrived."""
    return f"dropzone_{request_started.strftime('%Y%m%dT%H%M%S.%fZ')}{suffix}"


async def post_dropzone(
    request: Request,
    api_key: Annotated[ApiKey, Depends(require_scope(INGEST))],
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", description=http_docs.IDEMPOTENCY_KEY)] = None,
) -> JSONResponse:
    started = datetime.now(UTC)
    settings: HttpSettings = request.app.state.http
    body = await read_limited_body(request, settings.max_body_bytes)
    data, name = body, None
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        try:
            data, name = await uploaded_payload(request.headers, body)
        except RejectedBodyError as error:
            landed = await run_in_threadpool(
                land_bytes, settings.landing_root, REJECTED_NAME,
                _default_name(started, ".multipart"), body, api_key.fingerprint, str(error))
            return _rejected_response(landed, str(error))
    received, reason = await run_in_threadpool(
        receive_or_reject, settings.landing_root, data, name or _default_name(started),
        api_key.fingerprint, idempotency_key,
    )
    if reason is not None:
        return _rejected_response(received.landed, reason)
    headers = {"Idempotent-Replayed": "true"} if received.replayed else None
    return JSONResponse(_accepted_body(received), status_code=202, headers=headers)


def _rejected_response(landed: LandedFile, reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason, "rejected_landing_id": landed.ingest_id},
                        status_code=422)


def ingest_router() -> APIRouter:
    router = APIRouter(tags=["ingest"])
    router.add_api_route(
        "/v1/dropzone", post_dropzone, methods=["POST"], status_code=202,
        dependencies=[Depends(check_query_parameters)],
        summary="Receive dropzone payloads", description=http_docs.DROPZONE_DESCRIPTION,
        responses=http_docs.DROPZONE_RESPONSES, openapi_extra=http_docs.DROPZONE_REQUEST_BODY,
        response_class=JSONResponse,
    )
    return router
