"""Row rules: which staging rows a source quarantines (or, for file flows, rejects), and why.

Each rule is declared once, as Spark column expressions, and attached to its bronze contract in
its source's bronze contract; `meterlake.quality.quarantine` applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F


@dataclass(frozen=True)
class RowRule:
    """A row-level check on a source's parsed staging rows: a row failing it is quarantined.

    `name` says what is wrong in words a check list reads (`energy_wh_is_negative`, the way dqx
    names its checks); `field` is the field the quarantine row names. `is_violated` and
    `message` build Spark columns lazily (a Column needs a running session).
    """

    name: str
    field: str
    is_violated: Callable[[], Column]
    message: Callable[[], Column]


def quoted(column: str) -> Column:
    """The raw value of `column` in quotes for a message, `(empty)` when there is none."""
    return F.coalesce(F.concat(F.lit("'"), F.col(column), F.lit("'")), F.lit("(empty)"))
