"""The tests' Spark standalone cluster: a master and two workers on loopback, started by the
project's own infra/spark-cluster.sh (see the `spark_cluster` fixture in conftest)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers.paths import REPO

SCRIPT = REPO / "infra" / "spark-cluster.sh"


def run_script(command: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True,
                          timeout=timeout, check=False)


@contextmanager
def running_spark_cluster() -> Iterator[str]:
    """The cluster running with both workers registered; yields the master URL
    (spark://127.0.0.1:17077); stops it at the end only when it was not running before."""
    was_running = run_script("status").returncode == 0
    try:
        result = run_script("start")
        assert result.returncode == 0, f"spark-cluster.sh start failed:\n{result.stderr}"
        yield run_script("url").stdout.strip()
    finally:
        if not was_running:
            run_script("stop")
