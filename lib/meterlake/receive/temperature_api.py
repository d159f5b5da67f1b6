"""A local simulator of the partner's temperature API, for demos and tests: standard library
only (`http.server`), no Spark.

`GET <any path>` with the right `X-API-Key` answers a new JSON array of records
`{id, timestamp, lat, lon, temperature, country}` on every call, shaped like the captured
response: about 70% of the points in metropolitan France (a few kilometres around inland
cities, so they fall on land), the rest in German, Spanish, Italian and Belgian cities; about
5% without a temperature, about 2% out of range (lat 95, lon 200, temperature "n/a"), and
country names sometimes in odd case or with spaces. It can also misbehave on purpose: 500s,
429s with `Retry-After: 1`, 200s whose body is an object, and (scripted only) stalls.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import random
import sys
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

# What a call can be answered with; `scripted` lists some for the first calls, in order.
RECORDS, ERROR, THROTTLE, INVALID, STALL = "records", "error", "throttle", "invalid", "stall"
_KINDS = (RECORDS, ERROR, THROTTLE, INVALID, STALL)
_FRANCE_SHARE, _NULL_SHARE, _OUT_OF_RANGE_SHARE, _ODD_SPELLING_SHARE = 0.70, 0.05, 0.02, 0.10
_RADIUS_DEGREES = 0.05  # about 4 to 5 km: around an inland city, still on land
_FRENCH_CITIES = (
    (48.8566, 2.3522), (45.7640, 4.8357), (43.6047, 1.4442), (50.6292, 3.0573),
    (44.8378, -0.5792), (47.2184, -1.5536), (48.1173, -1.6778), (47.3220, 5.0415),
    (47.9029, 1.9093), (45.7772, 3.0870), (45.8336, 1.2611), (47.3941, 0.6848),
    (49.2583, 4.0317), (45.1885, 5.7245), (48.0061, 0.1996), (49.8941, 2.2958),
    (49.4432, 1.0999), (46.5802, 0.3404), (47.2378, 6.0241), (48.6921, 6.1844),
    (43.6108, 3.8767), (43.2951, -0.3708), (43.9493, 4.8055), (47.4784, -0.5632),
)
_OTHER_CITIES = (
    ("Germany", 52.5200, 13.4050), ("Germany", 48.1351, 11.5820),
    ("Germany", 50.1109, 8.6821), ("Germany", 51.5136, 7.4653),
    ("Spain", 40.4168, -3.7038), ("Spain", 41.6488, -0.8891), ("Spain", 37.3891, -5.9845),
    ("Italy", 41.9028, 12.4964), ("Italy", 45.4642, 9.1900), ("Italy", 43.7696, 11.2558),
    ("Belgium", 50.8503, 4.3517), ("Belgium", 50.6326, 5.5797),
)


def _spelled(rng: random.Random, country: str) -> str:
    """The country, sometimes as a careless partner spells it (compared case- and
    space-insensitively downstream)."""
    if rng.random() >= _ODD_SPELLING_SHARE:
        return country
    return rng.choice((country.upper(), country.lower(), f" {country.lower()}", f"{country} "))


def _record(rng: random.Random, timestamp: str) -> dict[str, Any]:
    if rng.random() < _FRANCE_SHARE:
        country, (lat, lon) = "France", rng.choice(_FRENCH_CITIES)
    else:
        country, lat, lon = rng.choice(_OTHER_CITIES)
    # Uniform over a small disc around the city.
    distance, bearing = _RADIUS_DEGREES * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    record: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": timestamp,
        "lat": round(lat + distance * math.sin(bearing), 7),
        "lon": round(lon + distance * math.cos(bearing), 7),
        "temperature": round(rng.uniform(-5.0, 45.0), 4),
        "country": _spelled(rng, country),
    }
    draw = rng.random()
    if draw < _NULL_SHARE:
        record["temperature"] = None
    elif draw < _NULL_SHARE + _OUT_OF_RANGE_SHARE:
        field, value = rng.choice((("lat", 95.0), ("lon", 200.0), ("temperature", "n/a")))
        record[field] = value
    return record


def make_records(rng: random.Random, count: int, at: datetime) -> list[dict[str, Any]]:
    """`count` records stamped `at` (UTC, `YYYY-MM-DD HH:MM:SS`, as the partner writes it)."""
    timestamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return [_record(rng, timestamp) for _ in range(count)]


class SimulatorServer(ThreadingHTTPServer):
    """The simulator's state: its key, rates, script and one seeded generator (locked, since
    requests are served on threads)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api_key: str, *, seed: int | None,
                 records_per_call: int, rates: tuple[float, float, float],
                 scripted: Iterable[str], stall_seconds: float, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.api_key = api_key
        self.records_per_call = records_per_call
        self.rates = rates
        self.scripted = deque(scripted)
        self.stall_seconds = stall_seconds
        self.verbose = verbose
        self.calls = 0
        self.stopping = threading.Event()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def next_answer(self) -> tuple[str, list[dict[str, Any]]]:
        """The kind of answer for this call, and the records it carries."""
        with self._lock:
            self.calls += 1
            if self.scripted:
                kind = self.scripted.popleft()
            else:
                draw, (error, throttle, invalid) = self._rng.random(), self.rates
                kind = (ERROR if draw < error else THROTTLE if draw < error + throttle
                        else INVALID if draw < error + throttle + invalid else RECORDS)
            return kind, make_records(self._rng, self.records_per_call, datetime.now(UTC))

    def server_close(self) -> None:
        self.stopping.set()  # releases stalled handlers
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a poller's timeout) is not news; anything else is.
        quiet = isinstance(sys.exc_info()[1], ConnectionError)
        log.log(logging.DEBUG if quiet else logging.ERROR, "simulator: error serving %s",
                client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer

    def _answer(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        key = self.headers.get("X-API-Key", "")
        if not hmac.compare_digest(key.encode("utf-8"), self.server.api_key.encode("utf-8")):
            self._answer(401, {"error": "missing or invalid X-API-Key"})
            return
        kind, records = self.server.next_answer()
        if kind == ERROR:
            self._answer(500, {"error": "internal server error"})
        elif kind == THROTTLE:
            self._answer(429, {"error": "too many requests"}, {"Retry-After": "1"})
        elif kind == INVALID:
            self._answer(200, {"count": len(records), "records": records})
        else:
            if kind == STALL:
                self.server.stopping.wait(self.server.stall_seconds)
            self._answer(200, records)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        if self.server.verbose:
            super().log_message(format, *args)


def make_simulator(
    host: str,
    port: int,
    api_key: str,
    *,
    seed: int | None = None,
    records_per_call: int = 40,
    error_rate: float = 0.0,
    throttle_rate: float = 0.0,
    invalid_rate: float = 0.0,
    scripted: Iterable[str] = (),
    stall_seconds: float = 5.0,
    verbose: bool = False,
) -> SimulatorServer:
    """A bound, not yet serving simulator (call `serve_forever`, then `shutdown` and
    `server_close`). `scripted` answers the first authorised calls in order (kinds RECORDS,
    ERROR, THROTTLE, INVALID, STALL: records after `stall_seconds`) before the rates apply."""
    rates = (error_rate, throttle_rate, invalid_rate)
    if not api_key:
        raise ValueError("the simulator needs a non-empty API key")
    if records_per_call < 0 or min(rates) < 0 or sum(rates) > 1:
        raise ValueError("records_per_call must be >= 0; the rates >= 0 and at most 1 together")
    script = list(scripted)
    if unknown := sorted(set(script) - set(_KINDS)):
        raise ValueError(f"unknown scripted answers {unknown}; known: {list(_KINDS)}")
    return SimulatorServer((host, port), api_key, seed=seed, records_per_call=records_per_call,
                           rates=rates, scripted=script, stall_seconds=stall_seconds,
                           verbose=verbose)


def serve_simulator(host: str, port: int, api_key: str, **options: Any) -> None:
    """Runs a simulator (options as `make_simulator`) until interrupted (Ctrl-C)."""
    server = make_simulator(host, port, api_key, **options)
    log.info("temperature API simulator on http://%s:%d/", *server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("temperature API simulator stopped after %d calls", server.calls)
    finally:
        server.server_close()
