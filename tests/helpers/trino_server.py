"""The tests' Trino: one node on loopback with the lake's two Delta Lake catalogs (`lake`,
read-only, and `lake_admin`), started by the project's own infra/trino.sh (see the `trino_url`
fixture in conftest)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import trino

from tests.helpers.paths import REPO

SCRIPT = REPO / "infra" / "trino.sh"
LAYERS = ("bronze", "silver", "gold", "ops")
# The first start fetches the server (821 MB), the CLI and the Java runtime: about a minute.
START_TIMEOUT_S = 600


def run_script(command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True,
                          timeout=timeout, check=False)


@contextmanager
def running_trino() -> Iterator[str]:
    """Trino running and answering queries; yields its URL (http://127.0.0.1:18080); stops it
    at the end only when it was not running before."""
    was_running = run_script("status").returncode == 0
    try:
        result = run_script("start", timeout=START_TIMEOUT_S)
        assert result.returncode == 0, f"trino.sh start failed:\n{result.stderr[-3000:]}"
        yield run_script("url").stdout.strip()
    finally:
        if not was_running:
            run_script("stop")


def trino_rows(url: str, sql: str) -> list[list[Any]]:
    """Every row of one statement, run as the tests' user."""
    parts = urlsplit(url)
    connection = trino.dbapi.connect(host=parts.hostname, port=parts.port, user="meterlake-tests")
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return [list(row) for row in cursor.fetchall()]
    finally:
        connection.close()


def forget_registrations(url: str) -> None:
    """Unregisters every table of the lake's schemas: the metastore outlives a server (and a
    test session), so a test that expects first registrations starts from none. The tables'
    files are not touched."""
    schemas = ", ".join(f"'{layer}'" for layer in LAYERS)
    for schema, name in trino_rows(url, "SELECT table_schema, table_name FROM lake_admin"
                                        f".information_schema.tables WHERE table_schema IN "
                                        f"({schemas})"):
        trino_rows(url, f"CALL lake_admin.system.unregister_table('{schema}', '{name}')")
