"""The landing zone on a local (or mounted) filesystem: the `LandingStore` of a plain path.

Every object is written completely and fsynced under a unique dot-prefixed temporary name, then
hard-linked to its final name: a link fails when the name exists, so nothing is ever overwritten
and a half-written object is never visible under its final name. New directories are fsynced
into their parents, and an object's directory is fsynced once its metadata is linked.

That last fsync is a group commit, as databases do with their log: the threads of a process
that linked names into one directory share one fsync of it (`DirectorySync`), and each returns
only once an fsync that began after its own link has completed. Under load a request costs two
file fsyncs (its data and its metadata) and a share of one directory fsync, instead of three.
"""

from __future__ import annotations

import hashlib
import os
import threading
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


class _Batch:
    """The callers one directory fsync covers: those that asked before it began."""

    def __init__(self) -> None:
        self.callers = 0
        self.done = False
        self.error: BaseException | None = None


class _Directory:
    def __init__(self, lock: threading.Lock) -> None:
        self.pending = _Batch()  # covered by the next fsync to begin
        self.syncing = False
        self.changed = threading.Condition(lock)


class DirectorySync:
    """Group commit of directory fsyncs: `sync(d)` returns once an fsync of `d` that began after
    the call did has completed, and raises that fsync's error if it failed.

    Callers arriving while an fsync of `d` runs join the next batch; when the running fsync
    ends, one of them (the leader) fsyncs for the whole batch, the others wait for it. So a
    directory is fsynced at most once at a time, and a caller waits at most for the end of one
    fsync and the whole of the next. `fsync_directory` is what fsyncs (a test records the order
    of events, or fails it as a disk could).
    """

    def __init__(self, fsync_directory: Callable[[Path], None] = fsync_dir) -> None:
        self._fsync_directory = fsync_directory
        self._lock = threading.Lock()
        # A few entries a day: one per day directory and idempotency subfolder written to.
        self._directories: dict[Path, _Directory] = {}

    def sync(self, directory: Path) -> None:
        with self._lock:
            state = self._directories.setdefault(directory, _Directory(self._lock))
            batch = state.pending
            batch.callers += 1
            while not batch.done:
                if state.syncing:
                    state.changed.wait()
                else:
                    self._lead(directory, state)
        if batch.error is not None:
            # A copy per caller: one exception object raised in many threads at once would
            # collect all their tracebacks.
            failed = batch.error
            if isinstance(failed, OSError):
                raise OSError(failed.errno, failed.strerror, failed.filename) from failed
            raise OSError(f"fsync of {directory} failed: {failed!r}") from failed

    def waiting(self, directory: Path) -> int:
        """How many callers the next fsync of `directory` covers so far."""
        with self._lock:
            state = self._directories.get(directory)
            return 0 if state is None else state.pending.callers

    def _lead(self, directory: Path, state: _Directory) -> None:
        """Fsyncs for the pending batch; called and returns with the lock held."""
        batch, state.pending, state.syncing = state.pending, _Batch(), True
        self._lock.release()
        try:
            self._fsync_directory(directory)
        except BaseException as error:  # whatever it was, the batch is not durable
            batch.error = error
        finally:
            self._lock.acquire()
            batch.done, state.syncing = True, False
            state.changed.notify_all()


# One per process: every landing thread of a receiver shares it.
DIRECTORY_SYNC = DirectorySync()


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

    def __init__(self, directory_sync: DirectorySync | None = None) -> None:
        self._directory_sync = directory_sync or DIRECTORY_SYNC

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
        """Creates `path` holding `content` and fsyncs its directory (with the other threads
        that linked names into it meanwhile): None, or when `path` existed, what it holds
        (unchanged)."""
        final = Path(path)
        make_dirs_durably(final.parent)
        _, _, linked = _link_once(final, [content])
        if not linked:
            return final.read_bytes()
        self._directory_sync.sync(final.parent)
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
