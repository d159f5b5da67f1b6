"""spark-submit entry point: land files of one source and load them into bronze.

    spark-submit --jars "$(python -m meterlake.jars paths)" --py-files dist/meterlake.zip \
        jobs/ingest.py --conf conf/local.yaml [--lake DIR] utility_drops|smrt PATH...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meterlake.jobs_common import lake_from_args
from meterlake.pipeline import describe_ingest, ingest_paths
from meterlake.sources.registry import FILE_SOURCES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf")
    parser.add_argument("--lake")
    parser.add_argument("--sender")
    parser.add_argument("source", choices=sorted(FILE_SOURCES))
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    source = FILE_SOURCES[args.source]
    report = ingest_paths(lake_from_args(args, "ingest"), source, args.paths, args.sender)
    print(describe_ingest(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
