"""The landing zone: raw bytes exactly as received, plus a small metadata record.

Layout: `<landing>/<source>/<yyyy>/<mm>/<dd>/<received-at>_<id>_<original-name>` and beside it
`<same name>.meta.json`. Both are written under a dot-prefixed temporary name and renamed, data
first; a file counts as landed only once its metadata exists, so a crash mid-write leaves
nothing half-visible. The pipeline never rewrites or deletes anything here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


class _ArrivalClock:
    """UTC now, strictly increasing within this process: arrival order must be total."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC)
            if current <= self._last:
                current = self._last + timedelta(microseconds=1)
            self._last = current
            return current


ARRIVAL_CLOCK = _ArrivalClock()


def _write_durably(path: Path, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Writes and fsyncs `chunks`; returns their sha256 and byte size."""
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _read_chunks(source: Path) -> Iterator[bytes]:
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durably(directory: Path) -> None:
    """Creates `directory` and its missing parents, fsyncing each new entry's parent: a new day
    directory that a crash forgot would take the files landed in it along."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        fsync_dir(new.parent)


@dataclass(frozen=True)
class LandingSlot:
    """Where and as what one object lands, decided before any byte is written.

    A slot fully determines the landed object, so landing the same bytes into the same slot
    twice (a retry completing an interrupted attempt, or two racing retries) yields one object.
    """

    ingest_id: str
    received_at: datetime
    landing_path: Path


def reserve_slot(landing_root: str | Path, source: str, original_name: str) -> LandingSlot:
    """A fresh slot: the next arrival instant, a new id, and the path they name."""
    received_at = ARRIVAL_CLOCK.now()
    ingest_id = uuid.uuid4().hex
    safe_name = _SAFE_NAME.sub("_", original_name)
    directory = Path(landing_root) / source / received_at.strftime("%Y/%m/%d")
    name = f"{received_at.strftime('%Y%m%dT%H%M%S.%fZ')}_{ingest_id}_{safe_name}"
    return LandingSlot(ingest_id, received_at, directory / name)


def _land_chunks(
    slot: LandingSlot,
    source: str,
    original_name: str,
    chunks: Iterable[bytes],
    sender: str | None,
    rejection: str | None,
    context: dict[str, str] | None = None,
) -> LandedFile:
    """Writes data then metadata into `slot`, each under a dot-prefixed temporary name, fsynced
    and renamed, then fsyncs the directory: once this returns, a crash loses nothing."""
    final = slot.landing_path
    directory = final.parent
    make_dirs_durably(directory)
    # Unique temporary names: two writers completing the same slot must not share one.
    scratch = uuid.uuid4().hex[:8]
    temporary = directory / f".{final.name}.{scratch}.tmp"
    sha256, size = _write_durably(temporary, chunks)
    temporary.rename(final)
    landed = LandedFile(
        ingest_id=slot.ingest_id,
        source=source,
        original_name=original_name,
        landing_path=str(final),
        received_at=slot.received_at,
        sha256=sha256,
        byte_size=size,
        sender=sender,
        rejection=rejection,
        context=context,
    )
    meta_temporary = directory / f".{final.name}{META_SUFFIX}.{scratch}.tmp"
    _write_durably(meta_temporary, [landed.to_json().encode("utf-8")])
    meta_temporary.rename(directory / f"{final.name}{META_SUFFIX}")
    fsync_dir(directory)
    return landed


def land_file(
    landing_root: str | Path,
    source: str,
    original: Path,
    sender: str | None = None,
) -> LandedFile:
    """Copies `original` unchanged into the landing zone and records its metadata."""
    slot = reserve_slot(landing_root, source, original.name)
    return _land_chunks(slot, source, original.name, _read_chunks(original), sender, None)


def land_bytes(
    landing_root: str | Path,
    source: str,
    name: str,
    data: bytes,
    sender: str | None = None,
    rejection: str | None = None,
    slot: LandingSlot | None = None,
    context: dict[str, str] | None = None,
) -> LandedFile:
    """Lands `data` (bytes received over the network) unchanged under the original name `name`.

    `rejection` records why a receiver refused the bytes it keeps for lineage; `context` what
    it knew of the delivery (see `LandedFile.context`). `slot` (from
    `reserve_slot`) lands into a place decided earlier, for example one recorded under an
    idempotency key before writing; landing the same bytes into one slot again is harmless.
    """
    slot = slot or reserve_slot(landing_root, source, name)
    return _land_chunks(slot, source, name, [data], sender, rejection, context)


def is_landed(landing_path: str | Path) -> bool:
    """True once the object at `landing_path` is complete (its metadata exists)."""
    return Path(f"{landing_path}{META_SUFFIX}").is_file()


def list_landed(landing_root: str | Path, source: str) -> list[LandedFile]:
    """Every file landed for `source`, in arrival order."""
    base = Path(landing_root) / source
    if not base.is_dir():
        return []
    landed = [
        LandedFile.from_json(meta.read_text(encoding="utf-8"))
        for meta in base.rglob(f"*{META_SUFFIX}")
        if not meta.name.startswith(".")
    ]
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
