"""Table leases on the real object store (SeaweedFS on loopback, started by infra/s3.sh): the
conditional put that makes each generation one writer's, waiting, release, expiry and takeover,
heartbeats and races. Each test leases tables under a lake prefix of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.lease import (
    LeaseLog,
    LeaseLost,
    LeasePolicy,
    LeaseRecord,
    LeaseUnavailable,
    TableLease,
    held_leases,
    lease_prefix,
    utc_now,
)
from meterlake.core.object_store import ObjectUrl, boto_client, credentials_from_env
from tests.helpers.object_store_server import ObjectStore

pytestmark = pytest.mark.slow

TABLE = "silver.readings"
# Quick polls, so a waiter notices a release within a fifth of a second.
QUICK = LeasePolicy(wait=timedelta(seconds=20), poll_first_s=0.02, poll_max_s=0.2)


@dataclass(frozen=True)
class Store:
    """The object store as the jobs identity (the one that writes the lake): its settings, the
    lake root it may write, a client, and the identity's environment."""

    settings: ObjectStoreSettings
    lake: ObjectUrl
    client: Any
    env: dict[str, str]


@pytest.fixture(scope="module")
def store(object_store: ObjectStore) -> Store:
    jobs = object_store["jobs"]
    settings = ObjectStoreSettings(endpoint=jobs["METERLAKE_S3_ENDPOINT"])
    return Store(settings, ObjectUrl.parse(jobs["METERLAKE_LAKE"]),
                 boto_client(settings, credentials_from_env(jobs)), jobs)


@pytest.fixture
def lake(store: Store) -> Iterator[str]:
    """A lake of the test's own, so that no two tests share a lease; emptied after."""
    root = store.lake.child("tests", f"lease-{uuid.uuid4().hex[:12]}")
    yield root.spark
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=root.bucket, Prefix=root.key + "/")
    for item in (item for page in pages for item in page.get("Contents", [])):
        store.client.delete_object(Bucket=root.bucket, Key=item["Key"])


def table_lease(store: Store, lake: str, job: str, policy: LeasePolicy = QUICK,
                **kwargs: Any) -> TableLease:
    log = LeaseLog(store.client, lease_prefix(lake, TABLE), TABLE)
    return TableLease(log, job, policy, **kwargs)


def stored(store: Store, lake: str, table: str = TABLE) -> list[LeaseRecord]:
    """Every record the store holds for `table`, by generation."""
    log = LeaseLog(store.client, lease_prefix(lake, table), table)
    return [r for r in map(log.read, log.generations()) if r is not None]


def summary(records: list[LeaseRecord]) -> list[tuple[int, str, str]]:
    return [(r.generation, r.state, r.job) for r in records]


def test_each_generation_is_created_once(store: Store, lake: str) -> None:
    log = LeaseLog(store.client, lease_prefix(lake, TABLE), TABLE)
    first = table_lease(store, lake, "first")._next(1, "held")
    second = table_lease(store, lake, "second")._next(1, "held")
    assert log.create(first) is True
    assert log.create(second) is False  # 412 from the server
    assert log.read(1) == first
    # A put retried after its first attempt landed also gets 412: the record read back is ours.
    assert log.create(first) is True
    assert log.generations() == [1]


def test_acquire_and_release_write_a_held_then_a_released_generation(store: Store,
                                                                     lake: str) -> None:
    with held_leases(store.settings, lake, [TABLE], "ingest", client=store.client) as leases:
        leases.check()
        (lease,) = leases.leases
        assert lease.record is not None and lease.record.generation == 1
        owner = lease.owner
    held, released = stored(store, lake)
    assert (held.generation, held.state, held.owner, held.job, held.host, held.pid) == \
        (1, "held", owner, "ingest", socket.gethostname(), os.getpid())
    assert held.expires_at - held.written_at == timedelta(minutes=10)
    assert (released.generation, released.state, released.owner) == (2, "released", owner)
    assert released.expires_at == released.written_at
    with pytest.raises(LeaseLost, match="no lease held"):
        lease.check()


def test_tables_are_leased_once_each_in_sorted_order(store: Store, lake: str) -> None:
    tables = ["silver.readings", "bronze.drops", "silver.readings", "gold.grid_daily"]
    with held_leases(store.settings, lake, tables, "ingest", client=store.client) as leases:
        assert [lease.table for lease in leases.leases] == \
            ["bronze.drops", "gold.grid_daily", "silver.readings"]
        leases.check("gold.grid_daily")
    for table in ("bronze.drops", "gold.grid_daily", "silver.readings"):
        assert summary(stored(store, lake, table)) == [(1, "held", "ingest"),
                                                       (2, "released", "ingest")]


