"""The temperature poller against the real simulator on 127.0.0.1: what lands where, with which
context, how failures are retried, that the API key is never written anywhere, and the
`meterlake poll temperatures` command end to end. Backoff waits are recorded, not slept."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from meterlake.core.instants import to_millis
from meterlake.receive.landing import LandedFile, list_landed
from meterlake.receive.temperature_api import (
    ERROR,
    INVALID,
    RECORDS,
    STALL,
    THROTTLE,
    make_simulator,
)
from meterlake.receive.temperature_poller import PollOutcome, poll_temperatures
from meterlake.serve.local_process import free_port
from meterlake.sources.temperatures import NAME, REJECTED_NAME
from tests.helpers.paths import BIN, REPO

KEY = "temperature-key-0123456789abcdef"
CONTEXT_KEYS = {"request_started_at", "url", "status", "latency_ms", "attempt"}
RECORD_KEYS = {"id", "timestamp", "lat", "lon", "temperature", "country"}
LANDED_NAME = re.compile(r"temperatures_\d{8}T\d{6}\.\d{6}Z\.json")

Start = Callable[..., tuple[Any, str]]


@contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/temperatures"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def start() -> Iterator[Start]:
    """Starts a simulator (options as `make_simulator`) in a thread: (server, URL)."""
    with ExitStack() as stack:
        def start(**options: Any) -> tuple[Any, str]:
            server = make_simulator("127.0.0.1", 0, KEY, **options)
            return server, stack.enter_context(_serving(server))

        yield start


def _poll(url: str, landing: Path, sleeps: list[float] | None = None, key: str = KEY,
          **options: Any) -> list[PollOutcome]:
    defaults: dict[str, Any] = {"every_seconds": 0, "polls": 1, "backoff_base_seconds": 0.05,
                                "rng": random.Random(7), "timeout_seconds": 5.0}
    return poll_temperatures(url, key, landing, sleep=(sleeps if sleeps is not None else []).append,
                             **{**defaults, **options})


def _attempts_of(landed: tuple[LandedFile, ...]) -> list[tuple[str, str | None, str]]:
    return [(f.source, f.rejection, (f.context or {})["attempt"]) for f in landed]


def test_without_the_key_nothing_is_accepted_and_the_401_is_kept(
    start: Start, tmp_path: Path
) -> None:
    server, url = start()
    [outcome] = _poll(url, tmp_path, key="not-the-key")
    assert (outcome.is_ok, outcome.attempts, outcome.status, outcome.error) == (
        False, 1, 401, "HTTP 401")
    assert list_landed(tmp_path, NAME) == []
    [rejected] = list_landed(tmp_path, REJECTED_NAME)
    assert rejected == outcome.landed[0]
    assert (rejected.rejection, rejected.context["status"]) == ("HTTP 401", "401")  # type: ignore[index]
    assert json.loads(Path(rejected.landing_path).read_bytes()) == {
        "error": "missing or invalid X-API-Key"}
    assert server.calls == 0


def test_a_poll_lands_a_json_array_with_the_delivery_context(start: Start, tmp_path: Path) -> None:
    _, url = start(records_per_call=25, seed=1)
    before = datetime.now(UTC)
    [outcome] = _poll(url, tmp_path)
    after = datetime.now(UTC)
    assert (outcome.is_ok, outcome.attempts, outcome.status, outcome.error) == (
        True, 1, 200, None)
    assert list_landed(tmp_path, NAME) == [outcome.accepted] and outcome.landed == (
        outcome.accepted,)
    landed = outcome.accepted
    assert landed is not None and landed.context is not None
    records = json.loads(Path(landed.landing_path).read_bytes())
    assert len(records) == 25 and all(set(r) == RECORD_KEYS for r in records)

    context = landed.context
    assert set(context) == CONTEXT_KEYS
    started_at = datetime.fromisoformat(context["request_started_at"])
    # A whole millisecond, like every instant meterlake writes to the lake.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00",
                        context["request_started_at"])
    assert to_millis(before) <= started_at <= after
    assert (context["url"], context["status"], context["attempt"]) == (url, "200", "1")
    assert re.fullmatch(r"\d+\.\d", context["latency_ms"])
    assert 0 < float(context["latency_ms"]) <= (after - before).total_seconds() * 1000 + 0.1
    assert (landed.sender, landed.rejection) == (url, None)
    assert landed.original_name == f"temperatures_{started_at:%Y%m%dT%H%M%S.%fZ}.json"
    # The partner stamps the records with the call's UTC time, to the second.
    stamps = {datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
              for r in records}
    assert len(stamps) == 1
    assert started_at - timedelta(seconds=1) <= stamps.pop() <= after


def test_two_polls_land_different_bytes_spaced_start_to_start(
    start: Start, tmp_path: Path
) -> None:
    _, url = start()
    sleeps: list[float] = []
    starts_and_ends = iter([100.0, 102.5, 160.0, 161.0])
    outcomes = _poll(url, tmp_path, sleeps, polls=2, every_seconds=60,
                     clock=lambda: next(starts_and_ends))
    assert [(o.poll, o.is_ok, o.attempts) for o in outcomes] == [(1, True, 1), (2, True, 1)]
    # 60 s from one start to the next, and nothing after the last poll.
    assert sleeps == [57.5]
    first, second = list_landed(tmp_path, NAME)
    assert first.sha256 != second.sha256
    ids = [{r["id"] for r in json.loads(Path(f.landing_path).read_bytes())}
           for f in (first, second)]
    assert not ids[0] & ids[1]


def test_a_500_and_a_429_are_retried_with_backoff_and_retry_after(
    start: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = start(scripted=[ERROR, THROTTLE, RECORDS])
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO, logger="meterlake"):
        [outcome] = _poll(url, tmp_path, sleeps, backoff_base_seconds=0.2)
    assert (outcome.is_ok, outcome.attempts, outcome.status, server.calls) == (True, 3, 200, 3)
    assert _attempts_of(outcome.landed) == [
        (REJECTED_NAME, "HTTP 500", "1"), (REJECTED_NAME, "HTTP 429", "2"), (NAME, None, "3")]
    assert [json.loads(Path(f.landing_path).read_bytes()) for f in outcome.landed[:2]] == [
        {"error": "internal server error"}, {"error": "too many requests"}]
    # Full jitter in [0, 0.2) after the 500; the 429's Retry-After: 1 after the 429.
    assert sleeps == [random.Random(7).uniform(0, 0.2), 1.0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"poll 1 attempt 1 of 5: HTTP 500; retrying in {sleeps[0]:.2f} s",
                        "poll 1 attempt 2 of 5: HTTP 429; retrying in 1.00 s"]


def test_retries_stop_at_max_attempts_and_retry_after_is_capped(
    start: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = start(scripted=[THROTTLE, THROTTLE, ERROR, RECORDS])
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO, logger="meterlake"):
        [outcome] = _poll(url, tmp_path, sleeps, max_attempts=3, backoff_max_seconds=0.25)
    assert (outcome.is_ok, outcome.attempts, outcome.status, outcome.error) == (
        False, 3, 500, "HTTP 500")
    assert server.calls == 3 and sleeps == [0.25, 0.25]
    assert [f.rejection for f in list_landed(tmp_path, REJECTED_NAME)] == [
        "HTTP 429", "HTTP 429", "HTTP 500"]
    assert list_landed(tmp_path, NAME) == []
    assert "poll 1 failed after 3 attempts: HTTP 500" in [
        r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


def test_a_timeout_is_retried_and_logged(
    start: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = start(scripted=[STALL, RECORDS], stall_seconds=10.0)
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO, logger="meterlake"):
        [outcome] = _poll(url, tmp_path, sleeps, timeout_seconds=1.0)
    assert (outcome.is_ok, outcome.attempts, server.calls) == (True, 2, 2)
    # No response, no bytes: only the second attempt landed anything.
    assert _attempts_of(outcome.landed) == [(NAME, None, "2")]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"poll 1 attempt 1 of 5: ReadTimeout: timed out; retrying in {sleeps[0]:.2f} s"]


def test_a_connection_error_is_retried_and_lands_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO, logger="meterlake"):
        [outcome] = _poll(f"http://127.0.0.1:{free_port()}/", tmp_path, sleeps, max_attempts=2)
    assert (outcome.is_ok, outcome.attempts, outcome.status, outcome.landed) == (
        False, 2, None, ())
    assert outcome.error is not None and outcome.error.startswith("ConnectError: ")
    assert len(sleeps) == 1 and not (tmp_path / REJECTED_NAME).exists()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


class _TruncatingHandler(BaseHTTPRequestHandler):
    """Promises 100 bytes, sends 12 and hangs up."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b'[{"id": "a",')

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def test_a_truncated_body_is_kept_as_rejected_and_retried(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TruncatingHandler)
    with _serving(server) as url:
        [outcome] = _poll(url, tmp_path, max_attempts=2)
    assert (outcome.is_ok, outcome.attempts, outcome.status) == (False, 2, 200)
    assert [Path(f.landing_path).read_bytes() for f in outcome.landed] == [b'[{"id": "a",'] * 2
    assert outcome.error is not None
    assert outcome.error.startswith("incomplete response: RemoteProtocolError: ")
    assert [f.source for f in outcome.landed] == [REJECTED_NAME] * 2


