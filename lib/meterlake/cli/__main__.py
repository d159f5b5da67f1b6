"""`python -m meterlake.cli ...`: the same as `meterlake ...`."""

import sys

from meterlake.cli import main

sys.exit(main())
