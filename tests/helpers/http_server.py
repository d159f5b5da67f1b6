"""The real HTTP service for the tests: `meterlake serve` under uvicorn, on 127.0.0.1 and a free
port, as a subprocess with its own API keys and a lake under tmp_path; stopped on exit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from meterlake.serve.local_process import free_port, serve_locally
from tests.helpers.paths import REPO

__all__ = ["ALL_KEY", "API_KEYS", "INGEST_KEY", "OTHER_INGEST_KEY", "READ_KEY", "Server",
           "free_port", "running_server"]

INGEST_KEY = "ingest-key-0123456789abcdef"
READ_KEY = "read-key-0123456789abcdef"
ALL_KEY = "all-scopes-key-0123456789abcdef"
OTHER_INGEST_KEY = "second-ingest-key-0123456789"
API_KEYS = f"{INGEST_KEY}:ingest,{READ_KEY}:read,{ALL_KEY},{OTHER_INGEST_KEY}:ingest"
# They override the conf's lake and landing and the default body limit: exported by the
# developer's shell, they would point the server away from the test's lake under tmp_path.
_INHERITED_SETTINGS = ("METERLAKE_LAKE", "METERLAKE_LANDING", "METERLAKE_MAX_BODY_BYTES")


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


@contextmanager
def running_server(
    lake_root: Path, workers: int = 2, extra_args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """`meterlake serve` on the lake (serve_locally); yields once /healthz answers; terminates
    it (SIGTERM, then SIGKILL after 20 s) on exit."""
    lake_root.mkdir(parents=True, exist_ok=True)
    conf = lake_root.parent / f"{lake_root.name}.yaml"
    conf.write_text(f"lake_root: {lake_root}\n", encoding="utf-8")
    log = lake_root.parent / f"{lake_root.name}-server.log"
    env = {**os.environ, "METERLAKE_API_KEYS": API_KEYS}
    for variable in _INHERITED_SETTINGS:
        env.pop(variable, None)
    with serve_locally(conf, log, env=env, cwd=REPO,
                       extra_args=("--workers", str(workers), "--no-access-log", *extra_args)
                       ) as server:
        yield Server(server.url, lake_root, log, server.pid)
