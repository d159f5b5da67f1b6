"""spark-submit entry point: the monthly settlement of every partner (or some).

    spark-submit --jars "$(python -m meterlake.core.jars paths)" --py-files dist/meterlake.zip \
        jobs/settle.py [--conf FILE] [--lake DIR] --book conf/settlement.yaml --month 2024-03
        [--partner north]

The same arguments, validation and exit codes as `meterlake settle` (0 done, 1 nothing found,
2 bad input or configuration, 3 a failed expectation): it is that command.
"""

import sys

from meterlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["settle", *sys.argv[1:]]))
