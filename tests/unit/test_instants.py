"""The instant parser's two forms, `parse_instant` (Python) and `instant_column` (Spark), agree
on one table of cases; the instants meterlake makes are whole milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from meterlake.core.instants import (
    InstantError,
    InstantOutOfRangeError,
    InvalidInstantError,
    MalformedInstantError,
    NaiveInstantError,
    parse_instant,
    to_millis,
    utc_now_ms,
)
from meterlake.sources.text import instant_column


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
         microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


# Each text with its UTC instant, or the error the Python form raises (the Column form: null).
CASES: list[tuple[str, datetime | type[InstantError]]] = [
    ("2019-05-01T06:00:00Z", _utc(2019, 5, 1, 6)),
    ("2019-05-01T06:00:00-04:00", _utc(2019, 5, 1, 10)),
    ("2019-05-01T06:00:00+05:30", _utc(2019, 5, 1, 0, 30)),
    ("2019-05-01T06:00:00+00:00", _utc(2019, 5, 1, 6)),
    ("2019-05-01T06:00:00-00:00", _utc(2019, 5, 1, 6)),
    ("2019-05-01T06:00:00+18:00", _utc(2019, 4, 30, 12)),
    ("2019-05-01T06:00:00-18:00", _utc(2019, 5, 2, 0)),
    ("2019-05-01T06:00:00+18:01", InvalidInstantError),
    ("2019-05-01T06:00:00-23:59", InvalidInstantError),
    ("2019-05-01T06:00:00+05:60", InvalidInstantError),
    ("2019-05-01T06:00:00+0530", MalformedInstantError),
    ("2019-05-01T06:00:00+05", MalformedInstantError),
    ("2019-05-01T06:00:00+05:30:15", MalformedInstantError),
    ("2019-05-01T06:00:00z", MalformedInstantError),
    ("2019-05-01t06:00:00Z", MalformedInstantError),
    ("2019-05-01T06:00:00UTC", MalformedInstantError),
    ("2020-06-01T00:15:00.000Z", _utc(2020, 6, 1, 0, 15)),
    ("2019-05-01T06:00:00.1Z", _utc(2019, 5, 1, 6, 0, 0, 100_000)),
    ("2019-05-01T06:00:00.12Z", _utc(2019, 5, 1, 6, 0, 0, 120_000)),
    ("2019-05-01T06:00:00.123Z", _utc(2019, 5, 1, 6, 0, 0, 123_000)),
    ("2019-05-01T06:00:00.1234Z", _utc(2019, 5, 1, 6, 0, 0, 123_400)),
    ("2019-05-01T06:00:00.12345Z", _utc(2019, 5, 1, 6, 0, 0, 123_450)),
    ("2019-05-01T06:00:00.123456Z", _utc(2019, 5, 1, 6, 0, 0, 123_456)),
    ("2019-05-01T06:00:00.123456-04:00", _utc(2019, 5, 1, 10, 0, 0, 123_456)),
    ("2019-05-01T06:00:00.1234567Z", MalformedInstantError),
    ("2019-05-01T06:00:00.Z", MalformedInstantError),
    ("2019-05-01T06:00:00,5Z", MalformedInstantError),
    ("2019-05-01T06:00:00", NaiveInstantError),
    ("2019-05-01T06:00:00.123", NaiveInstantError),
    ("2019-05-01", MalformedInstantError),
    ("2019-05-01T06:00Z", MalformedInstantError),
    ("2019-05-01 06:00:00Z", MalformedInstantError),
    ("2019-05-01T06:00:00 01:00", MalformedInstantError),
    (" 2019-05-01T06:00:00Z", MalformedInstantError),
    ("2019-05-01T06:00:00Z\n", MalformedInstantError),
    ("\uff12\uff10\uff11\uff19-05-01T06:00:00Z", MalformedInstantError),
    ("-2019-05-01T06:00:00Z", MalformedInstantError),
    ("12019-05-01T06:00:00Z", MalformedInstantError),
    ("yesterday", MalformedInstantError),
    ("1556704800", MalformedInstantError),
    ("", MalformedInstantError),
    ("2020-02-29T06:00:00Z", _utc(2020, 2, 29, 6)),
    ("2019-02-29T06:00:00Z", InvalidInstantError),
    ("2019-13-01T00:00:00Z", InvalidInstantError),
    ("2019-05-01T24:00:00Z", InvalidInstantError),
    ("2016-12-31T23:59:60Z", InvalidInstantError),
    ("0000-01-01T00:00:00Z", InvalidInstantError),
    ("0001-01-01T00:00:00Z", _utc(1, 1, 1)),
    ("0001-01-01T00:00:00-01:00", _utc(1, 1, 1, 1)),
    ("0001-01-01T00:00:00+01:00", InstantOutOfRangeError),
    ("9999-12-31T23:59:59.999999Z", _utc(9999, 12, 31, 23, 59, 59, 999_999)),
    ("9999-12-31T23:59:59+01:00", _utc(9999, 12, 31, 22, 59, 59)),
    ("9999-12-31T23:59:59-01:00", InstantOutOfRangeError),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(text) for text, _ in CASES])
def test_the_python_form_parses_the_table(text: str, expected: object) -> None:
    if isinstance(expected, datetime):
        parsed = parse_instant(text)
        assert parsed == expected
        assert parsed.tzinfo is UTC
    else:
        assert isinstance(expected, type)
        with pytest.raises(expected):
            parse_instant(text)


def test_the_column_form_parses_the_table(spark: SparkSession) -> None:
    raw_df = spark.createDataFrame([(text,) for text, _ in CASES] + [(None,)], "raw string")
    parsed_df = raw_df.select("raw", instant_column(F.col("raw")).alias("instant"))
    assert parsed_df.schema["instant"].dataType == TimestampType()

    # Microseconds since the epoch: exact, and free of the driver's time zone.
    rows = parsed_df.select("raw", F.unix_micros("instant").alias("instant_us")).collect()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    expected: dict[str | None, int | None] = {
        text: (instant - epoch) // timedelta(microseconds=1)
        if isinstance(instant, datetime) else None
        for text, instant in CASES
    }
    assert {row["raw"]: row["instant_us"] for row in rows} == {**expected, None: None}


def test_the_messages_say_what_is_wrong() -> None:
    with pytest.raises(NaiveInstantError, match=r"^timestamp needs a UTC offset, for example "
                                                r"2019-05-01T06:00:00Z$"):
        parse_instant("2019-05-01T06:00:00")
    with pytest.raises(MalformedInstantError, match="not an ISO 8601 timestamp"):
        parse_instant("yesterday")
    with pytest.raises(InvalidInstantError, match=r"\(day is out of range for month\)"):
        parse_instant("2019-02-29T06:00:00Z")
    with pytest.raises(InstantOutOfRangeError, match="outside years 1 to 9999"):
        parse_instant("9999-12-31T23:59:59-01:00")


def test_to_millis_cuts_the_microseconds_towards_the_past() -> None:
    assert to_millis(_utc(2020, 6, 1, 0, 15, 0, 123_999)) == _utc(2020, 6, 1, 0, 15, 0, 123_000)
    assert to_millis(_utc(2020, 6, 1, 0, 15, 0, 999)) == _utc(2020, 6, 1, 0, 15)
    assert to_millis(_utc(2020, 6, 1, 0, 15, 0, 7_000)) == _utc(2020, 6, 1, 0, 15, 0, 7_000)
    # Before the epoch too: the fraction of a second is always counted forwards.
    assert to_millis(_utc(1969, 12, 31, 23, 59, 59, 999_999)) == _utc(
        1969, 12, 31, 23, 59, 59, 999_000)
    paris = datetime(2020, 6, 1, 2, 15, 0, 456_789, tzinfo=timezone(timedelta(hours=2)))
    assert to_millis(paris) == paris.replace(microsecond=456_000)
    assert to_millis(paris).tzinfo == paris.tzinfo


def test_utc_now_ms_is_a_whole_millisecond_in_utc() -> None:
    before = datetime.now(UTC)
    now = utc_now_ms()
    after = datetime.now(UTC)
    assert now.microsecond % 1000 == 0
    assert now.tzinfo is UTC
    assert to_millis(before) <= now <= after
