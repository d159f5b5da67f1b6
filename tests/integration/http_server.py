"""The real HTTP service for the tests: `meterlake serve` under uvicorn, on 127.0.0.1 and a free
port, as a subprocess with its own API keys and a lake under tmp_path; stopped on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import REPO

INGEST_KEY = "ingest-key-0123456789abcdef"
READ_KEY = "read-key-0123456789abcdef"
ALL_KEY = "all-scopes-key-0123456789abcdef"
OTHER_INGEST_KEY = "second-ingest-key-0123456789"
API_KEYS = f"{INGEST_KEY}:ingest,{READ_KEY}:read,{ALL_KEY},{OTHER_INGEST_KEY}:ingest"
_STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Server:
    url: str
    lake_root: Path
    log: Path
    pid: int

    @property
    def landing_root(self) -> Path:
        return self.lake_root / "landing"

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not up after {_STARTUP_SECONDS}s:\n{log.read_text()}")


@contextmanager
def running_server(
    lake_root: Path, workers: int = 2, extra_args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Starts `python -m meterlake.serve.cli serve` on the lake; yields once /healthz answers;
    terminates it (SIGTERM, then SIGKILL after 20 s) on exit."""
    lake_root.mkdir(parents=True, exist_ok=True)
    conf = lake_root.parent / f"{lake_root.name}.yaml"
    conf.write_text(f"lake_root: {lake_root}\n", encoding="utf-8")
    port = free_port()
    log = lake_root.parent / f"{lake_root.name}-server.log"
    env = {**os.environ, "METERLAKE_API_KEYS": API_KEYS}
    for variable in ("METERLAKE_LAKE", "METERLAKE_LANDING", "METERLAKE_MAX_BODY_BYTES"):
        env.pop(variable, None)
    command = [sys.executable, "-m", "meterlake.serve.cli", "serve", "--conf", str(conf),
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--no-access-log", *extra_args]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, url, log)
        yield Server(url, lake_root, log, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
