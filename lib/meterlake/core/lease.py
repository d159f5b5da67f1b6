"""One writer per table on object storage: a lease, taken before writing and released after.

Delta's S3 log store (S3SingleDriverLogStore) is single-writer per table: two jobs committing to
one table at once can overwrite each other's commit. A lease is the only thing that keeps a
second job out. Its state is an append-only sequence of records, one object per generation,

    <lake>/_leases/<layer>/<table>/<generation:012d>.json

each created with a conditional put (`IfNoneMatch="*"`: the server answers 412 when the key
exists), so each generation has exactly one author and needs no conditional delete. The highest
generation is the current state: held by a job (job, host, pid, expiry) or released. Acquiring
writes generation g+1 when g is released or expired; renewing writes g+1 over one's own g;
releasing writes g+1 marked released. A holder that finds another's generation above its own has
lost the lease; `check()` says so before each commit. Generations more than `keep_generations`
below the newest are deleted, best-effort.

Local-disk lakes need no lease: Delta's local log store commits with an atomic rename that does
not overwrite, so `held_leases` on a local lake does nothing and callers do not branch.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.instants import to_millis
from meterlake.core.object_store import (
    ObjectStoreError,
    ObjectUrl,
    boto_client,
    explain,
    is_object_store,
)

log = logging.getLogger(__name__)

HELD, RELEASED = "held", "released"
_RECORD_NAME = re.compile(r"^([0-9]{12})\.json$")
_NAME_PART = re.compile(r"^[A-Za-z0-9_-]+$")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LeaseError(RuntimeError):
    """A table's lease could not be taken or was lost."""

    def __init__(self, table: str, message: str) -> None:
        super().__init__(f"{table}: {message}")
        self.table = table


class LeaseUnavailable(LeaseError):  # noqa: N818 -- the names callers catch
    """Another job held the table's lease for the whole wait."""


class LeaseLost(LeaseError):  # noqa: N818
    """This job's lease expired or was taken over: it must not commit to the table."""


@dataclass(frozen=True)
class LeasePolicy:
    # Expiry is written by the holder's UTC clock and read by the others' clocks. The holder
    # renews every duration/3, so a live lease always has at least 2/3 of `duration` (6 min 40 s
    # by default) left: another writer takes it over early only if its clock is ahead of the
    # holder's by more than that, far beyond the skew of NTP-synchronised hosts (milliseconds).
    duration: timedelta = timedelta(minutes=10)
    # Longer than `duration`, so a job waits out the lease of a writer that died without releasing.
    wait: timedelta = timedelta(minutes=15)
    poll_first_s: float = 0.1
    poll_max_s: float = 1.0
    keep_generations: int = 10

    def poll_delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds before poll `attempt` (0, 1, ...): doubling up to `poll_max_s`, with jitter
        (half to all of it) so that waiters do not poll in step."""
        ceiling = min(self.poll_max_s, self.poll_first_s * 2 ** min(attempt, 30))
        return ceiling * (0.5 + rand() / 2)


@dataclass(frozen=True)
class LeaseRecord:
    """One generation of a table's lease: who wrote it, and until when it holds."""

    table: str
    generation: int
    state: str
    owner: str  # one lease object's random id: the same job, host and pid may hold two
    job: str
    host: str
    pid: int
    expires_at: datetime
    written_at: datetime

    def is_free(self, now: datetime) -> bool:
        return self.state == RELEASED or self.expires_at < now

    @property
    def holder(self) -> str:
        return (f"job {self.job!r} on host {self.host} pid {self.pid} "
                f"(generation {self.generation}, until {_text(self.expires_at)})")

    def to_json(self) -> bytes:
        fields = {**self.__dict__, "expires_at": _text(self.expires_at),
                  "written_at": _text(self.written_at)}
        return json.dumps(fields, sort_keys=True).encode()

    @staticmethod
    def from_json(data: bytes) -> LeaseRecord:
        fields = json.loads(data)
        return LeaseRecord(**{**fields, "expires_at": datetime.fromisoformat(fields["expires_at"]),
                              "written_at": datetime.fromisoformat(fields["written_at"])})


def _text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lease_prefix(lake_root: str, table: str) -> ObjectUrl:
    """Where the records of `table` ("<layer>.<name>") live under an s3a:// lake."""
    layer, _, name = table.partition(".")
    if not (_NAME_PART.match(layer) and _NAME_PART.match(name)):
        raise ValueError(f"{table!r}: a lease names a table as '<layer>.<name>'")
    return ObjectUrl.parse(lake_root).child("_leases", layer, name)


