"""The settlement book: partners, meter membership, time-of-use windows, prices and events.

Loaded from the file named by --book, else from the sample book shipped in the package
(meterlake/conf/settlement.yaml; the repository's conf/settlement.yaml links to it), and
validated before any Spark work. Every local time in the book is read in its partner's time
zone, because settlement windows are a local business rule; a local time that does not exist or
happens twice there (a DST change) is refused, so no instant is ever guessed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meterlake.core.config import ConfigError, read_yaml

DEFAULT_BOOK = files("meterlake") / "conf" / "settlement.yaml"
INTERVAL_MINUTES = 15
EARLIEST_EVENT_HOUR = 4
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK_RE = re.compile(r"^(\d{2}):(\d{2})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class TouWindow:
    """One stretch of a time-of-use window: these weekdays, [start, end) in local minutes."""

    name: str
    days: tuple[int, ...]  # 0 = Monday, as date.weekday()
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class Partner:
    name: str
    time_zone: str
    currency: str
    windows: tuple[TouWindow, ...]
    prices: Mapping[str, Decimal]  # per kWh, by window name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class Assignment:
    """Meter `meter_id` belongs to `partner` from `starts` until `ends` (UTC, end exclusive)."""

    meter_id: str
    partner: str
    starts: datetime
    ends: datetime | None


@dataclass(frozen=True)
class Event:
    """A demand-response event of one partner, [starts, ends) in UTC."""

    event_id: str
    partner: str
    starts: datetime
    ends: datetime
    price: Decimal  # per kWh of delivered reduction


@dataclass(frozen=True)
class SettlementBook:
    partners: Mapping[str, Partner]
    assignments: tuple[Assignment, ...]
    events: tuple[Event, ...]
    raw: Mapping[str, Any]  # the validated document, kept for manifests and reproduction

    def for_partners(self, names: list[str]) -> SettlementBook:
        """The part of the book that concerns `names`: what a run of those partners depends on."""
        unknown = sorted(set(names) - set(self.partners))
        if unknown:
            raise ConfigError(f"unknown partners {unknown}; the book has {sorted(self.partners)}")
        keep = set(names)
        raw = {
            "partners": {n: self.raw["partners"][n] for n in sorted(keep)},
            "assignments": [a for a in self.raw.get("assignments") or [] if a["partner"] in keep],
            "events": [e for e in self.raw.get("events") or [] if e["partner"] in keep],
        }
        return book_from_mapping(raw, "<book>")

    def canonical_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True, separators=(",", ":"), default=str)

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first local midnight, next month's first local midnight) of `YYYY-MM`, in UTC."""
    first = parse_month(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime.combine(first, datetime.min.time(), zone).astimezone(UTC),
        datetime.combine(following, datetime.min.time(), zone).astimezone(UTC),
    )


def parse_month(month: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise ConfigError(f"month must be YYYY-MM, got {month!r}")
    try:
        return date(int(month[:4]), int(month[5:]), 1)
    except ValueError as error:
        raise ConfigError(f"month must be YYYY-MM, got {month!r}") from error


def local_instant(text: Any, zone: ZoneInfo, where: str) -> datetime:
    """A naive local `YYYY-MM-DDTHH:MM` on a quarter-hour, as a UTC instant; refuses a local time
    that a DST change skips or repeats in `zone`."""
    if isinstance(text, datetime):  # YAML reads an unquoted time with seconds as a datetime
        text = text.isoformat()
    if not isinstance(text, str):
        raise ConfigError(f"{where}: must be a local time 'YYYY-MM-DDTHH:MM', got {text!r}")
    try:
        naive = datetime.fromisoformat(text)
    except ValueError as error:
        raise ConfigError(f"{where}: not a local time 'YYYY-MM-DDTHH:MM': {text!r}") from error
    if naive.tzinfo is not None:
        raise ConfigError(f"{where}: give local time without an offset (the partner's zone "
                          f"{zone.key} applies): {text!r}")
    if naive.minute % INTERVAL_MINUTES or naive.second or naive.microsecond:
        raise ConfigError(f"{where}: must fall on a quarter-hour: {text!r}")
    early = naive.replace(tzinfo=zone, fold=0)
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ConfigError(f"{where}: {text} does not exist in {zone.key} (DST starts)")
    if early.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
        raise ConfigError(f"{where}: {text} happens twice in {zone.key} (DST ends); "
                          "choose an unambiguous time")
    return early.astimezone(UTC)


def _clock_minute(text: Any, where: str) -> int:
    if isinstance(text, int):
        raise ConfigError(f"{where}: quote the time ('07:00'): YAML reads an unquoted HH:MM as "
                          f"a number, got {text!r}")
    match = _CLOCK_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(f"{where}: must be 'HH:MM', got {text!r}")
    minute = int(match[1]) * 60 + int(match[2])
    if minute > 24 * 60 or int(match[2]) >= 60 or minute % INTERVAL_MINUTES:
        raise ConfigError(f"{where}: must be a quarter-hour between 00:00 and 24:00, "
                          f"got {text!r}")
    return minute


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where}: must be a number, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise ConfigError(f"{where}: must be a number, got {value!r}") from error
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{where}: must be a finite number >= 0, got {value!r}")
    return amount


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {value!r}")
    return value


