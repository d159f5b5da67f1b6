"""The temperature poller: GETs the partner API on a schedule and lands every response body.

Each attempt's body is landed unchanged, whatever it is (every byte received is kept): under
`temperatures` when the door accepts it, else under `temperatures_rejected` with the reason.
The metadata's `context` records what only the poller knows: when the request started, the
URL, the status, the latency and the attempt number.

5xx, 429, timeouts and connection errors are retried with exponential backoff and full jitter
(a 429's or 503's `Retry-After` in seconds is honoured, capped); other refusals (a 401, a 200
whose body is not a JSON array) are not, since asking again would get the same answer.

The API key travels only in the `X-API-Key` header: it is never logged, landed or put in an
error message. Credentials in the URL (`https://user:password@host/`) are sent as basic auth
and removed from everything recorded. The landing root may be on object storage (pass the
settings' `object_store`); a landing zone that cannot be written ends the polls with its
error (OSError, ObjectStoreError): polling on would receive bodies it cannot keep. No Spark here.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from meterlake.core.instants import utc_now_ms
from meterlake.receive.landing import LandedFile, land_bytes
from meterlake.sources.temperatures import NAME, REJECTED_NAME
from meterlake.sources.temperatures.door import response_rejection

if TYPE_CHECKING:
    from meterlake.receive.landing import ObjectStore

log = logging.getLogger(__name__)
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class PollOutcome:
    """One poll: its attempts, how the last one ended, and what every attempt landed."""

    poll: int
    attempts: int
    status: int | None  # the last attempt's HTTP status; None when it got no response
    error: str | None  # why the poll failed (a refusal or a transport error); None when ok
    landed: tuple[LandedFile, ...]  # every body received, in attempt order
    accepted: LandedFile | None  # the body landed under `temperatures`, if any

    @property
    def is_ok(self) -> bool:
        return self.accepted is not None


@dataclass(frozen=True)
class _Attempt:
    status: int | None
    error: str | None
    landed: LandedFile | None
    retry_after: str | None
    # Asking again may help: no (complete) response, a 5xx, or a 429.
    is_retryable: bool


@dataclass(frozen=True)
class _Target:
    """The URL to request (no userinfo), its credentials, and how to scrub secrets from text."""

    url: str
    api_key: str = field(repr=False)
    auth: httpx.BasicAuth | None = field(repr=False)

    @staticmethod
    def of(url: str, api_key: str) -> _Target:
        # An invalid header value would be quoted, escaped, in the HTTP library's error.
        visible = api_key.isascii() and api_key.isprintable() and api_key.strip() == api_key
        if not api_key or not visible:
            raise ValueError("the API key must be a non-empty run of visible ASCII characters")
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"not an http(s) URL: {parsed.copy_with(userinfo=b'')}")
        auth = httpx.BasicAuth(parsed.username, parsed.password) if parsed.userinfo else None
        return _Target(str(parsed.copy_with(userinfo=b"")), api_key, auth)

    def scrub(self, text: str) -> str:
        """`text` without the API key, in case an error message ever quotes a request."""
        return text.replace(self.api_key, "[API key]")


def _describe(error: Exception, target: _Target) -> str:
    text = str(error)
    return target.scrub(f"{type(error).__name__}: {text}" if text else type(error).__name__)


def _attempt(client: httpx.Client, target: _Target, landing_root: str | Path, number: int,
             timeout_seconds: float, object_store: ObjectStore) -> _Attempt:
    """One GET; lands whatever body came back (even a partial one) with its context."""
    started_at = utc_now_ms()
    started = time.perf_counter()
    status: int | None = None
    retry_after: str | None = None
    chunks: list[bytes] = []
    failure: str | None = None
    try:
        with client.stream("GET", target.url, headers={API_KEY_HEADER: target.api_key},
                           auth=target.auth, timeout=timeout_seconds) as response:
            status, retry_after = response.status_code, response.headers.get("Retry-After")
            chunks.extend(response.iter_bytes())
    except httpx.RequestError as error:
        failure = _describe(error, target)
    latency_ms = (time.perf_counter() - started) * 1000
    if status is None:
        return _Attempt(None, failure, None, None, is_retryable=True)
    body = b"".join(chunks)
    reason = f"incomplete response: {failure}" if failure else response_rejection(status, body)
    context = {
        "request_started_at": started_at.isoformat(timespec="milliseconds"),
        "url": target.url,
        "status": str(status),
        "latency_ms": f"{latency_ms:.1f}",
        "attempt": str(number),
    }
    landed = land_bytes(landing_root, REJECTED_NAME if reason else NAME,
                        f"{NAME}_{started_at.strftime('%Y%m%dT%H%M%S.%fZ')}.json", body,
                        sender=target.url, rejection=reason, context=context,
                        object_store=object_store)
    retryable = failure is not None or status == 429 or status >= 500
    return _Attempt(status, reason, landed, retry_after, retryable)


def _wait_seconds(attempt: _Attempt, number: int, rng: random.Random, base: float,
                  cap: float) -> float:
    """The server's Retry-After (429, 503) when it gives seconds, else full jitter."""
    if attempt.retry_after is not None and attempt.status in (429, 503):
        try:
            seconds = float(attempt.retry_after)
        except ValueError:
            seconds = math.nan  # an HTTP date, or garbage: back off as if it were absent
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), cap)
    return rng.uniform(0.0, min(cap, base * 2 ** (number - 1)))


