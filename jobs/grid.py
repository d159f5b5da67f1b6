"""spark-submit entry point: rebuild gold.meter_intervals_15min from silver (skipped
when silver is unchanged).

    spark-submit --jars "$(python -m meterlake.core.jars paths)" --py-files dist/meterlake.zip \
        jobs/grid.py [--conf FILE] [--lake DIR]

The same arguments, validation and exit codes as `meterlake grid` (0 done, 1 nothing found,
2 bad input or configuration, 3 a failed expectation): it is that command.
"""

import sys

from meterlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["grid", *sys.argv[1:]]))
