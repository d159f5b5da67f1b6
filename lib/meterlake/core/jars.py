"""The JVM jars meterlake needs, by pinned Maven coordinates, cached outside the repository.

`python -m meterlake.core.jars fetch` downloads them with Maven (the ordinary client for Maven
Central) into the cache; `python -m meterlake.core.jars paths` prints them comma-separated for
`spark-submit --jars`. Two sets: Delta Lake, and S3A (the lake and landing zone on S3-compatible
object storage).
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

# s3a:// for the Hadoop that pyspark 4.1.1 bundles (hadoop-client-api 3.4.2), with the AWS SDK v2
# version hadoop-aws 3.4.2 was built against. Instead of the SDK's 612 MiB `bundle`, the
# transitive runtime jars of awssdk s3, s3-transfer-manager and sts, as
# `mvn dependency:list` resolved them, minus what pyspark/jars already holds: netty,
# httpclient/httpcore, slf4j and commons-* (the SDK's netty-nio-client stays: S3A builds its
# async client with it). hadoop-aws's analyticsaccelerator-s3 is left out too: only the opt-in
# `fs.s3a.input.stream.type=analytics` loads it. Re-resolve this list when pyspark's Hadoop moves.
S3_JARS: tuple[str, ...] = (
    "org.apache.hadoop:hadoop-aws:3.4.2",
    "org.reactivestreams:reactive-streams:1.0.4",
    "software.amazon.awssdk:annotations:2.29.52",
    "software.amazon.awssdk:apache-client:2.29.52",
    "software.amazon.awssdk:arns:2.29.52",
    "software.amazon.awssdk:auth:2.29.52",
    "software.amazon.awssdk:aws-core:2.29.52",
    "software.amazon.awssdk:aws-query-protocol:2.29.52",
    "software.amazon.awssdk:aws-xml-protocol:2.29.52",
    "software.amazon.awssdk:checksums:2.29.52",
    "software.amazon.awssdk:checksums-spi:2.29.52",
    "software.amazon.awssdk:crt-core:2.29.52",
    "software.amazon.awssdk:endpoints-spi:2.29.52",
    "software.amazon.awssdk:http-auth:2.29.52",
    "software.amazon.awssdk:http-auth-aws:2.29.52",
    "software.amazon.awssdk:http-auth-aws-eventstream:2.29.52",
    "software.amazon.awssdk:http-auth-spi:2.29.52",
    "software.amazon.awssdk:http-client-spi:2.29.52",
    "software.amazon.awssdk:identity-spi:2.29.52",
    "software.amazon.awssdk:json-utils:2.29.52",
    "software.amazon.awssdk:metrics-spi:2.29.52",
    "software.amazon.awssdk:netty-nio-client:2.29.52",
    "software.amazon.awssdk:profiles:2.29.52",
    "software.amazon.awssdk:protocol-core:2.29.52",
    "software.amazon.awssdk:regions:2.29.52",
    "software.amazon.awssdk:retries:2.29.52",
    "software.amazon.awssdk:retries-spi:2.29.52",
    "software.amazon.awssdk:s3:2.29.52",
    "software.amazon.awssdk:s3-transfer-manager:2.29.52",
    "software.amazon.awssdk:sdk-core:2.29.52",
    "software.amazon.awssdk:sts:2.29.52",
    "software.amazon.awssdk:third-party-jackson-core:2.29.52",
    "software.amazon.awssdk:utils:2.29.52",
    "software.amazon.eventstream:eventstream:1.0.1",
)

ALL_JARS: tuple[str, ...] = DELTA_JARS + S3_JARS


def jar_cache_dir() -> Path:
    """METERLAKE_JAR_CACHE, else ~/.cache/meterlake/jars."""
    configured = os.environ.get("METERLAKE_JAR_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "meterlake" / "jars"


def jar_file_name(coordinate: str) -> str:
    _group, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def jar_paths(cache: Path | None = None) -> list[Path]:
    cache = cache or jar_cache_dir()
    return [cache / jar_file_name(coordinate) for coordinate in ALL_JARS]


def missing_jars(cache: Path | None = None) -> list[Path]:
    return [path for path in jar_paths(cache) if not path.is_file()]


def fetch_jars(cache: Path | None = None) -> list[Path]:
    """Downloads every missing jar; returns the full list. Raises if Maven fails."""
    cache = cache or jar_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for coordinate in ALL_JARS:
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
