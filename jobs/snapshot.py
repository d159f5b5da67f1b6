"""spark-submit entry point: merge what is new in bronze into silver.meter_readings.

    spark-submit --jars "$(python -m meterlake.jars paths)" --py-files dist/meterlake.zip \
        jobs/snapshot.py --conf conf/local.yaml [--lake DIR]
"""

from __future__ import annotations

import argparse
import sys

from meterlake.jobs_common import lake_from_args
from meterlake.pipeline import describe_snapshots, run_snapshots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf")
    parser.add_argument("--lake")
    args = parser.parse_args()
    print(describe_snapshots(run_snapshots(lake_from_args(args, "snapshot"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
