"""Landing dropzone requests: accepted bodies under `dropzone`, refused ones under
`dropzone_rejected` with their reason, and Idempotency-Key retries landed once.

Synchronous file I/O (the HTTP app runs it in its threadpool); no web framework here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from meterlake.receive.idempotency import IdempotencyRecord, claim, is_valid_key, record_path
from meterlake.receive.landing import META_SUFFIX, LandedFile, is_landed, land_bytes, reserve_slot
from meterlake.sources.dropzone import NAME, REJECTED_NAME
from meterlake.sources.dropzone.door import CheckedPayload, RejectedBodyError, check_body


@dataclass(frozen=True)
class Received:
    """What one request left in the landing zone, and how to answer it."""

    landed: LandedFile
    payloads: tuple[CheckedPayload, ...] = ()
    replayed: bool = False


def _existing(landing_path: str) -> LandedFile:
    with open(f"{landing_path}{META_SUFFIX}", encoding="utf-8") as meta:
        return LandedFile.from_json(meta.read())


def land_idempotently(
    landing_root: str, data: bytes, name: str, sender: str, key: str, body_sha256: str
) -> tuple[LandedFile, bool]:
    """Lands `data` once per (sender, key): (the landed object, whether it existed before).
    Raises RejectedBodyError when the key was first used with other bytes."""
    slot = reserve_slot(landing_root, NAME, name)
    proposed = IdempotencyRecord(body_sha256, slot.ingest_id, slot.received_at,
                                 str(slot.landing_path), name, sender)
    record = claim(record_path(landing_root, NAME, sender, key), proposed)
    if record.body_sha256 != body_sha256:
        raise RejectedBodyError(
            f"Idempotency-Key {key!r} was first used with another body "
            f"(sha256 {record.body_sha256}); use a new key for new content"
        )
    if is_landed(record.landing_path):
        return _existing(record.landing_path), record != proposed
    # First attempt, or one that crashed before completing: land into the recorded slot.
    landed = land_bytes(landing_root, NAME, record.original_name, data, record.sender,
                        slot=record.slot)
    return landed, record != proposed


def receive(
    landing_root: str, data: bytes, name: str, sender: str, key: str | None
) -> Received:
    """Checks and lands one request's payload bytes; raises RejectedBodyError for a 422."""
    if key is not None and not is_valid_key(key):
        raise RejectedBodyError("Idempotency-Key must be 1 to 255 visible ASCII characters")
    payloads = tuple(check_body(data))
    if key is None:
        landed = land_bytes(landing_root, NAME, name, data, sender)
        return Received(landed, payloads)
    digest = hashlib.sha256(data).hexdigest()
    landed, replayed = land_idempotently(landing_root, data, name, sender, key, digest)
    return Received(landed, payloads, replayed)


def receive_or_reject(
    landing_root: str, data: bytes, name: str, sender: str, key: str | None
) -> tuple[Received, str | None]:
    """(what landed, None) when accepted; (the rejected object, the reason) when refused."""
    try:
        return receive(landing_root, data, name, sender, key), None
    except RejectedBodyError as error:
        reason = str(error)
    landed = land_bytes(landing_root, REJECTED_NAME, name, data, sender,
                        rejection=reason)
    return Received(landed), reason
