"""HTTP ingest: `POST /v1/dropzone` lands JSON payloads (the service is `meterlake.serve.app`).

An accepted body is landed under source `dropzone` (temporary name, fsync, atomic rename, then
its metadata the same way, then an fsync of the directory that concurrent requests share:
`local_landing.DirectorySync`) before the 202 answers with its landing id, so every 2xx is a
landed object and a crash after it loses nothing. A body refused at the door (422) is landed
too, under `dropzone_rejected` with the reason in its metadata, for lineage; unauthenticated
(401/403) and oversized (413) requests are not kept. When the landing zone cannot be written (a
full disk, object storage down or refusing the receiver's key) the answer is a 503 whose detail
says why, and nothing is visible as landed: the client retries, with the same Idempotency-Key to
land once. Blocking I/O runs in the threadpool, never on the event loop. No Spark here: the
`ingest dropzone` job loads what landed, on its own schedule.

Settings come from the environment so that every uvicorn worker process builds the same app:
`METERLAKE_API_KEYS` (see `http_auth`), `METERLAKE_MAX_BODY_BYTES` (default 1 MiB), and the
lake and landing roots and the object store as `meterlake.core.config.load_settings` finds them
(`METERLAKE_CONF`, `METERLAKE_LAKE`, `METERLAKE_LANDING`, `METERLAKE_S3_ENDPOINT`; the
credentials in `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from meterlake.core.config import DashboardSettings, ObjectStoreSettings, load_settings
from meterlake.core.object_store import ObjectStoreError
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
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpSettings:
    lake_root: str
    landing_root: str
    api_keys: tuple[ApiKey, ...]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    # Where an s3a:// landing root (and lake) is served; unused for local paths.
    object_store: ObjectStoreSettings = field(default_factory=ObjectStoreSettings)


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
    return HttpSettings(lake.lake_root, lake.landing_root, keys, int(limit_text), lake.dashboard,
                        lake.object_store)


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
    try:
        return await _land_request(request, settings, body, api_key, idempotency_key, started)
    except (ObjectStoreError, OSError) as error:
        return _unavailable_response(error)


async def _land_request(
    request: Request, settings: HttpSettings, body: bytes, api_key: ApiKey,
    idempotency_key: str | None, started: datetime,
) -> JSONResponse:
    data, name = body, None
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        try:
            data, name = await uploaded_payload(request.headers, body)
        except RejectedBodyError as error:
            landed = await run_in_threadpool(
                land_bytes, settings.landing_root, REJECTED_NAME,
                _default_name(started, ".multipart"), body, api_key.fingerprint, str(error),
                object_store=settings.object_store)
            return _rejected_response(landed, str(error))
    received, reason = await run_in_threadpool(
        receive_or_reject, settings.landing_root, data, name or _default_name(started),
        api_key.fingerprint, idempotency_key, object_store=settings.object_store,
    )
    if reason is not None:
        return _rejected_response(received.landed, reason)
    headers = {"Idempotent-Replayed": "true"} if received.replayed else None
    return JSONResponse(_accepted_body(received), status_code=202, headers=headers)


def _rejected_response(landed: LandedFile, reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason, "rejected_landing_id": landed.ingest_id},
                        status_code=422)


def _unavailable_response(error: ObjectStoreError | OSError) -> JSONResponse:
    """503: the landing zone cannot be written. An object-store error's one line names the URL
    and the identity; a filesystem error is reported without the server's paths."""
    cause = str(error) if isinstance(error, ObjectStoreError) else error.strerror or str(error)
    log.error("landing failed, answering 503: %s", error)
    return JSONResponse({"detail": f"the landing zone cannot be written: {cause}"},
                        status_code=503)


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
