"""The JVM jars meterlake needs, by pinned Maven coordinates, cached outside the repository.

`python -m meterlake.core.jars fetch` downloads them with Maven (the ordinary client for Maven
Central) into the cache; `python -m meterlake.core.jars paths` prints them comma-separated for
`spark-submit --jars`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# delta-spark_4.1 is built against Spark 4.1; keep this pair in step with setup.cfg's pins.
DELTA_JARS: tuple[str, ...] = (
    "io.delta:delta-spark_4.1_2.13:4.3.1",
    "io.delta:delta-storage:4.3.1",
)


def jar_cache_dir() -> Path:
    """METERLAKE_JAR_CACHE, else ~/.cache/meterlake/jars."""
    configured = os.environ.get("METERLAKE_JAR_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "meterlake" / "jars"


def jar_file_name(coordinate: str) -> str:
    _group, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def jar_paths(cache: Path | None = None) -> list[Path]:
    cache = cache or jar_cache_dir()
    return [cache / jar_file_name(coordinate) for coordinate in DELTA_JARS]


def missing_jars(cache: Path | None = None) -> list[Path]:
    return [path for path in jar_paths(cache) if not path.is_file()]


def fetch_jars(cache: Path | None = None) -> list[Path]:
    """Downloads every missing jar; returns the full list. Raises if Maven fails."""
    cache = cache or jar_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for coordinate in DELTA_JARS:
        if (cache / jar_file_name(coordinate)).is_file():
            continue
        command = [
            "mvn", "-q", "-B", "dependency:copy",
            f"-Dartifact={coordinate}", f"-DoutputDirectory={cache}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (cache / jar_file_name(coordinate)).is_file():
            raise RuntimeError(
                f"could not fetch {coordinate} with Maven (exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
    return jar_paths(cache)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["fetch"]:
        for path in fetch_jars():
            print(path)
        return 0
    if args == ["paths"]:
        print(",".join(str(path) for path in jar_paths()))
        return 0
    print("usage: python -m meterlake.core.jars fetch|paths", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