def _poll(client: httpx.Client, target: _Target, landing_root: str | Path, poll: int, *,
          timeout_seconds: float, max_attempts: int, backoff_base_seconds: float,
          backoff_max_seconds: float, sleep: Callable[[float], None],
          rng: random.Random, object_store: ObjectStore) -> PollOutcome:
    landed: list[LandedFile] = []
    number = 0
    while True:
        number += 1
        attempt = _attempt(client, target, landing_root, number, timeout_seconds, object_store)
        landed += [attempt.landed] if attempt.landed else []
        if attempt.error is None:
            log.info("poll %d attempt %d: HTTP %s, landed %s", poll, number, attempt.status,
                     attempt.landed.landing_path if attempt.landed else None)
            return PollOutcome(poll, number, attempt.status, None, tuple(landed),
                               attempt.landed)
        if not attempt.is_retryable or number >= max_attempts:
            log.error("poll %d failed after %d attempts: %s", poll, number, attempt.error)
            return PollOutcome(poll, number, attempt.status, attempt.error, tuple(landed), None)
        wait = _wait_seconds(attempt, number, rng, backoff_base_seconds, backoff_max_seconds)
        log.warning("poll %d attempt %d of %d: %s; retrying in %.2f s", poll, number,
                    max_attempts, attempt.error, wait)
        sleep(wait)


def iter_polls(
    url: str,
    api_key: str,
    landing_root: str | Path,
    *,
    every_seconds: float,
    polls: int | None = None,
    timeout_seconds: float = 10.0,
    max_attempts: int = 5,
    backoff_base_seconds: float = 0.5,
    backoff_max_seconds: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    client: httpx.Client | None = None,
    object_store: ObjectStore = None,
) -> Iterator[PollOutcome]:
    """Polls `url` `polls` times (None: forever), `every_seconds` apart from start to start
    (a poll that overruns is followed at once), yielding each poll's outcome as it ends.
    `object_store`: where an s3a:// `landing_root` is served (the settings' object_store)."""
    if every_seconds < 0 or max_attempts < 1 or timeout_seconds <= 0:
        raise ValueError("every_seconds must be >= 0, max_attempts >= 1, timeout_seconds > 0")
    target = _Target.of(url, api_key)
    rng = rng or random.Random()
    own_client = client is None
    http = client or httpx.Client()
    try:
        poll = 0
        while polls is None or poll < polls:
            poll += 1
            started = clock()
            yield _poll(http, target, landing_root, poll, timeout_seconds=timeout_seconds,
                        max_attempts=max_attempts, backoff_base_seconds=backoff_base_seconds,
                        backoff_max_seconds=backoff_max_seconds, sleep=sleep, rng=rng,
                        object_store=object_store)
            remaining = every_seconds - (clock() - started)
            if (polls is None or poll < polls) and remaining > 0:
                sleep(remaining)
    finally:
        if own_client:
            http.close()


def poll_temperatures(
    url: str, api_key: str, landing_root: str | Path, *, polls: int, **options: Any
) -> list[PollOutcome]:
    """`polls` polls of `url`, their outcomes in order; `options` as for `iter_polls`."""
    return list(iter_polls(url, api_key, landing_root, polls=polls, **options))
