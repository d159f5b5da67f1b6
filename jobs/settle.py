"""spark-submit entry point: the monthly settlement of every partner (or some).

    spark-submit --jars "$(python -m meterlake.jars paths)" --py-files dist/meterlake.zip \
        jobs/settle.py --conf conf/local.yaml --book conf/settlement.yaml --month 2024-03 \
        [--partner north] [--lake DIR]
"""

from __future__ import annotations

import argparse
import sys

from meterlake.jobs_common import lake_from_args
from meterlake.settlement.book import load_book
from meterlake.settlement.run import settle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf")
    parser.add_argument("--lake")
    parser.add_argument("--book")
    parser.add_argument("--month", required=True)
    parser.add_argument("--partner", action="append")
    args = parser.parse_args()
    book = load_book(args.book)
    for record in settle(lake_from_args(args, "settle"), book, args.month, args.partner):
        print(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
