"""The landing zone on a local (or mounted) filesystem: the `LandingStore` of a plain path.

Every object is written completely and fsynced under a unique dot-prefixed temporary name, then
hard-linked to its final name: a link fails when the name exists, so nothing is ever overwritten
and a half-written object is never visible under its final name. New directories are fsynced
into their parents, and an object's directory is fsynced once its metadata is linked.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

_CHUNK_BYTES = 1 << 20


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


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _temporary(final: Path) -> Path:
    # Unique temporary names: two writers completing the same slot must not share one.
    return final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"


def _link_once(final: Path, chunks: Iterable[bytes]) -> tuple[str, int, bool]:
    """Writes `chunks` to a temporary file and links it to `final`: (sha256, size, whether the
    link was made); False when `final` already existed (it is left as it was)."""
    temporary = _temporary(final)
    try:
        sha256, size = _write_durably(temporary, chunks)
        try:
            os.link(temporary, final)
        except FileExistsError:
            return sha256, size, False
        return sha256, size, True
    finally:
        temporary.unlink(missing_ok=True)


class LocalLandingStore:
    """Landing on a filesystem path; see the module docstring for the guarantees."""

    def join(self, root: str | Path, *parts: str) -> str:
        return str(Path(root).joinpath(*parts))

    def write_once(self, path: str, chunks: Callable[[], Iterable[bytes]]) -> tuple[str, int]:
        """Writes the bytes unless `path` holds them already; (sha256, byte size). Raises
        FileExistsError when `path` holds other bytes."""
        final = Path(path)
        make_dirs_durably(final.parent)
        sha256, size, linked = _link_once(final, chunks())
        if not linked:
            existing, _ = _sha256_of(final)
            if existing != sha256:
                raise FileExistsError(f"{path}: already holds other bytes (sha256 {existing}); "
                                      "a landed object is never overwritten")
        return sha256, size

    def create_once(self, path: str, content: bytes) -> bytes | None:
        """Creates `path` holding `content` and fsyncs its directory: None, or when `path`
        existed, what it holds (unchanged)."""
        final = Path(path)
        make_dirs_durably(final.parent)
        _, _, linked = _link_once(final, [content])
        if not linked:
            return final.read_bytes()
        fsync_dir(final.parent)
        return None

    def exists(self, path: str) -> bool:
        return Path(path).is_file()

    def read(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def read_all(self, directory: str, suffix: str) -> list[bytes]:
        """The content of every file under `directory` whose name ends in `suffix` (temporary,
        dot-prefixed names excluded)."""
        base = Path(directory)
        if not base.is_dir():
            return []
        return [found.read_bytes() for found in base.rglob(f"*{suffix}")
                if not found.name.startswith(".")]
