"""The sensor registry (sources/sensors/registry.py): the shared sensors.json read exactly, and
every kind of bad entry refused with the file, the sensor and the field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from meterlake.sources.sensors.registry import (
    RegistryError,
    Sensor,
    load_registry,
    parse_registry,
)
from tests.helpers.paths import FIXTURES

GOOD = {"lat": 10, "lng": 20, "unit": "C", "type": "temperature", "range": [0, 45],
        "description": "Hall"}


def test_the_shared_registry_loads_exactly() -> None:
    assert load_registry(FIXTURES / "iot" / "sensors.json") == (
        Sensor("Sensor 1", 10, 10, "C", "temperature", 0, 45, "Main Entrance"),
        Sensor("Sensor 2", 90, 90, "C", "temperature", 0, 45, "Kitchen"),
        Sensor("Sensor 3", 90, 10, "C", "temperature", 0, 45, "Deposit"),
        Sensor("Sensor 4", 10, 90, "C", "temperature", 0, 45, "Assemlby Floor"),
        Sensor("Sensor 5", 50, 50, "C", "temperature", 0, 45, "Offices"),
    )


def test_a_sensor_is_frozen_and_knows_whether_its_range_is_whole() -> None:
    sensor, pump = parse_registry(json.dumps({
        "S": GOOD, "P": {**GOOD, "range": [-5.5, 5.0], "description": ""}}), "r.json")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sensor.lat = 0  # type: ignore[misc]
    assert (sensor.has_whole_range, pump.has_whole_range, pump.description) == (True, False, "")


def with_field(name: str, value: Any) -> str:
    return json.dumps({"Sensor 1": GOOD, "Sensor 7": {**GOOD, name: value}})


@pytest.mark.parametrize(("text", "message"), [
    ("{", "r.json: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
          "(char 1)"),
    ("[]", "r.json: expected a JSON object of sensors by id, got an array"),
    ("{}", "r.json: expected a JSON object of sensors by id, got an empty object"),
    ('{"S": 1, "S": 2}', "r.json: sensor 'S' appears more than once"),
    ('{" ": {}}', "r.json: a sensor id is empty"),
    ('{"S": 3}', "r.json: sensor 'S': expected an object of lat, lng, unit, type, range, "
                 "description, got the number 3"),
    ('{"S": {"lat": 1, "lat": 2}}', "r.json: sensor 'S': field 'lat' appears more than once"),
    ('{"S": {"lat": 1, "lng": 2, "kind": "x"}}',
     "r.json: sensor 'S': missing field unit, type, range, description; unexpected field kind"),
    (with_field("lat", 90.5), "r.json: sensor 'Sensor 7': lat: expected -90 to 90, got 90.5"),
    (with_field("lat", True), "r.json: sensor 'Sensor 7': lat: expected a number, got a boolean"),
    (with_field("lng", -181), "r.json: sensor 'Sensor 7': lng: expected -180 to 180, got -181"),
    (with_field("lng", "10"),
     "r.json: sensor 'Sensor 7': lng: expected a number, got the string '10'"),
    (with_field("unit", " "),
     "r.json: sensor 'Sensor 7': unit: expected a non-empty string, got an empty string"),
    (with_field("type", None),
     "r.json: sensor 'Sensor 7': type: expected a non-empty string, got null"),
    (with_field("range", [45, 0]), "r.json: sensor 'Sensor 7': range: min 45 is greater than "
                                   "max 0"),
    (with_field("range", [0]),
     "r.json: sensor 'Sensor 7': range: expected [min, max], two numbers, got [0]"),
    (with_field("range", [0, float("nan")]),
     "r.json: sensor 'Sensor 7': range: expected [min, max], two numbers, got [0, NaN]"),
    (with_field("description", ["Hall"]),
     "r.json: sensor 'Sensor 7': description: expected a string, got an array"),
])
def test_a_bad_registry_is_refused_naming_file_sensor_and_field(text: str, message: str) -> None:
    with pytest.raises(RegistryError) as refused:
        parse_registry(text, "r.json")
    assert str(refused.value) == message


def test_a_registry_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sensors.json"
    path.write_bytes(b'{"Sensor \xe9": {}}')
    with pytest.raises(RegistryError) as refused:
        load_registry(path)
    assert str(refused.value) == f"{path}: not UTF-8 text: invalid continuation byte at byte 9"
