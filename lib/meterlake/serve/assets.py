"""The dashboard's charting library: uPlot from npm at a pinned version, cached outside git.

`python -m meterlake.serve.assets fetch` (run by `make setup`) packs the pinned release with
npm (the ordinary client for the npm registry) into `~/.cache/meterlake/npm/`, checks the
tarball against the registry's sha512 integrity recorded here, and unpacks the three files the
dashboard serves. `python -m meterlake.serve.assets path` prints where they are. The server only
reads them: it never downloads anything, and no page loads a script from elsewhere.

uPlot (https://github.com/leeoniya/uPlot) is MIT-licensed; its LICENSE is unpacked beside it and
served at /dashboard/static/vendor/LICENSE.uPlot.txt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

UPLOT_VERSION = "1.6.32"
# `npm view uplot@1.6.32 dist.integrity`: what the registry signed for this version.
UPLOT_INTEGRITY = ("sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGz"
                   "Qm/ep3tOkyTxpiQIw==")
# Member of the npm tarball -> name served under /dashboard/static/vendor/.
VENDOR_FILES = {
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "LICENSE.uPlot.txt",
}
CACHE_VARIABLE = "METERLAKE_ASSET_CACHE"


class MissingAssetsError(RuntimeError):
    """The charting library is not in the cache: `make setup` (or `... assets fetch`) puts it
    there."""


def asset_cache_dir() -> Path:
    """METERLAKE_ASSET_CACHE, else ~/.cache/meterlake/npm."""
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "meterlake" / "npm"


def vendor_dir(cache: Path | None = None) -> Path:
    return (cache or asset_cache_dir()) / f"uplot-{UPLOT_VERSION}"


def tarball_integrity(tarball: Path) -> str:
    """The npm integrity string (`sha512-<base64>`) of a file."""
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def require_vendor_files(cache: Path | None = None) -> Path:
    """The directory holding every vendored file; MissingAssetsError naming the fix otherwise."""
    folder = vendor_dir(cache)
    missing = [name for name in VENDOR_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise MissingAssetsError(
            f"uPlot {UPLOT_VERSION} is not in {folder} (missing {missing}): run `make setup` or "
            f"`python -m meterlake.serve.assets fetch`")
    return folder


def fetch_vendor_files(cache: Path | None = None) -> Path:
    """Packs uplot@UPLOT_VERSION with npm unless cached, verifies its integrity, unpacks the
    served files; returns their directory. Raises RuntimeError if npm fails or the tarball is
    not the one the registry published."""
    cache = cache or asset_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"uplot-{UPLOT_VERSION}.tgz"
    if not tarball.is_file():
        result = subprocess.run(["npm", "pack", f"uplot@{UPLOT_VERSION}", "--silent"],
                                cwd=cache, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not tarball.is_file():
            raise RuntimeError(f"npm pack uplot@{UPLOT_VERSION} failed (exit {result.returncode})"
                               f":\n{result.stdout}\n{result.stderr}")
    found = tarball_integrity(tarball)
    if found != UPLOT_INTEGRITY:
        tarball.unlink()
        raise RuntimeError(f"{tarball}: integrity {found}, expected {UPLOT_INTEGRITY}; removed")
    folder = vendor_dir(cache)
    folder.mkdir(exist_ok=True)
    with tarfile.open(tarball, "r:gz") as archive:
        for member, name in VENDOR_FILES.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise RuntimeError(f"{tarball} has no file {member}")
            (folder / name).write_bytes(extracted.read())
    return folder


def main(argv: list[str]) -> int:
    if argv[:1] == ["fetch"]:
        print(fetch_vendor_files())
        return 0
    if argv[:1] == ["path"]:
        print(require_vendor_files())
        return 0
    print("usage: python -m meterlake.serve.assets fetch|path", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