def test_a_200_with_an_object_is_rejected_and_not_retried(start: Start, tmp_path: Path) -> None:
    server, url = start(scripted=[INVALID], records_per_call=3)
    sleeps: list[float] = []
    [outcome] = _poll(url, tmp_path, sleeps)
    assert (outcome.is_ok, outcome.attempts, outcome.status, outcome.error) == (
        False, 1, 200, "not a JSON array: an object")
    assert (server.calls, sleeps) == (1, [])
    [rejected] = list_landed(tmp_path, REJECTED_NAME)
    assert rejected.rejection == "not a JSON array: an object"
    assert json.loads(Path(rejected.landing_path).read_bytes())["count"] == 3


def test_the_api_key_is_never_logged_landed_or_named(
    start: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = start(scripted=[ERROR, THROTTLE, STALL, INVALID, RECORDS], stall_seconds=5.0)
    with_password = url.replace("http://", "http://poller:s3cret-password@")
    with caplog.at_level(logging.DEBUG):
        outcomes = _poll(with_password, tmp_path, polls=2, timeout_seconds=1.0)
        outcomes += _poll(url, tmp_path, key=KEY[::-1])
        outcomes += _poll(f"http://127.0.0.1:{free_port()}/?", tmp_path, max_attempts=1)
    assert [(o.is_ok, o.attempts) for o in outcomes] == [(False, 4), (True, 1), (False, 1),
                                                         (False, 1)]
    secrets = (KEY, KEY[::-1], "s3cret-password")
    texts = [caplog.text] + [str(o) for o in outcomes]
    landed = [p for p in tmp_path.rglob("*") if p.is_file()]
    # Data and metadata of every response: 500, 429, the object and the records of the first
    # two polls (the stall timed out with none), and the 401.
    assert len(landed) == 2 * 5
    texts += [p.read_text(encoding="utf-8") for p in landed] + [str(p) for p in landed]
    assert caplog.records and not [s for s in secrets for text in texts if s in text]
    assert {f.sender for f in list_landed(tmp_path, NAME)} == {url}


@pytest.mark.parametrize(("url", "key", "message"), [
    ("ftp://poller:s3cret@example.org/t", KEY, "not an http(s) URL: ftp://example.org/t"),
    ("http://127.0.0.1:9/", "", "the API key must be a non-empty run of visible ASCII"),
    ("http://127.0.0.1:9/", "s3cret\n", "the API key must be a non-empty run of visible ASCII"),
])
def test_a_bad_url_or_key_is_refused_before_any_request(
    url: str, key: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        _poll(url, tmp_path, key=key)
    assert "s3cret" not in str(refused.value) and not list(tmp_path.iterdir())


def test_the_simulator_answers_like_the_partner(start: Start, tmp_path: Path) -> None:
    _, url = start(records_per_call=3000, seed=11)
    [outcome] = _poll(url, tmp_path)
    assert outcome.accepted is not None
    records = json.loads(Path(outcome.accepted.landing_path).read_bytes())
    countries = [r["country"].strip().lower() for r in records]
    assert 0.65 < countries.count("france") / 3000 < 0.75
    assert set(countries) == {"france", "germany", "spain", "italy", "belgium"}
    assert {r["country"] for r in records} > {"France", "FRANCE", " france"}
    assert 0.03 < sum(r["temperature"] is None for r in records) / 3000 < 0.07
    odd = [r for r in records if r["lat"] == 95.0 or r["lon"] == 200.0
           or r["temperature"] == "n/a"]
    assert 0.01 < len(odd) / 3000 < 0.03
    assert len({r["id"] for r in records}) == 3000
    assert {uuid.UUID(r["id"]).version for r in records} == {4}
    french = [r for r, c in zip(records, countries, strict=True) if c == "france"
              and r not in odd]
    # Inside metropolitan France's bounding box (the regions' contours are the job's test).
    assert all(42.3 < r["lat"] < 51.1 and -4.8 < r["lon"] < 8.3 for r in french)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "meterlake"), *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120, check=False)


