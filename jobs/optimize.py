"""spark-submit entry point: compaction and clustering, scheduled apart from snapshot.

    spark-submit --jars "$(python -m meterlake.jars paths)" --py-files dist/meterlake.zip \
        jobs/optimize.py --conf conf/local.yaml [--lake DIR] [--since YYYY-MM-DD] \
        [--vacuum] [--bronze]
"""

from __future__ import annotations

import argparse
import sys

from meterlake.jobs_common import lake_from_args
from meterlake.maintenance import run_optimize


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf")
    parser.add_argument("--lake")
    parser.add_argument("--since")
    parser.add_argument("--vacuum", action="store_true")
    parser.add_argument("--bronze", action="store_true")
    args = parser.parse_args()
    for report in run_optimize(
        lake_from_args(args, "optimize"), args.since, args.vacuum, args.bronze
    ):
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
