"""Landing dropzone requests: accepted bodies under `dropzone`, refused ones under
`dropzone_rejected` with their reason, and Idempotency-Key retries landed once.

Synchronous I/O (the HTTP app runs it in its threadpool); no web framework here. The landing
zone is a local path or object storage (`object_store`: the settings' `object_store`); when it
cannot be written the error (OSError, ObjectStoreError) propagates with nothing visible as
landed, and a retry with the same Idempotency-Key completes the same slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meterlake.receive.idempotency import IdempotencyRecord, claim, is_valid_key, record_path
from meterlake.receive.landing import LandedFile, is_landed, land_bytes, read_landed, reserve_slot
from meterlake.sources.dropzone import NAME, REJECTED_NAME
from meterlake.sources.dropzone.door import CheckedPayload, RejectedBodyError, check_body

if TYPE_CHECKING:
    from meterlake.receive.landing import ObjectStore


@dataclass(frozen=True)
class Received:
    """What one request left in the landing zone, and how to answer it."""

    landed: LandedFile
    payloads: tuple[CheckedPayload, ...] = ()
    replayed: bool = False


def land_idempotently(
    landing_root: str, data: bytes, name: str, sender: str, key: str, body_sha256: str,
    *, object_store: ObjectStore = None,
) -> tuple[LandedFile, bool]:
    """Lands `data` once per (sender, key): (the landed object, whether it existed before).
    Raises RejectedBodyError when the key was first used with other bytes."""
    slot = reserve_slot(landing_root, NAME, name)
    proposed = IdempotencyRecord(body_sha256, slot.ingest_id, slot.received_at,
                                 slot.landing_path, name, sender)
    record = claim(record_path(landing_root, NAME, sender, key), proposed,
                   object_store=object_store)
    if record.body_sha256 != body_sha256:
        raise RejectedBodyError(
            f"Idempotency-Key {key!r} was first used with another body "
            f"(sha256 {record.body_sha256}); use a new key for new content"
        )
    if is_landed(record.landing_path, object_store=object_store):
        return read_landed(record.landing_path, object_store=object_store), record != proposed
    # First attempt, or one that crashed before completing: land into the recorded slot.
    landed = land_bytes(landing_root, NAME, record.original_name, data, record.sender,
                        slot=record.slot, object_store=object_store)
    return landed, record != proposed


def receive(
    landing_root: str, data: bytes, name: str, sender: str, key: str | None,
    *, object_store: ObjectStore = None,
) -> Received:
    """Checks and lands one request's payload bytes; raises RejectedBodyError for a 422."""
    if key is not None and not is_valid_key(key):
        raise RejectedBodyError("Idempotency-Key must be 1 to 255 visible ASCII characters")
    payloads = tuple(check_body(data))
    if key is None:
        landed = land_bytes(landing_root, NAME, name, data, sender, object_store=object_store)
        return Received(landed, payloads)
    digest = hashlib.sha256(data).hexdigest()
    landed, replayed = land_idempotently(landing_root, data, name, sender, key, digest,
                                         object_store=object_store)
    return Received(landed, payloads, replayed)


def receive_or_reject(
    landing_root: str, data: bytes, name: str, sender: str, key: str | None,
    *, object_store: ObjectStore = None,
) -> tuple[Received, str | None]:
    """(what landed, None) when accepted; (the rejected object, the reason) when refused."""
    try:
        return receive(landing_root, data, name, sender, key, object_store=object_store), None
    except RejectedBodyError as error:
        reason = str(error)
    landed = land_bytes(landing_root, REJECTED_NAME, name, data, sender,
                        rejection=reason, object_store=object_store)
    return Received(landed), reason
