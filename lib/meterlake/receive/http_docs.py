"""OpenAPI documentation of the ingest route: request body, responses, examples.

The route reads its body itself (to enforce the size limit while reading and to keep the exact
bytes), so FastAPI cannot derive the request body from a parameter: it is declared here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meterlake.core.instants import INSTANT_OPENAPI_PATTERN

API_DESCRIPTION = (
    "meterlake's HTTP service. `POST /v1/dropzone` lands measurement payloads; the `/v1/...` "
    "GET routes read the lake's Delta tables (through delta-rs, no JVM). Every call needs "
    "`Authorization: Bearer <key>` with a key from `METERLAKE_API_KEYS`: ingest needs the "
    "`ingest` scope, reads the `read` scope. Timestamps need an explicit offset on the way in "
    "and are UTC (`Z`) on the way out."
)

IDEMPOTENCY_KEY = (
    "Optional, 1 to 255 visible ASCII characters. A retried request with the same key (from "
    "the same API key) and the same body is stored once and answers with the same landing id "
    "(and `Idempotent-Replayed: true`); the same key with another body is refused with 422."
)

DROPZONE_DESCRIPTION = (
    "Lands one payload `{\"time_stamp\": ..., \"data\": [numbers]}` or a JSON array of "
    "payloads, sent as the raw body (any content type; `curl -d @file.json` works) or as the "
    "multipart file field `file_upload` (`curl -F file_upload=@file.json`). The bytes are "
    "written durably to the landing zone before the 202, which returns the landing id: one "
    "landed object per request, holding the body exactly as sent (for multipart, the uploaded "
    "file). A body that fails the door checks (malformed JSON, a `time_stamp` without a UTC "
    "offset, an empty `data`, a value that is not a finite number) gets a 422 naming the item "
    "and field, and is kept under source `dropzone_rejected` with that reason."
)

_EXAMPLE_PAYLOAD = {"time_stamp": "2019-05-01T06:00:00-04:00", "data": [0.379, 1.589, 2.188]}

_PAYLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["time_stamp", "data"],
    "properties": {
        "time_stamp": {
            "type": "string",
            "pattern": INSTANT_OPENAPI_PATTERN,
            "description": "ISO 8601 with an explicit offset; -04:00 is US/Eastern daylight time",
            "example": "2019-05-01T06:00:00-04:00",
        },
        "data": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "number"},
            "description": "finite numbers (no NaN or Infinity)",
        },
    },
}

DROPZONE_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _PAYLOAD_SCHEMA,
                        {"type": "array", "minItems": 1, "items": _PAYLOAD_SCHEMA},
                    ]
                },
                "examples": {
                    "one payload": {"value": _EXAMPLE_PAYLOAD},
                    "array of payloads": {"value": [_EXAMPLE_PAYLOAD, _EXAMPLE_PAYLOAD]},
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file_upload"],
                    "properties": {
                        "file_upload": {
                            "type": "string",
                            "format": "binary",
                            "description": "a JSON file holding a payload or an array",
                        }
                    },
                },
            },
        },
    }
}


class ErrorBody(BaseModel):
    """Every error answers with one readable sentence."""

    detail: str = Field(examples=["invalid API key"])


class Rejection(BaseModel):
    detail: str = Field(examples=["item 1: data[2]: not a finite number: NaN"])
    rejected_landing_id: str | None = Field(
        default=None,
        description="the landed copy of the refused body (source dropzone_rejected); absent "
                    "when the request was refused before its body was read",
        examples=["4f1c2b9e0d8a4e6f9b7a3c5d1e2f3a4b"],
    )


class PayloadReceipt(BaseModel):
    time_stamp_utc: str = Field(examples=["2019-05-01T10:00:00Z"])
    value_count: int = Field(examples=[100])


class Accepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "landing_id": "9b2d6c1f3e8a4b7c9d0e1f2a3b4c5d6e",
        "received_at": "2026-11-24T01:13:00.276419Z",
        "sha256": "5f0c7c0fd3a1e0b6d1b0c8f3a9e4d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5",
        "byte_size": 1958,
        "payloads": [{"time_stamp_utc": "2019-05-01T10:00:00Z", "value_count": 100}],
        "replayed": False,
    }]})

    landing_id: str = Field(description="the landed object's id (ingest id)")
    received_at: str = Field(description="arrival instant, UTC")
    sha256: str
    byte_size: int
    payloads: list[PayloadReceipt] = Field(description="each payload of the body, in order")
    replayed: bool = Field(description="true when an Idempotency-Key retry found it landed")


def error(description: str, example: str) -> dict[str, Any]:
    """An OpenAPI response entry with the error body and one example."""
    return {
        "model": ErrorBody,
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


UNAUTHORIZED = error("no valid API key", "invalid API key")

DROPZONE_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted, "description": "landed durably"},
    401: UNAUTHORIZED,
    403: error("the key lacks the ingest scope", "this API key lacks the 'ingest' scope"),
    413: error("body over the size limit", "request body larger than the limit of 1048576 bytes"),
    422: {"model": Rejection, "description": "refused at the door; kept as rejected"},
    503: error("the landing zone cannot be written (disk, or the object store is down); "
               "nothing was landed: send it again",
               "the landing zone cannot be written: s3a://meterlake/landing/dropzone/...: "
               "no answer from the object store at http://127.0.0.1:18333/..."),
}
