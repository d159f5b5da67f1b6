"""`meterlake serve` as a child process on 127.0.0.1 and a free port, for the block of a `with`.

The integration tests and the HTTP benchmark need the real service (uvicorn, its workers, signals,
a socket), not the app called in process; both start it here. Standard library only, because
this module ships in the package and httpx is a dev extra; no Spark, as for the service itself.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 60
STOP_SECONDS = 20
_POLL_SECONDS = 0.1
# The health check goes straight to the loopback port, whatever http_proxy the environment sets.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class LocalServer:
    """A running `meterlake serve`: its base URL (no trailing slash) and its process id."""

    url: str
    pid: int


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now; the server binds it a moment later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_locally(
    conf: Path,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    cwd: Path | None = None,
) -> Iterator[LocalServer]:
    """Runs `meterlake serve --conf conf` on 127.0.0.1 and a free port until the block ends.

    `env` is the child's whole environment (None: this process's), `extra_args` follow the
    command's own (`--workers 2`, `--no-access-log`, ...). Its output goes to `log`. Yields once
    GET /healthz answers 200; raises RuntimeError with the log's text if the server exits first
    or is not up within STARTUP_SECONDS. On leaving the block: SIGTERM, then SIGKILL after
    STOP_SECONDS.
    """
    port = free_port()
    command = [sys.executable, "-m", "meterlake.cli", "serve", "--conf", str(conf),
               "--host", "127.0.0.1", "--port", str(port), *extra_args]
    # The child holds its own copy of the descriptor; this process needs none once it started.
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url, log)
        yield LocalServer(url, process.pid)
    finally:
        _stop(process)


def _answers_healthy(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except urllib.error.HTTPError as answer:
        answer.close()
        return False
    except (OSError, http.client.HTTPException):
        # Not listening yet, or a worker still starting: the caller asks again.
        return False


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"meterlake serve exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')}")
        if _answers_healthy(url):
            return
        time.sleep(_POLL_SECONDS)
    raise RuntimeError(f"meterlake serve not healthy after {STARTUP_SECONDS} s:\n"
                       f"{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGTERM lets uvicorn finish the requests in flight and stop its workers; a server that
    # hangs on shutdown is killed, so that a test or benchmark never waits on it for ever.
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
