"""The landing zone: raw bytes exactly as received, plus a small metadata record.

Layout: `<landing>/<source>/<yyyy>/<mm>/<dd>/<received-at>_<id>_<original-name>` and beside it
`<same name>.meta.json`, written data first; a file counts as landed only once its metadata
exists, so a crash mid-write leaves nothing half-visible. Nothing is ever overwritten: each
object is created exclusively, and the pipeline never rewrites or deletes anything here.

The landing root is a local path or `s3a://bucket/prefix`; `landing_store` is the one place
that picks the implementation (`local_landing`, `object_landing`), and every function here
takes `object_store` (the settings' `object_store`, or an `ObjectLanding` to tune uploads) for
the second kind. Landed bytes and metadata are read through `read_landed_bytes` and
`read_landed`, never with `open()`: `landing_path` may be an `s3a://` URL.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.instants import to_millis
from meterlake.core.object_store import is_object_store
from meterlake.receive.local_landing import LocalLandingStore

if TYPE_CHECKING:
    from meterlake.receive.object_landing import ObjectLanding

    # What a landing root on object storage needs: the settings' `object_store`, or an
    # `ObjectLanding` (the same with the upload tuning); None for a local landing root.
    ObjectStore = ObjectStoreSettings | ObjectLanding | None

META_SUFFIX = ".meta.json"
# What loading a landed file can end in, as `ops.ingest_log` records it.
LOADED, REJECTED, DUPLICATE = "loaded", "rejected", "duplicate"
_CHUNK_BYTES = 1 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class LandedFile:
    ingest_id: str
    source: str
    original_name: str
    landing_path: str
    received_at: datetime
    sha256: str
    byte_size: int
    sender: str | None
    # Why a receiver refused what it kept (source `<name>_rejected`); None for accepted bytes.
    # Defaulted so metadata written before the field existed still loads.
    rejection: str | None = None
    # What the receiver knew about the delivery beyond the bytes (a poller: the request's start,
    # URL, status and latency), for the source's parse step. Defaulted like `rejection`.
    context: dict[str, str] | None = None

    def to_json(self) -> str:
        record = asdict(self)
        record["received_at"] = self.received_at.isoformat()
        return json.dumps(record, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> LandedFile:
        record = json.loads(text)
        record["received_at"] = datetime.fromisoformat(record["received_at"])
        return LandedFile(**record)


class ArrivalClock:
    """UTC now in whole milliseconds, strictly increasing within this process (by at least 1 ms):
    arrival order must be total, and an arrival instant must read the same in Spark, delta-rs
    and Trino, which keep milliseconds only (meterlake.core.instants). `wall` is the clock it
    follows (a test gives its own)."""

    # One tick per arrival caps a receiving process at 1000 arrivals a second; a burst beyond
    # that runs the clock ahead of the wall clock until it catches up. Receivers land files,
    # request payloads and poll responses (each a batch of readings), not single readings, so
    # a process never comes near that rate.
    _TICK = timedelta(milliseconds=1)

    def __init__(self, wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._wall = wall
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            wall = self._wall()
            # Rounded up, not cut: an arrival is never stamped before the moment it began, so
            # what was "known at K" (received at or before K) never takes in a later arrival.
            current = to_millis(wall)
            if current < wall:
                current += self._TICK
            if current <= self._last:
                current = self._last + self._TICK
            self._last = current
            return current


ARRIVAL_CLOCK = ArrivalClock()


class LandingStore(Protocol):
    """Where landed objects are kept. Every object is created once and never overwritten."""

    def join(self, root: str, *parts: str) -> str:
        """The location of `parts` under `root`."""
        ...

    def write_once(self, path: str, chunks: Callable[[], Iterable[bytes]]) -> tuple[str, int]:
        """Writes the bytes (`chunks()` may be called more than once) unless `path` holds them
        already: (sha256, byte size). Other bytes at `path` are an error."""
        ...

    def create_once(self, path: str, content: bytes) -> bytes | None:
        """Creates `path` holding `content`: None, or what `path` holds when it existed."""
        ...

    def exists(self, path: str) -> bool: ...

    def read(self, path: str) -> bytes: ...

    def read_all(self, directory: str, suffix: str) -> list[bytes]:
        """Every object under `directory` whose name ends in `suffix`, dot-names excluded."""
        ...


def landing_store(location: str | Path, object_store: ObjectStore = None) -> LandingStore:
    """The store of `location` (a landing root or a path under one): local unless it is an
    object-store URL, which needs `object_store` (checked at its first request)."""
    if not is_object_store(location):
        return LocalLandingStore()
    # Imported here: botocore loads only where a landing root is on object storage.
    from meterlake.receive.object_landing import ObjectLanding, S3LandingStore

    if isinstance(object_store, ObjectStoreSettings):
        object_store = ObjectLanding(object_store)
    return S3LandingStore(object_store)


@dataclass(frozen=True)
class LandingSlot:
    """Where and as what one object lands, decided before any byte is written.

    A slot fully determines the landed object, so landing the same bytes into the same slot
    twice (a retry completing an interrupted attempt, or two racing retries) yields one object.
    """

    ingest_id: str
    received_at: datetime
    landing_path: str  # a local path or an s3a:// URL


def reserve_slot(landing_root: str | Path, source: str, original_name: str) -> LandingSlot:
    """A fresh slot: the next arrival instant, a new id, and the path they name."""
    received_at = ARRIVAL_CLOCK.now()
    ingest_id = uuid.uuid4().hex
    safe_name = _SAFE_NAME.sub("_", original_name)
    name = f"{received_at.strftime('%Y%m%dT%H%M%S.%fZ')}_{ingest_id}_{safe_name}"
    path = landing_store(landing_root).join(str(landing_root), source,
                                            received_at.strftime("%Y/%m/%d"), name)
    return LandingSlot(ingest_id, received_at, path)


def _read_chunks(source: Path) -> Iterator[bytes]:
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk


def _land_chunks(
    store: LandingStore,
    slot: LandingSlot,
    source: str,
    original_name: str,
    chunks: Callable[[], Iterable[bytes]],
    sender: str | None,
    rejection: str | None,
    context: dict[str, str] | None = None,
) -> LandedFile:
    """Writes data then metadata into `slot`, each created once: once this returns, a crash
    loses nothing. When the slot's metadata exists already, the record there holds."""
    sha256, size = store.write_once(slot.landing_path, chunks)
    landed = LandedFile(
        ingest_id=slot.ingest_id,
        source=source,
        original_name=original_name,
        landing_path=slot.landing_path,
        received_at=slot.received_at,
        sha256=sha256,
        byte_size=size,
        sender=sender,
        rejection=rejection,
        context=context,
    )
    existing = store.create_once(f"{slot.landing_path}{META_SUFFIX}",
                                 landed.to_json().encode("utf-8"))
    return landed if existing is None else LandedFile.from_json(existing.decode("utf-8"))


