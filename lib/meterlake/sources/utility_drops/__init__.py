"""Utility drops: CSV files of 15-minute electricity interval reads, delivered every ~15
minutes with corrections of past days and backfills of new meters.

The folder: `contract` (bronze table), `rules` (named row rules), `parse` (landed files to
bronze rows and quarantine), `source` (the registry entry and the mapping into silver),
`generate` (realistic sample drops). Nothing here imports Spark at package import.
"""

NAME = "utility_drops"
# Files arrive in a directory a watcher can follow.
WATCHABLE = True
