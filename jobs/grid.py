"""spark-submit entry point: rebuild gold.meter_intervals_15min from silver.

    spark-submit --jars "$(python -m meterlake.jars paths)" --py-files dist/meterlake.zip \
        jobs/grid.py --conf conf/local.yaml [--lake DIR]
"""

from __future__ import annotations

import argparse
import sys

from meterlake.gold.intervals import run_grid
from meterlake.jobs_common import lake_from_args
from meterlake.pipeline import describe_grid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf")
    parser.add_argument("--lake")
    args = parser.parse_args()
    print(describe_grid(run_grid(lake_from_args(args, "grid"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
