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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def land_file(
    landing_root: str | Path,
    source: str,
    original: Path,
    sender: str | None = None,
) -> LandedFile:
    """Copies `original` unchanged into the landing zone and records its metadata."""
    received_at = ARRIVAL_CLOCK.now()
    ingest_id = uuid.uuid4().hex
    safe_name = _SAFE_NAME.sub("_", original.name)
    directory = Path(landing_root) / source / received_at.strftime("%Y/%m/%d")
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{received_at.strftime('%Y%m%dT%H%M%S.%fZ')}_{ingest_id}_{safe_name}"
    temporary = directory / f".{final.name}.tmp"
    sha256, size = _write_durably(temporary, _read_chunks(original))
    temporary.rename(final)
    landed = LandedFile(
        ingest_id=ingest_id,
        source=source,
        original_name=original.name,
        landing_path=str(final),
        received_at=received_at,
        sha256=sha256,
        byte_size=size,
        sender=sender,
    )
    meta_temporary = directory / f".{final.name}{META_SUFFIX}.tmp"
    _write_durably(meta_temporary, [landed.to_json().encode("utf-8")])
    meta_temporary.rename(directory / f"{final.name}{META_SUFFIX}")
    _fsync_dir(directory)
    return landed


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
