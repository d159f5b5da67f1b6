"""spark-submit entry point: land files of one source and load them into bronze.

    spark-submit --jars "$(python -m meterlake.core.jars paths)" --py-files dist/meterlake.zip \
        jobs/ingest.py [--conf FILE] [--lake DIR] [--sender S] utility_drops|smrt|dropzone PATH...
        (or: --stream, for what receivers landed)

The same arguments, validation and exit codes as `meterlake ingest` (0 done, 1 nothing found,
2 bad input or configuration, 3 a failed expectation): it is that command.
"""

import sys

from meterlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
