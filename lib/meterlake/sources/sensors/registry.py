"""The sensor registry: `sensors.json`, one entry per sensor id, read into frozen `Sensor`s.

    {"Sensor 1": {"lat": 10, "lng": 10, "unit": "C", "type": "temperature",
                  "range": [0, 45], "description": "Main Entrance"}, ...}

Every entry has exactly these six fields: `lat` (-90 to 90) and `lng` (-180 to 180) numbers,
`unit`, `type` and `description` strings (the first two not empty), and `range`, the
`[min, max]` of the values the sensor can measure (numbers, min <= max). A registry with a bad
entry is refused whole, with an error naming the file, the sensor and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIELDS = ("lat", "lng", "unit", "type", "range", "description")


class RegistryError(ValueError):
    """The registry cannot be used; the message names the file, and the sensor and field."""


@dataclass(frozen=True)
class Sensor:
    sensor_id: str
    lat: float
    lng: float
    unit: str
    type: str
    range_min: float
    range_max: float
    description: str

    @property
    def has_whole_range(self) -> bool:
        """Both bounds are whole numbers: the sensor reports whole values, as the reference
        sensors do."""
        return float(self.range_min).is_integer() and float(self.range_max).is_integer()


def load_registry(path: Path) -> tuple[Sensor, ...]:
    """The sensors of the registry file at `path`, in the file's order."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RegistryError(f"{path}: not UTF-8 text: {error.reason} at byte {error.start}") \
            from None
    return parse_registry(text, str(path))


def parse_registry(text: str, source_name: str) -> tuple[Sensor, ...]:
    """The sensors of a registry's JSON text; `source_name` names it in errors."""
    try:
        document = json.loads(text, object_pairs_hook=_Members)
    except json.JSONDecodeError as error:
        raise RegistryError(f"{source_name}: not JSON: {error}") from None
    if not isinstance(document, _Members) or not document:
        got = "an empty object" if isinstance(document, _Members) else _kind(document)
        raise RegistryError(f"{source_name}: expected a JSON object of sensors by id, got {got}")
    if document.repeated:
        raise RegistryError(f"{source_name}: sensor {_names(document.repeated)} appears more "
                            "than once")
    return tuple(_sensor(source_name, sensor_id, entry) for sensor_id, entry in document.items())


class _Members(dict[str, Any]):
    """A JSON object that remembers which names it repeats: json.loads keeps the last of them
    silently, and two entries for one sensor id (or two `range`s) must not lose one."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        names = [name for name, _ in pairs]
        self.repeated = sorted({name for name in names if names.count(name) > 1})


def _names(names: list[str]) -> str:
    return ", ".join(map(repr, names))


def _sensor(source_name: str, sensor_id: str, entry: Any) -> Sensor:
    where = f"{source_name}: sensor {sensor_id!r}"
    if not sensor_id.strip():
        raise RegistryError(f"{source_name}: a sensor id is empty")
    if not isinstance(entry, _Members):
        raise RegistryError(f"{where}: expected an object of {', '.join(FIELDS)}, got "
                            f"{_kind(entry)}")
    if entry.repeated:
        raise RegistryError(f"{where}: field {_names(entry.repeated)} appears more than once")
    missing = [name for name in FIELDS if name not in entry]
    unexpected = [name for name in entry if name not in FIELDS]
    if missing or unexpected:
        parts = ([f"missing field {', '.join(missing)}"] if missing else []) + (
            [f"unexpected field {', '.join(unexpected)}"] if unexpected else [])
        raise RegistryError(f"{where}: {'; '.join(parts)}")
    try:
        # In the order of FIELDS, so that the first bad field is the one named.
        lat, lng = _number(entry, "lat", -90, 90), _number(entry, "lng", -180, 180)
        unit = _text(entry, "unit", may_be_empty=False)
        sensor_type = _text(entry, "type", may_be_empty=False)
        range_min, range_max = _range(entry["range"])
        description = _text(entry, "description", may_be_empty=True)
    except ValueError as error:
        raise RegistryError(f"{where}: {error}") from None
    return Sensor(sensor_id, lat, lng, unit, sensor_type, range_min, range_max, description)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(entry: dict[str, Any], name: str, lowest: float, highest: float) -> float:
    value = entry[name]
    if not _is_number(value):
        raise ValueError(f"{name}: expected a number, got {_kind(value)}")
    if not lowest <= value <= highest:
        raise ValueError(f"{name}: expected {lowest} to {highest}, got {value}")
    return value


def _text(entry: dict[str, Any], name: str, *, may_be_empty: bool) -> str:
    value = entry[name]
    if not isinstance(value, str) or not (may_be_empty or value.strip()):
        raise ValueError(f"{name}: expected a {'' if may_be_empty else 'non-empty '}string, "
                         f"got {_kind(value)}")
    return value


def _range(value: Any) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
        raise ValueError(f"range: expected [min, max], two numbers, got {json.dumps(value)}")
    low, high = value
    if low > high:
        raise ValueError(f"range: min {low} is greater than max {high}")
    return low, high


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else f"the string {value!r}"
    return "an array" if isinstance(value, list) else "an object"
