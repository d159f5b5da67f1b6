"""Settlement through the user's doors: `meterlake settle` and `meterlake audit ...` in their own
processes, and the auditor notebook executed top to bottom on the same lake."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from pyspark.sql import SparkSession

from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import write_drop
from tests.helpers.lakes import lake_at
from tests.helpers.paths import BIN, REPO
from tests.helpers.settlement_case import BOOK, MONTH, march_drop

pytestmark = pytest.mark.slow



def _run(*command: str | Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYSPARK_PYTHON": sys.executable, **(env or {})}
    return subprocess.run([str(c) for c in command], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=400, check=False)


def _run_ids(stdout: str) -> dict[str, str]:
    """partner -> run id from `settle` output lines 'P M revision N: run ID, ...'."""
    ids = {}
    for line in stdout.splitlines():
        partner, _month, _word, _revision, _run, run_id = line.split()[:6]
        ids[partner] = run_id.rstrip(",")
    return ids


@pytest.fixture(scope="module")
def cli_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("settle-cli")
    lake = lake_at(spark, root / "lake")
    ingest_paths(lake, UTILITY_DROP_FILES, [march_drop(root / "drop_20240401T0000Z.csv")])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    book = root / "settlement.yaml"
    book.write_text(yaml.safe_dump(BOOK), encoding="utf-8")
    first = _run(BIN / "meterlake", "settle", "--month", MONTH, "--book", book,
                 "--lake", lake.settings.lake_root)
    assert first.returncode == 0, first.stderr
    correction = write_drop(root / "drop_20240402T0000Z.csv",
                            [("M1", "2024-03-05T11:00:00.000Z", "1050.0")])
    ingest_paths(lake, UTILITY_DROP_FILES, [correction])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    second = _run(BIN / "meterlake", "settle", "--month", MONTH, "--partner", "north",
                  "--book", book, "--lake", lake.settings.lake_root)
    assert second.returncode == 0, second.stderr
    return {"lake": lake.settings.lake_root, "root": root, "book": book,
            "first": first.stdout, "second": second.stdout}


def test_settle_prints_one_run_per_partner(cli_lake: dict) -> None:
    first = cli_lake["first"].splitlines()
    assert [line.split(":")[0] for line in first] == [
        "north 2024-03 revision 1", "south 2024-03 revision 1"]
    assert "5 lines, total 188.61 EUR, completeness 0.999093 -> " in first[0]
    assert "1 lines, total 76.60 EUR, completeness 1.000000 -> " in first[1]
    assert cli_lake["second"].startswith("north 2024-03 revision 2: run ")
    assert "5 lines, total 188.91 EUR, completeness 0.999093 -> " in cli_lake["second"]


def test_audit_reproduce_diff_and_package(cli_lake: dict) -> None:
    lake, first = cli_lake["lake"], _run_ids(cli_lake["first"])
    second = _run_ids(cli_lake["second"])
    reproduced = _run(BIN / "meterlake", "audit", "reproduce", first["north"], "--lake", lake)
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert reproduced.stdout.rstrip().endswith("every checksum matches")
    assert reproduced.stdout.count(": match (") == 4
    diff = _run(BIN / "meterlake", "audit", "diff", first["north"], second["north"],
                "--lake", lake)
    assert diff.returncode == 0, diff.stderr
    assert "1 lines changed" in diff.stdout
    assert "1 readings of those meters differ" in diff.stdout
    assert "drop_20240402T0000Z.csv" in diff.stdout
    package = _run(BIN / "meterlake", "audit", "package", "--partner", "north", "--year",
                   "2024", "--out", cli_lake["root"] / "out", "--lake", lake)
    assert package.returncode == 0, package.stderr
    archive = Path(package.stdout.strip())
    assert archive.name == "meterlake-audit-north-2024.zip"
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert sum(name.endswith("/manifest.json") for name in names) == 2


def test_audit_errors_exit_2_with_a_message(cli_lake: dict) -> None:
    unknown = _run(BIN / "meterlake", "audit", "reproduce", "no-such-run",
                   "--lake", cli_lake["lake"])
    assert unknown.returncode == 2
    assert "no settlement run 'no-such-run' in ops.report_runs" in unknown.stderr
    bad_book = cli_lake["root"] / "bad.yaml"
    bad_book.write_text("partners: {north: {time_zone: Nowhere/Land}}\n", encoding="utf-8")
    refused = _run(BIN / "meterlake", "settle", "--month", MONTH, "--book", bad_book,
                   "--lake", cli_lake["lake"])
    assert refused.returncode == 2
    assert "bad.yaml: partners.north: missing ['currency', 'prices', 'windows']" in (
        refused.stderr)


def test_the_auditor_notebook_runs_on_the_lake(cli_lake: dict) -> None:
    notebook = nbformat.read(REPO / "notebooks" / "auditor_walkthrough.ipynb", as_version=4)
    os.environ["METERLAKE_LAKE"] = cli_lake["lake"]
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(REPO)}}).execute()
    finally:
        del os.environ["METERLAKE_LAKE"]
    text = "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []))
    assert "looking at run" in text and "north 2024-03, revision 2" in text
    assert "1 source files contributed readings" not in text  # two files: drop and correction
    assert "2 source files contributed readings" in text
    assert "meter M1 at 2024-03-05T11:00Z: 2 versions" in text
    assert "every checksum matches" in text
