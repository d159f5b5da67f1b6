"""spark-submit entry point: land utility drop files and load them into bronze.

    spark-submit --jars "$(python -m meterlake.jars paths)" --py-files dist/meterlake.zip \
        jobs/ingest.py --conf conf/local.yaml [--lake DIR] PATH...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meterlake.jobs_common import lake_from_args
from meterlake.pipeline import describe_ingest, ingest_paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf")
    parser.add_argument("--lake")
    parser.add_argument("--sender")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    report = ingest_paths(lake_from_args(args, "ingest"), args.paths, args.sender)
    print(describe_ingest(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