class LeaseLog:
    """The lease records of one table on the object store."""

    def __init__(self, client: Any, prefix: ObjectUrl, table: str) -> None:
        self.client, self.prefix, self.table = client, prefix, table

    def _key(self, generation: int) -> str:
        return self.prefix.child(f"{generation:012d}.json").key

    def _failed(self, error: Exception) -> ObjectStoreError:
        return ObjectStoreError(f"lease of {self.table}: {explain(error, self.prefix.spark)}")

    def generations(self) -> list[int]:
        """Every generation stored, ascending."""
        found = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.prefix.bucket, Prefix=self.prefix.key + "/")
            for page in pages:
                for item in page.get("Contents", []):
                    match = _RECORD_NAME.match(item["Key"].rpartition("/")[2])
                    if match:
                        found.append(int(match.group(1)))
        except Exception as error:
            raise self._failed(error) from error
        return sorted(found)

    def read(self, generation: int) -> LeaseRecord | None:
        try:
            body = self.client.get_object(Bucket=self.prefix.bucket, Key=self._key(generation))
            return LeaseRecord.from_json(body["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as error:
            raise self._failed(error) from error

    def newest(self) -> tuple[LeaseRecord | None, list[int]]:
        """The current record (None on a table never leased) and the generations listed."""
        while True:
            generations = self.generations()
            if not generations:
                return None, generations
            record = self.read(generations[-1])
            if record is not None:  # else pruned between list and read: list again
                return record, generations

    def create(self, record: LeaseRecord) -> bool:
        """Writes `record` unless its generation exists; False when another writer's does."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.prefix.bucket, Key=self._key(record.generation),
                                   Body=record.to_json(), ContentType="application/json",
                                   IfNoneMatch="*")
            return True
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # 409: AWS's answer to two conditional puts of one key in flight at once.
            if status not in (409, 412):
                raise self._failed(error) from error
        except Exception as error:
            raise self._failed(error) from error
        # A retried put whose first attempt landed also gets 412: then the record is ours.
        return self.read(record.generation) == record

    def prune(self, generations: list[int], below: int) -> None:
        for generation in (g for g in generations if g < below):
            try:
                self.client.delete_object(Bucket=self.prefix.bucket, Key=self._key(generation))
            except Exception as error:  # best-effort: the next renewal prunes again
                log.warning("could not delete an old lease record: %s", self._failed(error))


DEFAULT_POLICY = LeasePolicy()


class TableLease:
    """One job's lease on one table: `acquire`, renewed by `start_heartbeat`'s thread, `check`
    before each commit, `release` at the end."""

    def __init__(self, records: LeaseLog, job: str, policy: LeasePolicy = DEFAULT_POLICY, *,
                 clock: Clock = utc_now, owner: str | None = None) -> None:
        self.records, self.job, self.policy, self.clock = records, job, policy, clock
        self.owner = owner or uuid.uuid4().hex
        self.table = records.table
        self._lock = threading.Lock()  # one writer of this lease's generations at a time
        self._record: LeaseRecord | None = None  # our newest generation while we hold it
        self._lost: str | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @property
    def record(self) -> LeaseRecord | None:
        return self._record

    def _next(self, generation: int, state: str) -> LeaseRecord:
        # Milliseconds, as the record is stored, so what we wrote equals what we read back.
        now = to_millis(self.clock().astimezone(UTC))
        expires_at = now + self.policy.duration if state == HELD else now
        return LeaseRecord(self.table, generation, state, self.owner, self.job,
                           socket.gethostname(), os.getpid(), expires_at, now)

    def _is_ours(self, record: LeaseRecord | None) -> bool:
        return (record is not None and self._record is not None and record.owner == self.owner
                and record.generation == self._record.generation)

    def acquire(self) -> LeaseRecord:
        """Takes the lease, waiting up to `policy.wait` while another job holds it."""
        deadline = time.monotonic() + self.policy.wait.total_seconds()
        attempt = 0
        while True:
            current, generations = self.records.newest()
            free = current is None or current.is_free(self.clock())
            if free:
                mine = self._next(current.generation + 1 if current else 1, HELD)
                # The listing after the put catches a stale generation pruned and written again.
                if (self.records.create(mine)
                        and self.records.generations()[-1] == mine.generation):
                    with self._lock:
                        self._record, self._lost = mine, None
                    self.records.prune(generations, mine.generation - self.policy.keep_generations)
                    return mine
                if time.monotonic() < deadline:
                    continue  # another writer took that generation: read who
            if time.monotonic() >= deadline:
                who = "lost every race for it" if free or current is None else \
                    f"held by {current.holder}"
                raise LeaseUnavailable(self.table, f"lease {who}; waited "
                                                   f"{self.policy.wait.total_seconds():g} s")
            time.sleep(self.policy.poll_delay(attempt))
            attempt += 1

    def _lose(self, mine: LeaseRecord, current: LeaseRecord | None) -> None:
        taken = f"taken over by {current.holder}" if current else "deleted"
        self._lost = f"our lease (generation {mine.generation}) was {taken}"

    def renew(self) -> bool:
        """Writes our next generation with a new expiry; False once the lease is lost."""
        with self._lock:
            mine = self._record
            if mine is None or self._lost is not None:
                return False
            current, generations = self.records.newest()
            if not self._is_ours(current):
                self._lose(mine, current)
                return False
            renewed = self._next(mine.generation + 1, HELD)
            if not self.records.create(renewed):
                self._lose(mine, self.records.read(renewed.generation))
                return False
            self._record = renewed
        self.records.prune(generations, renewed.generation - self.policy.keep_generations)
        return True

    def check(self) -> None:
        """Raises LeaseLost unless we still hold the lease, asking the store: call it before
        each commit."""
        with self._lock:
            mine = self._record
            if mine is None:
                raise LeaseLost(self.table, "no lease held")
            if self._lost is None:
                current, _ = self.records.newest()
                if not self._is_ours(current):
                    self._lose(mine, current)
                elif mine.expires_at <= self.clock():
                    # Still the newest, but free for the taking: do not commit on it.
                    self._lost = f"our lease expired at {_text(mine.expires_at)} unrenewed"
            if self._lost is not None:
                raise LeaseLost(self.table, self._lost)

    def start_heartbeat(self) -> None:
        """Renews every third of the lease's duration, on a daemon thread, until release."""
        self._stop.clear()
        self._heartbeat = threading.Thread(
            target=self._beat, args=(self.policy.duration.total_seconds() / 3,),
            name=f"lease {self.table}", daemon=True)
        self._heartbeat.start()

    def _beat(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                if not self.renew():
                    log.warning("%s: %s", self.table, self._lost)
                    return
            except ObjectStoreError as error:
                # Tried again at the next beat; two misses in a row leave a third of the
                # duration, and check() refuses a commit once the lease has expired.
                log.warning("could not renew a lease: %s", error)

    def release(self) -> None:
        """Stops the heartbeat and writes a released generation, if we still hold the lease.
        Best-effort: a lease not released expires after `policy.duration`."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        with self._lock:
            mine = self._record
            if mine is None or self._lost is not None:
                self._record = None
                return
            try:
                current, generations = self.records.newest()
                if self._is_ours(current):
                    released = self._next(mine.generation + 1, RELEASED)
                    if self.records.create(released):
                        self.records.prune(generations,
                                           released.generation - self.policy.keep_generations)
            except ObjectStoreError as error:
                log.warning("could not release a lease; it expires at %s: %s",
                            _text(mine.expires_at), error)
            finally:
                self._record = None


@dataclass(frozen=True)
class HeldLeases:
    """The leases a job holds for one block; none on a local lake."""

    leases: tuple[TableLease, ...] = ()

    def check(self, table: str | None = None) -> None:
        """Raises LeaseLost unless every lease (or the one of `table`) is still ours."""
        for lease in self.leases:
            if table is None or lease.table == table:
                lease.check()


@contextmanager
def held_leases(store: ObjectStoreSettings, lake_root: str, tables: Iterable[str], job: str, *,
                policy: LeasePolicy = DEFAULT_POLICY, client: Any = None,
                clock: Clock = utc_now) -> Iterator[HeldLeases]:
    """The leases of `tables` ("<layer>.<name>") for the block, taken in sorted order so that
    jobs sharing tables cannot deadlock, and released on the way out, also on an error.
    On a local-disk lake it takes nothing (see the module docstring)."""
    names = sorted(set(tables))
    for table in names:
        lease_prefix("s3a://lake", table)  # every name checked before anything is taken
    if not is_object_store(lake_root):
        yield HeldLeases()
        return
    client = client or boto_client(store)
    with ExitStack() as stack:
        leases = []
        for table in names:
            lease = TableLease(LeaseLog(client, lease_prefix(lake_root, table), table), job,
                               policy, clock=clock)
            lease.acquire()
            stack.callback(lease.release)
            lease.start_heartbeat()
            leases.append(lease)
        yield HeldLeases(tuple(leases))
