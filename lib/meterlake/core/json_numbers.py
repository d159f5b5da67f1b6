"""JSON read with its numbers as the sender spelled them: a number a double cannot hold (NaN,
Infinity, 1e400, a 400-digit integer) becomes a `NonFinite` carrying its spelling instead of
a float `inf`/`nan` or an exception, so a door can say exactly what it refused. No Spark."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NonFinite:
    """A number JSON can spell but a double cannot hold, as spelled."""

    text: str


def float_or_non_finite(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


def int_or_non_finite(text: str) -> int | NonFinite:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return NonFinite(text)
    return value


def loads_keeping_spelling(text: str, **options: Any) -> Any:
    """`json.loads(text, **options)` with non-finite numbers as `NonFinite`."""
    return json.loads(text, parse_constant=NonFinite, parse_float=float_or_non_finite,
                      parse_int=int_or_non_finite, **options)
