"""Unit tests for meterlake.core.lease: names, records, timing and the local no-op, without a
server. The conditional puts, the races and the heartbeat run against the real object store in
tests/integration/test_lease_object_store.py."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.lease import (
    HeldLeases,
    LeaseLog,
    LeaseLost,
    LeasePolicy,
    LeaseRecord,
    LeaseUnavailable,
    TableLease,
    held_leases,
    lease_prefix,
)
from meterlake.core.object_store import ObjectUrl

NOON = datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC)


class NoStore:
    """A client that fails the test on any request: the code under test must not ask."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the object store was asked ({name})")


def record(generation: int = 3, state: str = "held",
           expires_at: datetime = NOON) -> LeaseRecord:
    return LeaseRecord("silver.readings", generation, state, "owner-1", "ingest", "node-7", 4242,
                       expires_at, datetime(2026, 12, 7, 11, 50, tzinfo=UTC))


def lease(clock_at: datetime = NOON, policy: LeasePolicy | None = None) -> TableLease:
    log = LeaseLog(NoStore(), ObjectUrl("lake", "_leases/silver/readings"), "silver.readings")
    return TableLease(log, "ingest", policy or LeasePolicy(), clock=lambda: clock_at,
                      owner="owner-1")


def test_lease_prefix_is_under_the_lake_by_layer_and_table() -> None:
    assert lease_prefix("s3a://bucket/lakes/prod/", "silver.readings") == ObjectUrl(
        "bucket", "lakes/prod/_leases/silver/readings")
    assert lease_prefix("s3a://bucket", "gold.grid_daily") == ObjectUrl(
        "bucket", "_leases/gold/grid_daily")


@pytest.mark.parametrize("table", ["readings", "silver.", ".readings", "silver.a/b",
                                   "silver.a.b", "../x.y", ""])
def test_lease_prefix_refuses_what_is_not_layer_dot_name(table: str) -> None:
    with pytest.raises(ValueError, match="'<layer>.<name>'"):
        lease_prefix("s3a://bucket/lake", table)


def test_record_round_trips_through_json_in_milliseconds_utc() -> None:
    stored = record().to_json()
    assert json.loads(stored) == {
        "table": "silver.readings", "generation": 3, "state": "held", "owner": "owner-1",
        "job": "ingest", "host": "node-7", "pid": 4242,
        "expires_at": "2026-12-07T12:00:00.123Z", "written_at": "2026-12-07T11:50:00.000Z",
    }
    assert LeaseRecord.from_json(stored) == record(
        expires_at=NOON.replace(microsecond=123000))


def test_record_from_another_zone_is_stored_in_utc() -> None:
    paris = datetime(2026, 12, 7, 13, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert json.loads(record(expires_at=paris).to_json())["expires_at"] == \
        "2026-12-07T13:00:00.000Z"


@pytest.mark.parametrize(("state", "expires_at", "free"), [
    ("held", NOON + timedelta(milliseconds=1), False),
    ("held", NOON, False),  # expires_at < now: at the instant itself it still holds
    ("held", NOON - timedelta(milliseconds=1), True),
    ("released", NOON + timedelta(minutes=10), True),
])
def test_a_record_is_free_once_released_or_expired(state: str, expires_at: datetime,
                                                   free: bool) -> None:
    assert record(state=state, expires_at=expires_at).is_free(NOON) is free


def test_holder_names_job_host_pid_generation_and_expiry() -> None:
    assert record().holder == ("job 'ingest' on host node-7 pid 4242 "
                               "(generation 3, until 2026-12-07T12:00:00.123Z)")


def test_poll_delay_doubles_to_the_ceiling_with_half_to_full_jitter() -> None:
    policy = LeasePolicy(poll_first_s=0.1, poll_max_s=1.0)
    assert [policy.poll_delay(n, lambda: 1.0) for n in range(6)] == \
        pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert [policy.poll_delay(n, lambda: 0.0) for n in range(6)] == \
        pytest.approx([0.05, 0.1, 0.2, 0.4, 0.5, 0.5])
    assert policy.poll_delay(10_000, lambda: 1.0) == pytest.approx(1.0)


def test_default_policy_renews_well_inside_the_duration() -> None:
    policy = LeasePolicy()
    assert policy.duration == timedelta(minutes=10)
    assert policy.wait > policy.duration  # a dead holder's lease expires within the wait


def test_next_record_is_ours_in_milliseconds_and_expires_after_the_duration() -> None:
    policy = LeasePolicy(duration=timedelta(seconds=90))
    held = lease(policy=policy)._next(5, "held")
    at = NOON.replace(microsecond=123000)
    assert held == LeaseRecord("silver.readings", 5, "held", "owner-1", "ingest",
                               socket.gethostname(), os.getpid(), at + timedelta(seconds=90), at)
    assert LeaseRecord.from_json(held.to_json()) == held
    released = lease(policy=policy)._next(6, "released")
    assert (released.state, released.expires_at) == ("released", at)


def test_check_without_a_lease_raises_lease_lost_without_asking_the_store() -> None:
    with pytest.raises(LeaseLost, match=r"^silver\.readings: no lease held$"):
        lease().check()


def test_renew_and_release_without_a_lease_do_nothing() -> None:
    unheld = lease()
    assert unheld.renew() is False
    unheld.release()
    assert unheld.record is None


def test_errors_name_the_table_first() -> None:
    error = LeaseUnavailable("silver.readings", f"lease held by {record().holder}")
    assert str(error).startswith("silver.readings: lease held by job 'ingest' on host node-7")
    assert error.table == "silver.readings"
    assert isinstance(LeaseLost("gold.x", "gone"), RuntimeError)


def test_held_leases_on_a_local_lake_takes_nothing(tmp_path: Path) -> None:
    with held_leases(ObjectStoreSettings(), str(tmp_path / "lake"),
                     ["silver.readings", "gold.grid"], "ingest", client=NoStore()) as leases:
        assert leases == HeldLeases(())
        leases.check()
        leases.check("silver.readings")
    assert not (tmp_path / "lake").exists()


def test_held_leases_checks_table_names_on_a_local_lake_too(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'readings'"), \
            held_leases(ObjectStoreSettings(), str(tmp_path), ["readings"], "ingest"):
        pass
