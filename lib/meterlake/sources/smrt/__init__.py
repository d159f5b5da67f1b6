"""SMRT files: smart gas meter readings in a HEADR / CONSU... / TRAIL flow, all or nothing per
file.

The folder: `contract`, `rules`, `parse`, `source` (as for every source).
"""

NAME = "smrt"
# Files arrive in a directory a watcher can follow.
WATCHABLE = True
