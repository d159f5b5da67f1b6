"""spark-submit entry point: merge what is new in every bronze source into silver.

    spark-submit --jars "$(python -m meterlake.core.jars paths)" --py-files dist/meterlake.zip \
        jobs/snapshot.py [--conf FILE] [--lake DIR]

The same arguments, validation and exit codes as `meterlake snapshot` (0 done, 1 nothing found,
2 bad input or configuration, 3 a failed expectation): it is that command.
"""

import sys

from meterlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["snapshot", *sys.argv[1:]]))
