"""What `make package` zips for spark-submit's --py-files, built for a test."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.helpers.paths import REPO


def package_zip(directory: Path) -> Path:
    """The package with its data (the embedded local.yaml is read from inside the archive)."""
    archive = directory / "meterlake.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in (REPO / "lib" / "meterlake").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zipped.write(path, path.relative_to(REPO / "lib"))
    return archive
