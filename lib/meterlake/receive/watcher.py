"""A directory watcher: picks up files once completely written, lands them, has them loaded
in small batches, and moves each to processed/ or rejected/ with a reason file beside it.

A file is complete when its size and modification time did not change between two polls.
Restarts are safe: a file already landed (same name and sha256) is not landed again, and its
fate is asked again of `load` (which reads it back from `ops.ingest_log`), so a crash between
any two steps loads nothing twice. No Spark here: `load` is handed in by whoever runs the
watcher (`meterlake watch` passes the bronze ingest and the snapshot).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meterlake.core.config import ObjectStoreSettings
from meterlake.receive.landing import LOADED, LandedFile, land_file, list_landed

PROCESSED, REJECTED = "processed", "rejected"
log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# Loads everything landed and pending, then answers the outcome and reason of each given
# landing id whose load is decided (an id missing from the answer is loaded by a later call).
Load = Callable[[list[str]], dict[str, tuple[str, str | None]]]


@dataclass
class Watcher:
    landing_root: str
    source: str
    inbox: Path
    load: Load
    batch_size: int = 20
    # Where an s3a:// landing root is served (the settings' object_store); None for a path.
    object_store: ObjectStoreSettings | None = None
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def _complete_files(self) -> list[Path]:
        """Files whose size and mtime are unchanged since the previous poll, in name order."""
        current = {
            p.name: (p.stat().st_size, p.stat().st_mtime_ns)
            for p in self.inbox.iterdir() if p.is_file() and not p.name.startswith(".")
        }
        stable = sorted(n for n, shape in current.items() if self._seen.get(n) == shape)
        self._seen = current
        return [self.inbox / name for name in stable]

    def _landed(self, paths: list[Path]) -> dict[Path, LandedFile]:
        """Lands each file unless an earlier run already did (same name and content)."""
        already = {(f.original_name, f.sha256): f for f in list_landed(
            self.landing_root, self.source, object_store=self.object_store)}
        landed = {}
        for path in paths:
            existing = already.get((path.name, _sha256(path)))
            landed[path] = existing or land_file(
                self.landing_root, self.source, path, sender="watcher",
                object_store=self.object_store,
            )
        return landed

    def _move(self, path: Path, outcome: str, reason: str | None) -> None:
        target = self.inbox / (PROCESSED if outcome == LOADED else REJECTED)
        target.mkdir(exist_ok=True)
        name = path.name
        if (target / name).exists():
            # The same name delivered again: keep both (the bytes are also in the landing zone).
            name = f"{path.name}.{time.time_ns()}"
        if outcome != LOADED:
            (target / f"{name}.reason.txt").write_text(f"{outcome}: {reason}\n")
        shutil.move(str(path), target / name)

    def poll(self) -> int:
        """One pass: load and move up to `batch_size` complete files; returns how many."""
        complete = self._complete_files()
        paths = complete[: self.batch_size]
        if not paths:
            return 0
        started = time.monotonic()
        landed = self._landed(paths)
        landed_at = time.monotonic()
        outcomes = self.load([f.ingest_id for f in landed.values()])
        # One line per poll that took files: the cycle's cost and the backlog it left, what an
        # operator watches to see whether the watcher keeps up with the senders.
        log.info("poll: %d files taken, %d complete files left waiting; landed in %.2f s, "
                 "loaded in %.2f s", len(paths), len(complete) - len(paths),
                 landed_at - started, time.monotonic() - landed_at)
        for path, landed_file in landed.items():
            if landed_file.ingest_id not in outcomes:
                # Landed after a crashed batch that this poll resumed: the next poll loads it.
                continue
            outcome, reason = outcomes[landed_file.ingest_id]
            log.info("%s: %s %s", path.name, outcome, reason or "")
            self._move(path, outcome, reason)
        return len(paths)

    def run(self, interval_seconds: float, max_polls: int | None = None) -> None:
        """Polls every `interval_seconds` from the start of one poll to the start of the next
        (a poll that took longer is followed at once), until stopped or `max_polls` passes."""
        log.info("watching %s for %s, a poll every %g s", self.inbox, self.source,
                 interval_seconds)
        polls = 0
        while max_polls is None or polls < max_polls:
            started = time.monotonic()
            self.poll()
            polls += 1
            # Sleeping a whole interval after the load made the period interval + load time, so
            # every file waited a load longer than the interval the operator chose.
            time.sleep(max(0.0, interval_seconds - (time.monotonic() - started)))