def test_the_poll_command_end_to_end(start: Start, tmp_path: Path) -> None:
    _, url = start(records_per_call=7)
    env = {k: v for k, v in os.environ.items()
           if k not in ("METERLAKE_CONF", "METERLAKE_LAKE", "METERLAKE_LANDING")}
    lake = tmp_path / "lake"
    command = ("poll", "temperatures", "--url", url, "--lake", str(lake))

    done = _cli(*command, "--polls", "2", "--every", "0",
                env={**env, "METERLAKE_TEMPERATURE_API_KEY": KEY})
    assert done.returncode == 0, done.stderr
    landed = list_landed(lake / "landing", NAME)
    assert [LANDED_NAME.fullmatch(f.original_name) is not None for f in landed] == [True] * 2
    assert done.stdout.splitlines() == [
        f"poll {n}: HTTP 200, 7 records landed as "
        f"{Path(f.landing_path).relative_to(lake / 'landing')} (1 attempt)"
        for n, f in enumerate(landed, start=1)]
    assert KEY not in done.stdout + done.stderr

    refused = _cli(*command, "--polls", "1", "--api-key-env", "OTHER_KEY",
                   env={**env, "OTHER_KEY": "wrong-key"})
    assert (refused.returncode, refused.stdout) == (
        1, f"poll 1: failed (HTTP 401), 1 response landed under {REJECTED_NAME} (1 attempt)\n")

    missing = _cli(*command, env=env)
    assert missing.returncode == 2
    assert "METERLAKE_TEMPERATURE_API_KEY" in missing.stderr and len(list_landed(
        lake / "landing", REJECTED_NAME)) == 1


def test_the_receiving_side_imports_no_spark() -> None:
    modules = ("meterlake.cli.temperature_receive", "meterlake.receive.temperature_poller",
               "meterlake.receive.temperature_api")
    code = f"import sys; import {', '.join(modules)}; print('pyspark' in sys.modules)"
    result = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60, check=True)
    assert result.stdout.strip() == "False"