def _keys(section: Mapping[str, Any], required: set[str], optional: set[str], where: str) -> None:
    missing = sorted(required - set(section))
    unknown = sorted(set(section) - required - optional)
    if missing:
        raise ConfigError(f"{where}: missing {missing}")
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ConfigError(f"{where}: must be a name of letters, digits, '_', '.' or '-', "
                          f"got {value!r}")
    return value


def _windows(raw: Any, where: str) -> tuple[TouWindow, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: must be a non-empty list of windows")
    windows = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        item = _mapping(item, at)
        _keys(item, {"name", "days", "start", "end"}, set(), at)
        days = item["days"]
        if not isinstance(days, list) or not days or any(d not in DAY_NAMES for d in days):
            raise ConfigError(f"{at}.days: must list days from {list(DAY_NAMES)}, got {days!r}")
        start = _clock_minute(item["start"], f"{at}.start")
        end = _clock_minute(item["end"], f"{at}.end")
        if end <= start:
            raise ConfigError(f"{at}: end {item['end']} must be after start {item['start']} "
                              "(split a window that crosses midnight in two)")
        windows.append(TouWindow(_name(item["name"], f"{at}.name"),
                                 tuple(sorted(DAY_NAMES.index(d) for d in days)), start, end))
    _check_week_covered(windows, where)
    return tuple(windows)


def _check_week_covered(windows: list[TouWindow], where: str) -> None:
    """Every local quarter-hour of the week falls in exactly one window."""
    owner: dict[tuple[int, int], str] = {}
    for window in windows:
        for day in window.days:
            for minute in range(window.start_minute, window.end_minute, INTERVAL_MINUTES):
                if (day, minute) in owner:
                    raise ConfigError(
                        f"{where}: {DAY_NAMES[day]} {minute // 60:02d}:{minute % 60:02d} is in "
                        f"both '{owner[(day, minute)]}' and '{window.name}'")
                owner[(day, minute)] = window.name
    for day in range(7):
        for minute in range(0, 24 * 60, INTERVAL_MINUTES):
            if (day, minute) not in owner:
                raise ConfigError(f"{where}: {DAY_NAMES[day]} {minute // 60:02d}:"
                                  f"{minute % 60:02d} is in no window")


def _partner(name: str, raw: Any, where: str) -> Partner:
    section = _mapping(raw, where)
    _keys(section, {"time_zone", "currency", "windows", "prices"}, set(), where)
    try:
        ZoneInfo(str(section["time_zone"]))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(f"{where}.time_zone: unknown time zone "
                          f"{section['time_zone']!r}") from error
    windows = _windows(section["windows"], f"{where}.windows")
    prices = _mapping(section["prices"], f"{where}.prices")
    names = {w.name for w in windows}
    if set(prices) != names:
        raise ConfigError(f"{where}.prices: must price exactly the windows {sorted(names)}, "
                          f"got {sorted(prices)}")
    return Partner(
        name=name, time_zone=str(section["time_zone"]), currency=str(section["currency"]),
        windows=windows,
        prices={w: _amount(prices[w], f"{where}.prices.{w}") for w in sorted(names)},
    )


def _assignments(raw: Any, partners: Mapping[str, Partner]) -> tuple[Assignment, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"assignments: must be a list, got {raw!r}")
    parsed = []
    for index, item in enumerate(raw):
        at = f"assignments[{index}]"
        item = _mapping(item, at)
        _keys(item, {"meter", "partner", "from"}, {"until"}, at)
        partner = partners.get(item["partner"])
        if partner is None:
            raise ConfigError(f"{at}.partner: unknown partner {item['partner']!r}")
        starts = local_instant(item["from"], partner.zone, f"{at}.from")
        ends = None
        if item.get("until") is not None:
            ends = local_instant(item["until"], partner.zone, f"{at}.until")
            if ends <= starts:
                raise ConfigError(f"{at}: until {item['until']} must be after from {item['from']}")
        if not isinstance(item["meter"], str) or not item["meter"]:
            raise ConfigError(f"{at}.meter: must be a meter id, got {item['meter']!r}")
        parsed.append(Assignment(item["meter"], partner.name, starts, ends))
    _check_no_overlap(parsed)
    return tuple(parsed)


def _check_no_overlap(assignments: list[Assignment]) -> None:
    """A meter belongs to at most one partner at any instant."""
    far = datetime.max.replace(tzinfo=UTC)
    by_meter: dict[str, list[Assignment]] = {}
    for assignment in assignments:
        by_meter.setdefault(assignment.meter_id, []).append(assignment)
    for meter_id, periods in by_meter.items():
        periods.sort(key=lambda a: a.starts)
        for before, after in zip(periods, periods[1:], strict=False):
            if (before.ends or far) > after.starts:
                raise ConfigError(
                    f"assignments: meter {meter_id!r} belongs to '{before.partner}' from "
                    f"{before.starts:%Y-%m-%dT%H:%MZ} and to '{after.partner}' from "
                    f"{after.starts:%Y-%m-%dT%H:%MZ} at the same time; end the first with "
                    "'until'")


def _events(raw: Any, partners: Mapping[str, Partner]) -> tuple[Event, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"events: must be a list, got {raw!r}")
    parsed, seen = [], set()
    for index, item in enumerate(raw):
        at = f"events[{index}]"
        item = _mapping(item, at)
        _keys(item, {"id", "partner", "start", "end", "price"}, set(), at)
        event_id = _name(item["id"], f"{at}.id")
        if event_id in seen:
            raise ConfigError(f"{at}.id: {event_id!r} is listed twice")
        seen.add(event_id)
        partner = partners.get(item["partner"])
        if partner is None:
            raise ConfigError(f"{at}.partner: unknown partner {item['partner']!r}")
        starts = local_instant(item["start"], partner.zone, f"{at}.start")
        ends = local_instant(item["end"], partner.zone, f"{at}.end")
        if ends <= starts or ends - starts > timedelta(hours=12):
            raise ConfigError(f"{at}: end must be after start and at most 12 hours later")
        local_start = starts.astimezone(partner.zone)
        if local_start.date() != (ends - timedelta(minutes=1)).astimezone(partner.zone).date():
            raise ConfigError(f"{at}: an event must start and end on the same local day")
        if local_start.hour < EARLIEST_EVENT_HOUR:
            # The day-of adjustment window (3 hours ending 1 hour before) stays on the event day.
            raise ConfigError(f"{at}: an event must start at {EARLIEST_EVENT_HOUR:02d}:00 local "
                              "time or later")
        parsed.append(Event(event_id, partner.name, starts, ends,
                            _amount(item["price"], f"{at}.price")))
    return tuple(parsed)


def book_from_mapping(raw: Any, where: str) -> SettlementBook:
    """Validates a parsed book; every error names `where` and the dotted path of the value."""
    try:
        document = _mapping(raw, "the book")
        _keys(document, {"partners"}, {"assignments", "events"}, "the book")
        partners_raw = _mapping(document["partners"], "partners")
        partners = {
            _name(name, "partners"): _partner(name, value, f"partners.{name}")
            for name, value in partners_raw.items()
        }
        assignments = _assignments(document.get("assignments") or [], partners)
        events = _events(document.get("events") or [], partners)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    canonical = json.loads(json.dumps(document, sort_keys=True, default=str))
    return SettlementBook(partners, assignments, events, canonical)


def load_book(path: str | Path | None = None) -> SettlementBook:
    book_path = Path(path) if path else DEFAULT_BOOK
    return book_from_mapping(read_yaml(book_path, "settlement book"), str(book_path))