def test_an_error_in_the_block_still_releases(store: Store, lake: str) -> None:
    with pytest.raises(ZeroDivisionError), \
            held_leases(store.settings, lake, [TABLE], "ingest", client=store.client):
        _ = 1 / 0
    assert summary(stored(store, lake)) == [(1, "held", "ingest"), (2, "released", "ingest")]


def test_second_writer_waits_and_gets_the_lease_right_after_release(store: Store,
                                                                     lake: str) -> None:
    events: list[tuple[str, int]] = []
    times: dict[str, float] = {}
    a_holds, b_waits = threading.Event(), threading.Event()

    def writer_a() -> None:
        with held_leases(store.settings, lake, [TABLE], "job-a", policy=QUICK,
                         client=store.client) as leases:
            events.append(("a holds", leases.leases[0].record.generation))
            a_holds.set()
            b_waits.wait()
            time.sleep(1.0)  # b polls all this time
            events.append(("a releases", 1))
            times["a releases"] = time.monotonic()

    def writer_b() -> None:
        a_holds.wait()
        times["b asks"] = time.monotonic()
        b_waits.set()
        with held_leases(store.settings, lake, [TABLE], "job-b", policy=QUICK,
                         client=store.client) as leases:
            times["b holds"] = time.monotonic()
            events.append(("b holds", leases.leases[0].record.generation))

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert events == [("a holds", 1), ("a releases", 1), ("b holds", 3)]
    assert times["b holds"] - times["b asks"] >= 1.0
    # The release is two requests after "a releases"; then b's next poll, at most 0.2 s away.
    assert times["b holds"] - times["a releases"] < 2.0
    assert summary(stored(store, lake)) == [
        (1, "held", "job-a"), (2, "released", "job-a"),
        (3, "held", "job-b"), (4, "released", "job-b"),
    ]


