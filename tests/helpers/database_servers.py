"""The real PostgreSQL and MariaDB servers of the tests, started by the project's own
infra/postgres.sh and infra/mariadb.sh on loopback (see the `servers` fixture in conftest)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine

from meterlake.serve.publish.models import Base
from tests.helpers.paths import REPO

SCRIPTS = {"postgresql": REPO / "infra" / "postgres.sh", "mariadb": REPO / "infra" / "mariadb.sh"}


def run_script(script: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), command], capture_output=True, text=True,
                          timeout=900, check=False)


@contextmanager
def running_servers() -> Iterator[dict[str, str]]:
    """Both servers running; yields their URLs; stops those that were not running before."""
    started = []
    try:
        urls = {}
        for name, script in SCRIPTS.items():
            was_running = run_script(script, "status").returncode == 0
            result = run_script(script, "start")
            assert result.returncode == 0, f"{script.name} start failed:\n{result.stderr}"
            if not was_running:
                started.append(script)
            urls[name] = run_script(script, "url").stdout.strip()
        yield urls
    finally:
        for script in started:
            run_script(script, "stop")


def reset_schema(url: str) -> None:
    """Drops and recreates the published tables through the models."""
    engine = create_engine(url)
    try:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
