"""The layers of lib/meterlake hold (import-linter contracts in setup.cfg), and an import that
breaks them is caught: the check is not one that cannot fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers.paths import BIN, REPO


def _lint_imports(package_parent: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [BIN / "lint-imports", "--config", REPO / "setup.cfg", "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def test_every_import_contract_is_kept() -> None:
    result = _lint_imports(REPO / "lib", REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_a_core_module_importing_the_cli_breaks_the_layers_and_makes_a_cycle(
    tmp_path: Path,
) -> None:
    shutil.copytree(REPO / "lib" / "meterlake", tmp_path / "meterlake",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "meterlake" / "core" / "config.py").open("a") as config:
        config.write("\nimport meterlake.cli  # noqa: E402,F401\n")
    result = _lint_imports(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "Layers, from the commands down to the core BROKEN" in result.stdout
    assert "No import cycle between sibling modules, at any depth BROKEN" in result.stdout
    assert "meterlake.core.config -> meterlake.cli" in result.stdout