def test_eight_acquirers_of_a_free_lease_take_it_one_generation_each(store: Store,
                                                                     lake: str) -> None:
    policy = LeasePolicy(wait=timedelta(seconds=60), poll_first_s=0.02, poll_max_s=0.1,
                         keep_generations=100)
    start = threading.Barrier(8)
    lock = threading.Lock()
    holding, most_holding, acquired = [0], [0], {}

    def acquirer(job: str) -> None:
        lease = table_lease(store, lake, job, policy)
        start.wait()
        record = lease.acquire()
        with lock:
            holding[0] += 1
            most_holding[0] = max(most_holding[0], holding[0])
            acquired[job] = record.generation
        time.sleep(0.05)
        with lock:
            holding[0] -= 1
        lease.release()

    threads = [threading.Thread(target=acquirer, args=(f"job-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most_holding[0] == 1
    assert sorted(acquired.values()) == [1, 3, 5, 7, 9, 11, 13, 15]
    records = stored(store, lake)
    assert [r.generation for r in records] == list(range(1, 17))
    for held, released in zip(records[::2], records[1::2], strict=True):
        assert (held.state, released.state) == ("held", "released")
        assert held.owner == released.owner and acquired[held.job] == held.generation
    assert len({r.owner for r in records}) == 8


def test_an_expired_lease_is_taken_over_and_its_holder_has_lost_it(store: Store,
                                                                   lake: str) -> None:
    short = LeasePolicy(duration=timedelta(seconds=1), wait=timedelta(seconds=5),
                        poll_first_s=0.02, poll_max_s=0.2)
    stalled = table_lease(store, lake, "stalled", short)
    stalled.acquire()  # and no heartbeat: a writer that stopped renewing
    stalled.check()
    time.sleep(1.2)
    second = table_lease(store, lake, "second", short)
    asked = time.monotonic()
    assert second.acquire().generation == 2
    assert time.monotonic() - asked < 1.0  # taken over at once: no waiting for an expired lease
    with pytest.raises(LeaseLost, match=r"^silver\.readings: our lease \(generation 1\) was "
                                        r"taken over by job 'second' on host .* \(generation 2,"):
        stalled.check()
    assert stalled.renew() is False
    stalled.release()  # writes nothing: the lease is not its own
    second.release()
    assert summary(stored(store, lake)) == [(1, "held", "stalled"), (2, "held", "second"),
                                            (3, "released", "second")]


def test_an_unrenewed_lease_fails_its_check_once_expired(store: Store, lake: str) -> None:
    stalled = table_lease(store, lake, "stalled", LeasePolicy(duration=timedelta(seconds=1)))
    stalled.acquire()
    time.sleep(1.2)
    with pytest.raises(LeaseLost, match=r"our lease expired at .* unrenewed"):
        stalled.check()


def test_a_holder_whose_clock_lags_beyond_the_margin_sees_the_takeover(store: Store,
                                                                       lake: str) -> None:
    first = table_lease(store, lake, "first", LeasePolicy())
    first.acquire()
    # The second writer's clock is 11 minutes ahead: beyond the 10-minute lease, so to it the
    # lease has expired though the first writer's clock says it holds for 10 more minutes.
    ahead = table_lease(store, lake, "ahead", clock=lambda: utc_now() + timedelta(minutes=11))
    assert ahead.acquire().generation == 2
    with pytest.raises(LeaseLost, match="taken over by job 'ahead'"):
        first.check()


def test_the_heartbeat_keeps_a_short_lease_held(store: Store, lake: str) -> None:
    policy = LeasePolicy(duration=timedelta(seconds=1.5), wait=timedelta(seconds=20))
    with held_leases(store.settings, lake, [TABLE], "long-job", policy=policy,
                     client=store.client) as leases:
        time.sleep(3.2)  # twice the duration: renewed every 0.5 s
        leases.check()
        with pytest.raises(LeaseUnavailable, match="held by job 'long-job'"):
            table_lease(store, lake, "other", LeasePolicy(wait=timedelta(seconds=0.5))).acquire()
    records = stored(store, lake)
    assert [r.generation for r in records] == list(range(1, len(records) + 1))
    assert [r.state for r in records] == ["held"] * (len(records) - 1) + ["released"]
    assert len({r.owner for r in records}) == 1
    assert len(records) >= 5  # the first generation, at least 3 renewals, the release


def test_old_generations_are_pruned_to_the_last_eleven(store: Store, lake: str) -> None:
    for _ in range(12):
        with held_leases(store.settings, lake, [TABLE], "ingest", client=store.client):
            pass
    assert [r.generation for r in stored(store, lake)] == list(range(14, 25))


def test_a_failed_second_table_releases_the_first(store: Store, lake: str) -> None:
    holder = table_lease(store, lake, "holder")
    holder.acquire()
    with pytest.raises(LeaseUnavailable, match=r"^silver\.readings: lease held by job 'holder'"), \
            held_leases(store.settings, lake, ["silver.readings", "bronze.drops"], "both",
                        policy=LeasePolicy(wait=timedelta(seconds=0.3)), client=store.client):
        pass
    holder.release()
    assert summary(stored(store, lake, "bronze.drops")) == [(1, "held", "both"),
                                                            (2, "released", "both")]


HOLDER = textwrap.dedent("""
    import sys
    from meterlake.core.config import ObjectStoreSettings
    from meterlake.core.lease import held_leases
    store = ObjectStoreSettings(endpoint=sys.argv[1])
    with held_leases(store, sys.argv[2], ["silver.readings"], "holder-job") as leases:
        print(leases.leases[0].record.to_json().decode(), flush=True)
        sys.stdin.readline()
""")


def test_lease_unavailable_names_the_holder_in_another_process(store: Store, lake: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store.settings.endpoint or "", lake],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **store.env})
    assert holder.stdin is not None and holder.stdout is not None
    try:
        held = LeaseRecord.from_json(holder.stdout.readline().encode())
        assert (held.pid, held.job, held.generation) == (holder.pid, "holder-job", 1)
        with pytest.raises(LeaseUnavailable) as raised, \
                held_leases(store.settings, lake, [TABLE], "ingest",
                            policy=LeasePolicy(wait=timedelta(seconds=1)), client=store.client):
            pass
        until = held.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert str(raised.value) == (
            f"silver.readings: lease held by job 'holder-job' on host {socket.gethostname()} "
            f"pid {holder.pid} (generation 1, until {until}); waited 1 s")
        assert raised.value.table == TABLE
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    with held_leases(store.settings, lake, [TABLE], "ingest", client=store.client) as leases:
        assert leases.leases[0].record.generation == 3
