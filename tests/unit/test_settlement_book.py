"""The settlement book is validated on load, with errors that name the value; local times follow
the partner's zone through DST."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterlake.core.config import ConfigError
from meterlake.gold.settlement.book import book_from_mapping, load_book, month_bounds
from meterlake.gold.settlement.events import baseline_days, events_in_month
from tests.helpers.paths import REPO
from tests.helpers.settlement_case import BOOK

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _book(**changes: Any) -> dict:
    raw = copy.deepcopy(BOOK)
    raw.update(changes)
    return raw


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as error:
        book_from_mapping(raw, "conf/settlement.yaml")
    return str(error.value)


@pytest.mark.parametrize(("month", "quarter_hours"), [
    ("2024-03", 31 * 96 - 4),   # DST starts on 31 March: a day of 92
    ("2024-10", 31 * 96 + 4),   # DST ends on 27 October: a day of 100
    ("2024-02", 29 * 96),       # leap year, no change
])
def test_a_local_month_has_the_quarter_hours_of_its_days(month: str, quarter_hours: int) -> None:
    start, end = month_bounds(month, AMSTERDAM)
    assert (end - start).total_seconds() / 900 == quarter_hours
    assert start == datetime(int(month[:4]), int(month[5:]), 1, tzinfo=AMSTERDAM).astimezone(UTC)


def test_the_case_book_loads_with_its_instants_in_utc() -> None:
    book = book_from_mapping(BOOK, "case")
    moves = [a for a in book.assignments if a.meter_id == "M2"]
    assert [(a.partner, a.starts, a.ends) for a in moves] == [
        ("north", datetime(2023, 12, 31, 23, tzinfo=UTC), datetime(2024, 3, 15, 23, tzinfo=UTC)),
        ("south", datetime(2024, 3, 15, 23, tzinfo=UTC), None),
    ]
    (event,) = events_in_month(book, "2024-03")
    assert (event.starts, event.ends) == (datetime(2024, 3, 20, 16, tzinfo=UTC),
                                          datetime(2024, 3, 20, 18, tzinfo=UTC))
    assert events_in_month(book, "2024-04") == []


def test_baseline_days_are_the_ten_weekdays_before_without_events() -> None:
    book = book_from_mapping(BOOK, "case")
    assert baseline_days(book.events[0], book) == [
        date(2024, 3, d) for d in (19, 18, 15, 14, 13, 12, 11, 8, 7, 6)]
    with_earlier_event = _book(events=[*BOOK["events"], {
        "id": "dr-0314", "partner": "north", "start": "2024-03-14T17:00",
        "end": "2024-03-14T18:00", "price": 1}])
    book = book_from_mapping(with_earlier_event, "case")
    assert baseline_days(book.events[0], book) == [
        date(2024, 3, d) for d in (19, 18, 15, 13, 12, 11, 8, 7, 6, 5)]


def test_the_shipped_sample_book_is_valid() -> None:
    book = load_book(REPO / "conf" / "settlement.yaml")
    assert set(book.partners) == {"north", "south"}
    assert len({a.meter_id for a in book.assignments}) == 23


@pytest.mark.parametrize(("change", "message"), [
    ({"assignments": [{"meter": "M1", "partner": "north", "from": "2024-03-31T02:30"}]},
     "assignments[0].from: 2024-03-31T02:30 does not exist in Europe/Amsterdam (DST starts)"),
    ({"assignments": [{"meter": "M1", "partner": "north", "from": "2024-10-27T02:30"}]},
     "assignments[0].from: 2024-10-27T02:30 happens twice in Europe/Amsterdam (DST ends)"),
    ({"assignments": [{"meter": "M1", "partner": "north", "from": "2024-03-01T00:00+01:00"}]},
     "give local time without an offset"),
    ({"assignments": [{"meter": "M1", "partner": "north", "from": "2024-03-01T00:10"}]},
     "assignments[0].from: must fall on a quarter-hour"),
    ({"assignments": [{"meter": "M1", "partner": "east", "from": "2024-03-01T00:00"}]},
     "assignments[0].partner: unknown partner 'east'"),
    ({"assignments": [{"meter": "M1", "partner": "north", "from": "2024-01-01T00:00"},
                      {"meter": "M1", "partner": "south", "from": "2024-03-01T00:00"}]},
     "meter 'M1' belongs to 'north' from 2023-12-31T23:00Z and to 'south' from "
     "2024-02-29T23:00Z at the same time"),
    ({"events": [{"id": "e", "partner": "north", "start": "2024-03-20T23:00",
                  "end": "2024-03-21T01:00", "price": 1}]},
     "events[0]: an event must start and end on the same local day"),
    ({"events": [{"id": "e", "partner": "north", "start": "2024-03-20T17:00",
                  "end": "2024-03-20T18:00", "price": -1}]},
     "events[0].price: must be a finite number >= 0"),
    ({"events": [{"id": "e", "partner": "north", "start": "2024-03-20T03:00",
                  "end": "2024-03-20T05:00", "price": 1}]},
     "events[0]: an event must start at 04:00 local time or later"),
    ({"extra": 1}, "the book: unknown keys ['extra']"),
])
def test_bad_books_are_refused_naming_the_value(change: dict, message: str) -> None:
    error = _error(_book(**change))
    assert error.startswith("conf/settlement.yaml: ")
    assert message in error


def _north(**changes: Any) -> dict:
    raw = _book()
    raw["partners"]["north"].update(changes)
    return raw


@pytest.mark.parametrize(("change", "message"), [
    ({"time_zone": "Mars/Olympus"}, "partners.north.time_zone: unknown time zone 'Mars/Olympus'"),
    ({"prices": {"peak": 0.3}}, "partners.north.prices: must price exactly the windows "
                                "['offpeak', 'peak'], got ['peak']"),
    ({"prices": {"peak": "cheap", "offpeak": 1}}, "partners.north.prices.peak: must be a number"),
    ({"windows": [{"name": "all", "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                   "start": "00:00", "end": "24:00"}]},
     "partners.north.windows: sun 00:00 is in no window"),
    ({"windows": [{"name": "a", "days": ["mon"], "start": "00:00", "end": "24:00"},
                  {"name": "b", "days": ["mon"], "start": "07:00", "end": "08:00"}]},
     "partners.north.windows: mon 07:00 is in both 'a' and 'b'"),
    ({"windows": [{"name": "a", "days": ["mon"], "start": 420, "end": "24:00"}]},
     "partners.north.windows[0].start: quote the time ('07:00')"),
    ({"windows": [{"name": "a", "days": ["mon"], "start": "22:00", "end": "06:00"}]},
     "partners.north.windows[0]: end 06:00 must be after start 22:00"),
])
def test_bad_partners_are_refused_naming_the_value(change: dict, message: str) -> None:
    assert message in _error(_north(**change))


def test_a_missing_book_and_bad_yaml_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="settlement book not found: .*nothing.yaml"):
        load_book(tmp_path / "nothing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("partners: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_book(broken)
