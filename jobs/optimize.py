"""spark-submit entry point: compaction and clustering, scheduled apart from snapshot.

    spark-submit --jars "$(python -m meterlake.core.jars paths)" --py-files dist/meterlake.zip \
        jobs/optimize.py [--conf FILE] [--lake DIR] [--since YYYY-MM-DD] [--vacuum] [--bronze]

The same arguments, validation and exit codes as `meterlake optimize` (0 done, 1 nothing found,
2 bad input or configuration, 3 a failed expectation): it is that command.
"""

import sys

from meterlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["optimize", *sys.argv[1:]]))
