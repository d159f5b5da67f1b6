"""Idempotency keys: a retried request lands once and answers with the same landing id.

The first request with a key decides where its bytes will land (a `LandingSlot`) and records
that decision under `<landing>/_idempotency/<source>/<xx>/<digest>.json` with an exclusive
create, *before* landing: on a filesystem a complete, fsynced temporary file hard-linked into
place (the link fails if the name exists); on object storage a conditional put (If-None-Match),
which the server refuses when the key exists. Every later request with the same key and sender
reads the record and, if the object is not complete yet (an attempt crashed, or is still
writing), lands the same bytes into the same slot: a slot fully determines the landed object,
so racing or repeated completions produce one object. Records survive restarts; nothing here
is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from meterlake.receive.landing import LandingSlot, landing_store

if TYPE_CHECKING:
    from meterlake.receive.landing import ObjectStore

IDEMPOTENCY_DIR = "_idempotency"
MAX_KEY_CHARS = 255


@dataclass(frozen=True)
class IdempotencyRecord:
    """What a key was first used for: the body's sha256 and the slot its bytes land in."""

    body_sha256: str
    ingest_id: str
    received_at: datetime
    landing_path: str
    original_name: str
    sender: str | None

    @property
    def slot(self) -> LandingSlot:
        return LandingSlot(self.ingest_id, self.received_at, self.landing_path)

    def to_json(self) -> str:
        record = {**self.__dict__, "received_at": self.received_at.isoformat()}
        return json.dumps(record, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> IdempotencyRecord:
        record = json.loads(text)
        record["received_at"] = datetime.fromisoformat(record["received_at"])
        return IdempotencyRecord(**record)


def is_valid_key(key: str) -> bool:
    """1 to 255 visible ASCII characters (what the IETF idempotency-key draft allows for)."""
    return 0 < len(key) <= MAX_KEY_CHARS and all(33 <= ord(c) <= 126 for c in key)


def record_path(landing_root: str | Path, source: str, sender: str | None, key: str) -> str:
    """Where the record of `key` lives: keys are scoped per sender (two clients may pick the same
    key), and hashed so any key is a safe file name."""
    digest = hashlib.sha256(f"{sender or ''}\n{key}".encode()).hexdigest()
    return landing_store(landing_root).join(str(landing_root), IDEMPOTENCY_DIR, source,
                                            digest[:2], f"{digest}.json")


def claim(
    path: str | Path, proposed: IdempotencyRecord, *,
    object_store: ObjectStore = None,
) -> IdempotencyRecord:
    """Records `proposed` under `path` unless a record exists; returns the record that holds.

    The create is exclusive and never exposes a half-written record, and the record is durable
    before this returns (see the module docstring).
    """
    existing = landing_store(path, object_store).create_once(
        str(path), proposed.to_json().encode("utf-8"))
    return proposed if existing is None else IdempotencyRecord.from_json(existing.decode("utf-8"))
