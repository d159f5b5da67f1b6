"""End to end from the wheel: built, installed in a fresh virtualenv and run from a directory
outside the repository, so the configuration and the settlement book must come from the
package data. Builds a wheel and starts a JVM, hence `slow`."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.generate import INTERVALS_PER_DAY
from tests.helpers.paths import REPO

pytestmark = pytest.mark.slow

# What `pip wheel` reads. A copy, so that the build writes no build/ or egg-info into the
# repository and no module left in an old build/lib slips into the wheel.
BUILD_INPUTS = ("lib", "setup.cfg", "pyproject.toml", "README.md")
PACKAGED_CONF = ("meterlake/conf/local.yaml", "meterlake/conf/settlement.yaml")


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _build_wheel(tmp_path: Path) -> Path:
    source, dist = tmp_path / "source", tmp_path / "dist"
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(REPO / name, source / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist,
                 source, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = dist.glob("meterlake-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A virtualenv with only the wheel installed; a .pth appends the project venv's
    site-packages for the dependencies (not downloaded again). Its own .pth files, the editable
    install among them, are not processed there, so that meterlake stays invisible."""
    fresh = tmp_path / "fresh"
    created = _run(sys.executable, "-m", "venv", fresh, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    installed = _run(fresh / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
                     "--no-index", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]
    site = _run(fresh / "bin" / "python", "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    Path(site.stdout.strip(), "project_dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return fresh


def _outside_env(fresh: Path) -> dict[str, str]:
    """The environment of a user who activated `fresh`: no meterlake settings, no PYTHONPATH.
    The jar cache stays where it is (HOME, or METERLAKE_JAR_CACHE): it is not lake settings."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and (not k.startswith("METERLAKE_") or k == "METERLAKE_JAR_CACHE")}
    env["PATH"] = f"{fresh / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(fresh)
    return env


def test_the_wheel_runs_outside_the_repository(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    assert set(PACKAGED_CONF) <= set(zipfile.ZipFile(wheel).namelist())
    fresh = _fresh_venv(tmp_path, wheel)
    env, meterlake = _outside_env(fresh), fresh / "bin" / "meterlake"

    where = _run(fresh / "bin" / "python", "-c",
                 "import meterlake; from meterlake.core.config import DEFAULT_CONF; "
                 "from meterlake.gold.settlement.book import load_book; "
                 "print(meterlake.__file__); print(DEFAULT_CONF); "
                 "print(*sorted(load_book().partners))", cwd=tmp_path, env=env)
    assert where.returncode == 0, where.stderr
    package_file, default_conf, partners = where.stdout.splitlines()
    assert Path(package_file).is_relative_to(fresh)
    assert Path(default_conf).is_relative_to(fresh) and default_conf.endswith(PACKAGED_CONF[0])
    assert partners == "north south"

    usage = _run(meterlake, "--help", cwd=tmp_path, env=env)
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("usage: meterlake")

    generated = _run(meterlake, "generate", "utility-drops", "--out", "drops", "--meters", "2",
                     "--days", "1", "--seed", "1", "--drops-per-day", "1", cwd=tmp_path, env=env)
    assert generated.returncode == 0, generated.stderr
    [drop] = (tmp_path / "drops").glob("drop_*.csv")
    with drop.open(newline="", encoding="utf-8") as lines:
        rows = len(list(csv.reader(lines))) - 1  # the header
    # The only drop of a one-day plan carries every interval of both meters, and no correction
    # (nothing was sent before it).
    assert rows == 2 * INTERVALS_PER_DAY

    ingest = _run(meterlake, "ingest", "utility_drops", drop, cwd=tmp_path, env=env)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert ingest.stdout.splitlines()[0] == (
        "ingest utility_drops batch 0: 1 loaded, 0 rejected, 0 duplicate; "
        f"{rows} rows to bronze, 0 quarantined"
    )
    lake = tmp_path / "var" / "lake"  # local.yaml's relative lake_root, under the cwd
    assert (Path(BRONZE_UTILITY_DROPS.path(str(lake))) / "_delta_log").is_dir()