def land_file(
    landing_root: str | Path,
    source: str,
    original: Path,
    sender: str | None = None,
    *,
    object_store: ObjectStore = None,
) -> LandedFile:
    """Copies `original` unchanged into the landing zone and records its metadata."""
    slot = reserve_slot(landing_root, source, original.name)
    return _land_chunks(landing_store(landing_root, object_store), slot, source, original.name,
                        lambda: _read_chunks(original), sender, None)


def land_bytes(
    landing_root: str | Path,
    source: str,
    name: str,
    data: bytes,
    sender: str | None = None,
    rejection: str | None = None,
    slot: LandingSlot | None = None,
    context: dict[str, str] | None = None,
    *,
    object_store: ObjectStore = None,
) -> LandedFile:
    """Lands `data` (bytes received over the network) unchanged under the original name `name`.

    `rejection` records why a receiver refused the bytes it keeps for lineage; `context` what
    it knew of the delivery (see `LandedFile.context`). `slot` (from
    `reserve_slot`) lands into a place decided earlier, for example one recorded under an
    idempotency key before writing; landing the same bytes into one slot again is harmless.
    """
    slot = slot or reserve_slot(landing_root, source, name)
    return _land_chunks(landing_store(landing_root, object_store), slot, source, name,
                        lambda: [data], sender, rejection, context)


def is_landed(
    landing_path: str | Path, *, object_store: ObjectStore = None
) -> bool:
    """True once the object at `landing_path` is complete (its metadata exists)."""
    return landing_store(landing_path, object_store).exists(f"{landing_path}{META_SUFFIX}")


def read_landed(
    landing_path: str, *, object_store: ObjectStore = None
) -> LandedFile:
    """The metadata record of the object landed at `landing_path`."""
    meta = landing_store(landing_path, object_store).read(f"{landing_path}{META_SUFFIX}")
    return LandedFile.from_json(meta.decode("utf-8"))


def read_landed_bytes(
    landing_path: str, *, object_store: ObjectStore = None
) -> bytes:
    """The bytes landed at `landing_path`, exactly as received."""
    return landing_store(landing_path, object_store).read(landing_path)


def list_landed(
    landing_root: str | Path, source: str, *,
    object_store: ObjectStore = None,
) -> list[LandedFile]:
    """Every file landed for `source` (those whose metadata exists), in arrival order."""
    store = landing_store(landing_root, object_store)
    landed = [LandedFile.from_json(meta.decode("utf-8"))
              for meta in store.read_all(store.join(str(landing_root), source), META_SUFFIX)]
    return sorted(landed, key=lambda f: (f.received_at, f.ingest_id))


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files in the order given; a directory stands for its regular files in name order."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded.extend(
                sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            )
        elif path.is_file():
            expanded.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return expanded
