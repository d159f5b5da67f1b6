"""The faults the sensor generator can inject, and the `--faults` syntax that asks for them
(`SYNTAX`, which `meterlake generate sensors --help` shows)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

FAULT_NAMES = ("gap", "duplicate", "out_of_range", "late", "clock_behind", "clock_jump_back",
               "malformed")
RATE_FAULTS = ("gap", "duplicate", "out_of_range", "late", "malformed")
CLOCK_FAULTS = ("clock_behind", "clock_jump_back")
SYNTAX = """\
faults (--faults NAME=VALUE ...; a rate is the probability per message, times are seconds):
  gap=RATE[:SECONDS]           a sensor falls silent for SECONDS (default 5) from a message on
  duplicate=RATE               the message is published twice, the copy right after it
  out_of_range=RATE            the value lies outside the sensor's registry range
  late=RATE[:SECONDS]          the message is held back SECONDS (default 5), its dt unchanged
  malformed=RATE               the payload breaks the contract: cut JSON, not UTF-8, not an
                               object, no value, value a string, dt not ISO or with an
                               offset, id a number
  clock_behind=SENSOR:SECONDS  that sensor's dt lags real time by SECONDS
  clock_jump_back=SENSOR:SECONDS[@AT]
                               that sensor's clock is set back SECONDS once, AT seconds into
                               the run (default: half way), and stays behind
The clock faults may be given for several sensors, every other fault once.
e.g. --faults gap=0.01 duplicate=0.02 malformed=0.005 'clock_behind=Sensor 3:120'
"""
DEFAULT_GAP_S = 5.0
DEFAULT_LATE_S = 5.0
# How a malformed payload breaks the message contract, drawn evenly.
MALFORMED_KINDS = ("truncated_json", "not_utf8", "not_an_object", "missing_value",
                   "value_is_a_string", "dt_not_iso", "dt_with_offset", "id_is_a_number")


@dataclass(frozen=True)
class ClockShift:
    """A sensor's clock set `seconds` behind real time: from the start (`clock_behind`), or from
    `at_s` seconds into the run (`clock_jump_back`; None: half way)."""

    sensor_id: str
    seconds: float
    at_s: float | None = None


@dataclass(frozen=True)
class Faults:
    """What `--faults` asked for; the default injects nothing."""

    gap_rate: float = 0.0
    gap_s: float = DEFAULT_GAP_S
    duplicate_rate: float = 0.0
    out_of_range_rate: float = 0.0
    late_rate: float = 0.0
    late_s: float = DEFAULT_LATE_S
    malformed_rate: float = 0.0
    clocks_behind: tuple[ClockShift, ...] = ()
    clock_jumps_back: tuple[ClockShift, ...] = ()

    @property
    def requested(self) -> tuple[str, ...]:
        """The fault names asked for, in the order of FAULT_NAMES."""
        asked = {name for name in RATE_FAULTS if getattr(self, f"{name}_rate") > 0}
        asked |= {"clock_behind"} if self.clocks_behind else set()
        asked |= {"clock_jump_back"} if self.clock_jumps_back else set()
        return tuple(name for name in FAULT_NAMES if name in asked)


def parse_faults(tokens: Sequence[str]) -> Faults:
    """The `Faults` of `--faults` tokens (`SYNTAX`); ValueError naming the token otherwise."""
    fields: dict[str, Any] = {}  # Faults' rates and seconds, by field name
    clocks: dict[str, list[ClockShift]] = {name: [] for name in CLOCK_FAULTS}
    for token in tokens:
        name, equals, value = token.partition("=")
        try:
            if not equals or name not in FAULT_NAMES:
                raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(FAULT_NAMES)}")
            if name in CLOCK_FAULTS:
                shift = _clock_shift(value, with_instant=name == "clock_jump_back")
                if any(s.sensor_id == shift.sensor_id for s in clocks[name]):
                    raise ValueError(f"{name} is already given for {shift.sensor_id!r}")
                clocks[name].append(shift)
                continue
            if f"{name}_rate" in fields:
                raise ValueError(f"{name} is already given")
            fields.update(_rate_fault(name, value))
        except ValueError as error:
            raise ValueError(f"--faults {token!r}: {error}") from None
    return replace(Faults(clocks_behind=tuple(clocks["clock_behind"]),
                          clock_jumps_back=tuple(clocks["clock_jump_back"])), **fields)


def _rate_fault(name: str, value: str) -> dict[str, float]:
    rate_text, colon, seconds_text = value.partition(":")
    rate = _number(rate_text, "the rate")
    if not 0 <= rate <= 1:
        raise ValueError(f"the rate must be between 0 and 1, got {rate_text}")
    fields = {f"{name}_rate": rate}
    if colon:
        if name not in ("gap", "late"):
            raise ValueError(f"{name} takes a rate only")
        fields[f"{name}_s"] = _positive_seconds(seconds_text)
    return fields


def _clock_shift(value: str, *, with_instant: bool) -> ClockShift:
    value, at, at_text = value.rpartition("@") if with_instant and "@" in value else (value, "", "")
    sensor_id, colon, seconds_text = value.rpartition(":")
    if not colon or not sensor_id:
        raise ValueError("expected SENSOR:SECONDS" + ("[@AT]" if with_instant else ""))
    at_s = None
    if at:
        at_s = _number(at_text, "the instant")
        if at_s < 0:
            raise ValueError(f"the instant must be at least 0 s into the run, got {at_text}")
    return ClockShift(sensor_id, _positive_seconds(seconds_text), at_s)


def _positive_seconds(text: str) -> float:
    seconds = _number(text, "the time")
    if seconds <= 0:
        raise ValueError(f"the time must be more than 0 s, got {text}")
    return seconds


def _number(text: str, what: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what} is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {text!r}")
    return number
