"""Door checks for dropzone payloads: is this body worth landing as accepted?

A body is one payload `{"time_stamp": "...", "data": [numbers]}` or a non-empty JSON array of
them. The checks are the minimum the receiver needs to refuse garbage with a clear 422
(well-formed UTF-8 JSON, a timestamp with an explicit UTC offset, a non-empty array of finite
numbers); the statistics are the Spark job's business. Pure functions, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Timestamps are read by meterlake.core.instants, whose Column form parses bronze.dropzone: the
# two accept the same texts, so nothing accepted here is quarantined later for its form.
from meterlake.core.instants import (
    InstantOutOfRangeError,
    InvalidInstantError,
    MalformedInstantError,
    NaiveInstantError,
    parse_instant,
)
from meterlake.core.json_numbers import NonFinite, loads_keeping_spelling

_MAX_PROBLEMS = 10
_SHOWN_CHARS = 40


class RejectedBodyError(ValueError):
    """The body fails a door check; the message says which item and field, and why."""


@dataclass(frozen=True)
class CheckedPayload:
    """One payload that passed: its instant in UTC and how many values it carries."""

    time_stamp_utc: datetime
    value_count: int


def _shown(value: Any) -> str:
    """A short rendering of a JSON value for a message: text in single quotes (as the other
    sources' reasons quote raw values), anything else as JSON."""
    if isinstance(value, NonFinite):
        return value.text
    if isinstance(value, str):
        text = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 3] + "..."
        return f"'{text}'"
    text = json.dumps(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | NonFinite):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_json(body: bytes) -> Any:
    """The JSON document in `body` (UTF-8); NaN, Infinity and overflowing numbers come back as
    markers for the value checks instead of Python's silent nan/inf."""
    if not body.strip():
        raise RejectedBodyError("empty body: expected a JSON payload or an array of them")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RejectedBodyError(
            f"body is not UTF-8 text: {error.reason} at byte {error.start}"
        ) from None
    try:
        return loads_keeping_spelling(text)
    except json.JSONDecodeError as error:
        raise RejectedBodyError(f"malformed JSON: {error}") from None
    except RecursionError:
        raise RejectedBodyError("malformed JSON: nested too deeply") from None


def check_time_stamp(value: Any) -> tuple[datetime | None, str | None]:
    """(the instant in UTC, None) for a valid `time_stamp`, else (None, the problem)."""
    if not isinstance(value, str):
        return None, f"time_stamp: expected a string, got {_kind(value)}"
    try:
        return parse_instant(value), None
    except MalformedInstantError:
        return None, (
            "time_stamp: not an ISO 8601 timestamp like 2019-05-01T06:00:00-04:00: "
            f"{_shown(value)}"
        )
    except NaiveInstantError:
        return None, (
            f"time_stamp: no UTC offset in {_shown(value)}; offsets are required "
            f"(for example {value}Z, or {value}-04:00 for US/Eastern daylight time)"
        )
    except InvalidInstantError as invalid:
        return None, f"time_stamp: not a valid date and time ({invalid.reason}): {_shown(value)}"
    except InstantOutOfRangeError:
        return None, f"time_stamp: outside years 1 to 9999 once converted to UTC: {_shown(value)}"


def check_data(value: Any) -> list[str]:
    """The problems of a `data` value: it must be a non-empty array of finite numbers."""
    if not isinstance(value, list):
        return [f"data: expected an array of numbers, got {_kind(value)}"]
    if not value:
        return ["data: empty array; a payload needs at least one value"]
    problems = []
    for index, item in enumerate(value):
        if isinstance(item, NonFinite):
            problems.append(f"data[{index}]: not a finite number: {item.text}")
        elif isinstance(item, bool) or not isinstance(item, int | float):
            problems.append(f"data[{index}]: not a number: {_shown(item)}")
    return problems


def check_payload(payload: Any) -> tuple[CheckedPayload | None, list[str]]:
    """One payload object: (the checked payload, []) or (None, its problems)."""
    if not isinstance(payload, dict):
        return None, [
            f'expected an object {{"time_stamp": ..., "data": [...]}}, got {_kind(payload)}'
        ]
    problems = []
    instant = None
    if "time_stamp" not in payload:
        problems.append("time_stamp: missing")
    else:
        instant, problem = check_time_stamp(payload["time_stamp"])
        problems += [problem] if problem else []
    if "data" not in payload:
        problems.append("data: missing")
    else:
        problems += check_data(payload["data"])
    if problems or instant is None:
        return None, problems
    return CheckedPayload(instant, len(payload["data"])), []


def _summary(problems: list[str]) -> str:
    shown = problems[:_MAX_PROBLEMS]
    more = len(problems) - len(shown)
    return "; ".join(shown) + (f"; and {more} more problems" if more else "")


def check_body(body: bytes) -> list[CheckedPayload]:
    """The payloads of a dropzone body, in order; raises RejectedBodyError naming every problem
    (up to ten), each prefixed with `item N: ` when the body is an array."""
    document = parse_json(body)
    if isinstance(document, list):
        if not document:
            raise RejectedBodyError("empty array: expected at least one payload")
        items: list[tuple[int | None, Any]] = list(enumerate(document))
    elif isinstance(document, dict):
        items = [(None, document)]
    else:
        raise RejectedBodyError(
            'expected a payload {"time_stamp": ..., "data": [...]} or an array of them, '
            f"got {_kind(document)}"
        )
    checked: list[CheckedPayload] = []
    problems: list[str] = []
    for index, payload in items:
        passed, found = check_payload(payload)
        prefix = "" if index is None else f"item {index}: "
        problems += [prefix + problem for problem in found]
        if passed is not None:
            checked.append(passed)
    if problems:
        raise RejectedBodyError(_summary(problems))
    return checked
