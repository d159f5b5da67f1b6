"""Door checks for temperature API responses: is this response worth landing as accepted?

An accepted response is a 200 whose body is UTF-8 JSON with an array at the top level. The
records in it are not checked here: they are the Spark job's business, which quarantines bad
ones one by one instead of refusing a whole response for one bad record. Pure Python, no I/O.
"""

from __future__ import annotations

import json


class _Number:
    """A JSON number, left unconverted (see `response_rejection`)."""

    def __init__(self, text: str) -> None:
        self.text = text


_KINDS = {dict: "an object", str: "a string", bool: "a boolean", type(None): "null",
          _Number: "a number"}


def response_rejection(status: int, body: bytes) -> str | None:
    """None when the response is accepted, else why not: `HTTP 500`, `not UTF-8 text: ...`,
    `not JSON: <error>: line L column C (char N)`, `not a JSON array: an object`."""
    if status != 200:
        return f"HTTP {status}"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8 text: {error.reason} at byte {error.start}"
    try:
        # Numbers are not converted: only the top level matters here, and a 5000-digit integer is
        # valid JSON that int() would refuse. NaN and Infinity pass, as Spark's reader takes them.
        document = json.loads(text, parse_int=_Number, parse_float=_Number,
                              parse_constant=_Number)
    except json.JSONDecodeError as error:
        return f"not JSON: {error}"
    except RecursionError:
        return "not JSON: nested too deeply"
    if not isinstance(document, list):
        return f"not a JSON array: {_KINDS[type(document)]}"
    return None
