"""Instants: the ones meterlake makes (`utc_now_ms`, `to_millis`) and the ones it reads as text
(`parse_instant`).

Every instant meterlake itself writes into the lake (arrival, ops tables, report runs, a
poller's request start) is a whole millisecond: Trino reads a Delta `timestamp` as
`timestamp(3) with time zone`, so a microsecond part would make its rows differ from Spark's and
delta-rs's. Instants that come from the data (interval starts, a partner's time stamps) are kept
as received.

Instants as text are an ISO 8601 date and time with an explicit UTC offset, read the same way in
Python (`parse_instant`, here) and in Spark (`meterlake.sources.text.instant_column`).

The accepted shape, stated once in `INSTANT_SHAPE`:

    YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)

with an uppercase `T` and `Z`, one to six fraction digits (a source's instants keep their
microseconds) and a real date, time and offset: months 1-12, the days the month has, hours
0-23, seconds 0-59 (no leap second), offset minutes 0-59 and offsets up to 18:00 either way
(Java's limit, beyond any real zone), in years 1 to 9999 both as written and in UTC. Nothing is
trimmed: a caller that allows padding trims first. tests/unit/test_instants.py holds the one
table of cases that both forms must agree on.

The HTTP service (receive/, the dropzone door, serve/) parses instants without a JVM and must not
import pyspark, even inside a function: the `receive-without-spark` import-linter contract
(setup.cfg) follows every import statement. So this module is pure Python and holds the whole
definition, the Spark pattern, formats and range included; the Column form beside the other
text-source Column helpers only assembles them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# Written with [0-9] and without named groups, so that Python's re, Java's (Spark's rlike) and
# ECMA-262 (an OpenAPI `pattern`) all read it the same way.
_LOCAL_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
INSTANT_SHAPE = _LOCAL_SHAPE + r"(Z|[+-][0-9]{2}:[0-9]{2})"
# In ECMA-262, `$` is the end of the input.
INSTANT_OPENAPI_PATTERN = f"^{INSTANT_SHAPE}$"
# In Java, `$` also matches before a final line break; `\z` does not.
SPARK_INSTANT_PATTERN = f"^{INSTANT_SHAPE}\\z"
_INSTANT = re.compile(INSTANT_SHAPE)
_LOCAL = re.compile(_LOCAL_SHAPE)

# Tried in order, and each miss costs a parse exception per row, so milliseconds come first:
# every utility drop uses them. Spark reads `.SSS` as one to three digits and `.SSSSSS` as one to
# six, so these three cover every fraction the shape allows.
SPARK_INSTANT_FORMATS = (
    "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "yyyy-MM-dd'T'HH:mm:ssXXX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
)
_MAX_OFFSET_MINUTES = 18 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The first and last instants Python can hold, as Spark's microseconds since the epoch.
FIRST_INSTANT_US = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
LAST_INSTANT_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def to_millis(instant: datetime) -> datetime:
    """`instant` truncated to its whole millisecond (towards the past), zone kept."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def utc_now_ms() -> datetime:
    """UTC now as a whole millisecond: the clock of every instant meterlake writes to the lake."""
    return to_millis(datetime.now(UTC))


class InstantError(ValueError):
    """`text` names no instant; the message says what is wrong, the subclass which way, so that
    callers can word their own messages."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(message)
        self.text = text


class MalformedInstantError(InstantError):
    """Not the shape at all: garbage, a date alone, a space for the `T`, seven fraction digits."""

    def __init__(self, text: str) -> None:
        super().__init__(
            text, f"not an ISO 8601 timestamp like 2019-05-01T06:00:00Z: {text!r}"
        )


class NaiveInstantError(InstantError):
    """The shape without its offset: a local time, which is no instant."""

    def __init__(self, text: str) -> None:
        super().__init__(text, f"timestamp needs a UTC offset, for example {text}Z")


class InvalidInstantError(InstantError):
    """The shape, but no such date, time or offset; `reason` says which part."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(text, f"not a valid date and time ({reason}): {text!r}")
        self.reason = reason


class InstantOutOfRangeError(InstantError):
    """A valid date and time whose instant falls outside years 1 to 9999 in UTC."""

    def __init__(self, text: str) -> None:
        super().__init__(text, f"outside years 1 to 9999 once converted to UTC: {text!r}")


def _offset_problem(text: str) -> str | None:
    """What is wrong with the offset ending a text of the shape, or None. Checked by hand because
    Python reads `+05:60` as six hours and allows offsets up to 24 hours."""
    if text.endswith("Z"):
        return None
    hours, minutes = int(text[-5:-3]), int(text[-2:])
    if minutes > 59:
        return "UTC offset minutes must be in 0..59"
    if hours * 60 + minutes > _MAX_OFFSET_MINUTES:
        return "UTC offset must be within 18:00 of UTC"
    return None


def parse_instant(text: str) -> datetime:
    """The instant `text` names, as an aware datetime in UTC; raises the InstantError subclass
    that says what is wrong."""
    if _INSTANT.fullmatch(text) is None:
        if _LOCAL.fullmatch(text) is not None:
            raise NaiveInstantError(text)
        raise MalformedInstantError(text)
    problem = _offset_problem(text)
    if problem is not None:
        raise InvalidInstantError(text, problem)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidInstantError(text, str(error)) from None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InstantOutOfRangeError(text) from None

