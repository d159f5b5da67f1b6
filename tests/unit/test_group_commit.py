"""Group commit of directory fsyncs: concurrent landings share one fsync of their directory, and
neither a landing nor the 202 of POST /v1/dropzone comes before the fsync that covers it.

The fsync of the directory is injected (`DirectorySync(fsync_directory)`): it records what the
directory held when each fsync began, holds the first one until the test lets it go, and can
fail as a disk could. Every other write is real, on `tmp_path`.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from meterlake.receive import local_landing
from meterlake.receive.http_auth import parse_api_keys
from meterlake.receive.http_ingest import HttpSettings, ingest_router
from meterlake.receive.landing import META_SUFFIX, read_landed
from meterlake.receive.local_landing import DirectorySync, LocalLandingStore, fsync_dir

DATA = b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.5]}'
CONCURRENT = 8
WAIT_SECONDS = 30


@dataclass
class HeldFsync:
    """A directory fsync that logs ("began", names present) and ("ended", same names), holds
    the first fsync until `release`, and fails every fsync after the first when `fail_after_first`
    (EIO, as a disk reports a lost write)."""

    fail_after_first: bool = False
    log: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    first_began: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __call__(self, directory: Path) -> None:
        names = frozenset(os.listdir(directory))
        first = not self.first_began.is_set()
        self.log.append(("began", names))
        if first:
            self.first_began.set()
            self.release.wait(WAIT_SECONDS)
        elif self.fail_after_first:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(directory))
        fsync_dir(directory)
        self.log.append(("ended", names))

    def fsyncs(self) -> list[frozenset[str]]:
        return [names for event, names in self.log if event == "began"]


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS} s: {what}")
        time.sleep(0.01)


def _hold_then_release(fsync: HeldFsync, sync: DirectorySync, directory: Callable[[], Path],
                       first: Callable[[], Future[object]],
                       rest: Callable[[], list[Future[object]]]) -> list[Future[object]]:
    """Starts one call, holds its directory fsync, starts the others, and lets the fsync go
    once all of them wait for the next one; asserts that none returned meanwhile."""
    started = [first()]
    assert fsync.first_began.wait(WAIT_SECONDS)
    started += rest()
    _wait_until(lambda: sync.waiting(directory()) == len(started) - 1,
                "every other call waits for the next fsync")
    assert [f for f in started if f.done()] == []
    fsync.release.set()
    return started


def _covered_before(log: list[tuple[str, frozenset[str]]], answered_at: int, name: str) -> bool:
    """Whether an fsync that began with `name` in its directory ended before log index
    `answered_at`."""
    return any(event == "ended" and name in names for event, names in log[:answered_at])


def test_one_fsync_covers_every_name_linked_while_the_previous_one_ran(tmp_path: Path) -> None:
    fsync = HeldFsync()
    sync = DirectorySync(fsync)
    store = LocalLandingStore(sync)

    def create(name: str) -> object:
        created = store.create_once(str(tmp_path / name), name.encode())
        fsync.log.append(("returned", frozenset([name])))
        return created

    names = [f"{n}.meta.json" for n in range(CONCURRENT)]
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        calls = _hold_then_release(
            fsync, sync, lambda: tmp_path, lambda: pool.submit(create, names[0]),
            lambda: [pool.submit(create, n) for n in names[1:]])
        assert [c.result(WAIT_SECONDS) for c in calls] == [None] * CONCURRENT

    # Two fsyncs for eight names: the held one (the first name), then one for the other seven.
    assert len(fsync.fsyncs()) == 2
    assert names[0] in fsync.fsyncs()[0] and set(names) <= fsync.fsyncs()[1]
    for name in names:
        returned = fsync.log.index(("returned", frozenset([name])))
        assert _covered_before(fsync.log, returned, name), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_a_failed_fsync_fails_every_call_it_covered(tmp_path: Path) -> None:
    fsync = HeldFsync(fail_after_first=True)
    sync = DirectorySync(fsync)
    store = LocalLandingStore(sync)
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        calls = _hold_then_release(
            fsync, sync, lambda: tmp_path,
            lambda: pool.submit(store.create_once, str(tmp_path / "0"), b"0"),
            lambda: [pool.submit(store.create_once, str(tmp_path / str(n)), b"n")
                     for n in range(1, CONCURRENT)])
        assert calls[0].result(WAIT_SECONDS) is None
        for call in calls[1:]:
            with pytest.raises(OSError, match="Input/output error") as failed:
                call.result(WAIT_SECONDS)
            assert failed.value.errno == errno.EIO
    assert len(fsync.fsyncs()) == 2


# --- the same through POST /v1/dropzone (the app in process, its threadpool, a real disk)


def _installed(fsync: HeldFsync, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[tuple[HeldFsync, DirectorySync]]:
    """`fsync` as the directory fsync of every local landing in this process; released at the
    end, so that a failing test leaves no thread waiting on it."""
    sync = DirectorySync(fsync)
    monkeypatch.setattr(local_landing, "DIRECTORY_SYNC", sync)
    yield fsync, sync
    fsync.release.set()


@pytest.fixture
def held_fsync(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HeldFsync, DirectorySync]]:
    yield from _installed(HeldFsync(), monkeypatch)


@pytest.fixture
def failing_fsync(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HeldFsync, DirectorySync]]:
    yield from _installed(HeldFsync(fail_after_first=True), monkeypatch)


def _client(landing_root: Path) -> TestClient:
    app = FastAPI()
    keys = parse_api_keys("ingest-secret:ingest")
    app.state.http = HttpSettings("/unused-lake", str(landing_root), keys)
    app.state.api_keys = keys
    app.include_router(ingest_router())
    return TestClient(app, base_url="http://meterlake.test")


def _day_directory(landing_root: Path) -> Path:
    days = list((landing_root / "dropzone").glob("*/*/*"))
    return days[0] if days else landing_root / "no-day-yet"


def test_no_202_before_the_directory_fsync_that_covers_it(
    tmp_path: Path, held_fsync: tuple[HeldFsync, DirectorySync]
) -> None:
    fsync, sync = held_fsync
    answers: list[tuple[int, str]] = []

    def post(client: TestClient) -> None:
        answer = client.post("/v1/dropzone", content=DATA,
                             headers={"Authorization": "Bearer ingest-secret"})
        answers.append((answer.status_code, answer.json()["landing_id"]))
        fsync.log.append(("answered", frozenset([answer.json()["landing_id"]])))

    with _client(tmp_path) as client, ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        calls = _hold_then_release(
            fsync, sync, lambda: _day_directory(tmp_path), lambda: pool.submit(post, client),
            lambda: [pool.submit(post, client) for _ in range(CONCURRENT - 1)])
        for call in calls:
            call.result(WAIT_SECONDS)

    assert [status for status, _ in answers] == [202] * CONCURRENT
    assert len(fsync.fsyncs()) == 2
    for _, landing_id in answers:
        answered = fsync.log.index(("answered", frozenset([landing_id])))
        [meta] = _day_directory(tmp_path).glob(f"*_{landing_id}_*{META_SUFFIX}")
        assert _covered_before(fsync.log, answered, meta.name), landing_id
        assert read_landed(str(meta)[: -len(META_SUFFIX)]).ingest_id == landing_id


def test_requests_whose_directory_fsync_failed_get_503_not_202(
    tmp_path: Path, failing_fsync: tuple[HeldFsync, DirectorySync]
) -> None:
    fsync, sync = failing_fsync

    def post(client: TestClient) -> tuple[int, dict[str, str]]:
        answer = client.post("/v1/dropzone", content=DATA,
                             headers={"Authorization": "Bearer ingest-secret"})
        return answer.status_code, answer.json()

    with _client(tmp_path) as client, ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        calls = _hold_then_release(
            fsync, sync, lambda: _day_directory(tmp_path), lambda: pool.submit(post, client),
            lambda: [pool.submit(post, client) for _ in range(CONCURRENT - 1)])
        first, *rest = [call.result(WAIT_SECONDS) for call in calls]

    assert first[0] == 202
    assert rest == [(503, {"detail": "the landing zone cannot be written: Input/output error"})
                    ] * (CONCURRENT - 1)
