"""A deterministic stand-in for the sensors: what each one would publish, when, and which fault
(sources/sensors/faults.py) made it differ from a clean reading. Pure: no broker, no clock of
its own (`publish.py` sends the plan on time).

Like the reference generator, each sensor of the registry publishes one message per period
(1/rate seconds) to the topic `sensors`: `{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162",
"value": 27}`, `dt` the sensor's clock at sending, in UTC without offset, to the millisecond,
and `value` drawn uniformly from the sensor's range (whole numbers when both bounds are whole,
as the reference sends; else three decimals). Tick k of every sensor is at `start + k/rate`,
plus a jitter of 0 to `jitter_ms` milliseconds drawn per message.

Determinism: each sensor draws from a generator seeded by (seed, sensor id), the same number of
draws per tick whatever the faults, so the same seed gives the same values and fault decisions,
and asking for one more fault changes no value of a message it does not touch.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from meterlake.core.instants import to_millis
from meterlake.sources.sensors.faults import FAULT_NAMES, MALFORMED_KINDS, ClockShift, Faults
from meterlake.sources.sensors.registry import Sensor

# The draws of one tick, in order; every tick makes all of them.
_DRAWS = ("value", "jitter", "gap", "duplicate", "out_of_range", "overshoot", "late",
          "malformed", "malformed_kind")


@dataclass(frozen=True)
class Schedule:
    rate_hz: float  # messages per sensor per second
    duration_s: float  # ticks at 0 <= k/rate < duration; late messages may follow
    jitter_ms: int = 0
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        # dt is to the millisecond: a faster sensor would send two messages with one dt.
        if not (math.isfinite(self.rate_hz) and 0 < self.rate_hz <= 1000):
            raise ValueError("the rate must be more than 0 and at most 1000 messages a second, "
                             f"got {self.rate_hz:g}")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"the duration must be more than 0 s, got {self.duration_s}")
        if not 0 <= self.jitter_ms < 1000 / self.rate_hz:
            raise ValueError(f"the jitter must be at least 0 ms and shorter than the period "
                             f"({1000 / self.rate_hz:g} ms), got {self.jitter_ms}")

    def tick_ms(self, tick: int) -> int:
        return round(tick * 1000 / self.rate_hz)

    @property
    def ticks(self) -> int:
        """How many ticks start within the duration (k with tick_ms(k) < its milliseconds)."""
        duration_ms = round(self.duration_s * 1000)
        return next(k for k in range(math.ceil(self.duration_s * self.rate_hz) + 2)
                    if self.tick_ms(k) >= duration_ms)


@dataclass(frozen=True)
class PlannedMessage:
    """One message a sensor would publish at `publish_at`, and the faults that shaped it; a
    payload of None is one a gap withheld (never published)."""

    publish_at: datetime
    sensor_id: str
    payload: bytes | None
    faults: tuple[str, ...]


def plan_messages(sensors: Sequence[Sensor], schedule: Schedule, seed: int,
                  start: datetime) -> Iterator[PlannedMessage]:
    """Every message of the run that starts at `start` (an aware instant, cut to the
    millisecond), in publishing order: by `publish_at`, then as generated (registry order, the
    original before its duplicate)."""
    if start.utcoffset() is None:
        raise ValueError(f"start must be an aware instant, got {start.isoformat()}")
    check_clock_faults(sensors, schedule)
    return _in_publishing_order(schedule, [
        _SensorClock(sensor, index, schedule, random.Random(f"{seed}:{sensor.sensor_id}"))
        for index, sensor in enumerate(sensors)], to_millis(start.astimezone(UTC)))


def tally(messages: Iterable[PlannedMessage]) -> Counter[str]:
    """How many messages each fault touched (`gap`: how many were withheld), `clean` the
    published ones no fault touched, `published` all published ones."""
    counts: Counter[str] = Counter()
    for message in messages:
        if message.payload is not None:
            counts["published"] += 1
        counts.update(labels_of(message))
    return counts


def labels_of(message: PlannedMessage) -> tuple[str, ...]:
    """The message's faults, or `("clean",)`."""
    return message.faults or ("clean",)


def format_dt(instant: datetime) -> str:
    """`2025-11-12T08:32:34.162`: UTC, without offset, to the millisecond."""
    utc = instant.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}"


def sensor_message(sensor_id: str, dt: str, value: float) -> bytes:
    return json.dumps({"id": sensor_id, "dt": dt, "value": value}).encode("utf-8")


def check_clock_faults(sensors: Sequence[Sensor], schedule: Schedule) -> None:
    """ValueError unless every clock fault names a sensor of the registry and every jump
    happens within the run."""
    known = {sensor.sensor_id for sensor in sensors}
    faults = schedule.faults
    for name, shifts in (("clock_behind", faults.clocks_behind),
                         ("clock_jump_back", faults.clock_jumps_back)):
        for shift in shifts:
            if shift.sensor_id not in known:
                raise ValueError(f"{name}: no sensor {shift.sensor_id!r} in the registry")
    for jump in faults.clock_jumps_back:
        if jump.at_s is not None and jump.at_s >= schedule.duration_s:
            raise ValueError(f"clock_jump_back: {jump.sensor_id!r} jumps at {jump.at_s:g} s, "
                             f"after the run's {schedule.duration_s:g} s")


def _in_publishing_order(schedule: Schedule, clocks: list[_SensorClock],
                         start: datetime) -> Iterator[PlannedMessage]:
    # A message of tick k is due at or after tick k's instant (jitter and lateness only add),
    # so once tick k is generated, everything due before tick k+1 is final.
    pending: list[tuple[int, int, PlannedMessage]] = []
    sequence = 0
    for tick in range(schedule.ticks):
        for clock in clocks:
            for offset_ms, message in clock.messages(tick, start):
                heapq.heappush(pending, (offset_ms, sequence, message))
                sequence += 1
        while pending and pending[0][0] < schedule.tick_ms(tick + 1):
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]


class _SensorClock:
    """One sensor through the run: its draws, its gaps and its clock."""

    def __init__(self, sensor: Sensor, index: int, schedule: Schedule, rng: random.Random):
        self.sensor, self.index, self.schedule, self.rng = sensor, index, schedule, rng
        faults = schedule.faults
        self.behind_ms = _shift_ms(faults.clocks_behind, sensor.sensor_id)
        jump = next((s for s in faults.clock_jumps_back if s.sensor_id == sensor.sensor_id), None)
        self.jump_ms = round(jump.seconds * 1000) if jump else 0
        at_s = schedule.duration_s / 2 if jump is None or jump.at_s is None else jump.at_s
        self.jump_at_ms = round(at_s * 1000)
        self.has_jumped = False
        self.silent_until_ms = 0

    def messages(self, tick: int, start: datetime) -> list[tuple[int, PlannedMessage]]:
        """(offset from start in ms, message) for this tick: none, one, or a message and its
        duplicate."""
        faults, draw = self.schedule.faults, dict(zip(_DRAWS, self._draws(), strict=True))
        tick_ms = self.schedule.tick_ms(tick)
        sent_ms = tick_ms + min(int(draw["jitter"] * (self.schedule.jitter_ms + 1)),
                                self.schedule.jitter_ms)
        if tick_ms < self.silent_until_ms or draw["gap"] < faults.gap_rate:
            if tick_ms >= self.silent_until_ms:
                self.silent_until_ms = tick_ms + round(faults.gap_s * 1000)
            return [(sent_ms, self._message(start, sent_ms, None, {"gap"}))]
        is_malformed = draw["malformed"] < faults.malformed_rate
        labels, dt = self._sensor_time(tick_ms, start + timedelta(milliseconds=sent_ms),
                                       shows_jump=not is_malformed)
        payload = self._payload(draw, dt, labels, is_malformed)
        published_ms = sent_ms
        if draw["late"] < faults.late_rate:
            labels.add("late")
            published_ms += round(faults.late_s * 1000)
        planned = [(published_ms, self._message(start, published_ms, payload, labels))]
        if draw["duplicate"] < faults.duplicate_rate:
            planned.append((published_ms, self._message(start, published_ms, payload,
                                                        labels | {"duplicate"})))
        return planned

    def _draws(self) -> list[float]:
        return [self.rng.random() for _ in _DRAWS]

    def _sensor_time(self, tick_ms: int, sent_at: datetime, *,
                     shows_jump: bool) -> tuple[set[str], str]:
        """The fault labels of the sensor's clock, and its dt at `sent_at`. The jump is labelled
        on the first message after it whose dt can be read (`shows_jump`)."""
        labels = {"clock_behind"} if self.behind_ms else set()
        shift_ms = self.behind_ms
        if self.jump_ms and tick_ms >= self.jump_at_ms:
            shift_ms += self.jump_ms
            if shows_jump and not self.has_jumped:
                labels.add("clock_jump_back")
                self.has_jumped = True
        return labels, format_dt(sent_at - timedelta(milliseconds=shift_ms))

    def _payload(self, draw: dict[str, float], dt: str, labels: set[str],
                 is_malformed: bool) -> bytes:
        sensor = self.sensor
        value = _value_in_range(sensor, draw["value"])
        if is_malformed:
            labels.add("malformed")
            kind = MALFORMED_KINDS[min(int(draw["malformed_kind"] * len(MALFORMED_KINDS)),
                                       len(MALFORMED_KINDS) - 1)]
            return malformed_payload(kind, sensor.sensor_id, self.index, dt, value)
        if draw["out_of_range"] < self.schedule.faults.out_of_range_rate:
            labels.add("out_of_range")
            value = _value_out_of_range(sensor, draw["overshoot"])
        return sensor_message(sensor.sensor_id, dt, value)

    def _message(self, start: datetime, offset_ms: int, payload: bytes | None,
                 labels: set[str]) -> PlannedMessage:
        return PlannedMessage(start + timedelta(milliseconds=offset_ms), self.sensor.sensor_id,
                              payload, tuple(name for name in FAULT_NAMES if name in labels))


def _shift_ms(shifts: tuple[ClockShift, ...], sensor_id: str) -> int:
    return next((round(s.seconds * 1000) for s in shifts if s.sensor_id == sensor_id), 0)


def _value_in_range(sensor: Sensor, draw: float) -> float:
    if sensor.has_whole_range:
        low, high = int(sensor.range_min), int(sensor.range_max)
        return low + min(int(draw * (high - low + 1)), high - low)
    return round(sensor.range_min + draw * (sensor.range_max - sensor.range_min), 3)


def _value_out_of_range(sensor: Sensor, draw: float) -> float:
    """Below the range for a draw under 0.5, above it otherwise, by 1 to half the range's
    width (at least 1)."""
    is_below, fraction = draw < 0.5, (draw % 0.5) * 2
    half_width = max(1.0, (sensor.range_max - sensor.range_min) / 2)
    if sensor.has_whole_range:
        distance = 1 + int(fraction * int(half_width))
        return int(sensor.range_min) - distance if is_below else int(sensor.range_max) + distance
    distance_3 = round(0.001 + fraction * half_width, 3)
    return sensor.range_min - distance_3 if is_below else sensor.range_max + distance_3


def malformed_payload(kind: str, sensor_id: str, index: int, dt: str, value: float) -> bytes:
    """A payload that breaks the message contract in the way `kind` names."""
    text = sensor_message(sensor_id, dt, value)
    sent_at = datetime.fromisoformat(dt)
    documents = {
        "not_an_object": [sensor_id, dt, value],
        "missing_value": {"id": sensor_id, "dt": dt},
        "value_is_a_string": {"id": sensor_id, "dt": dt, "value": str(value)},
        "dt_not_iso": {"id": sensor_id, "dt": f"{sent_at:%d/%m/%Y %H:%M:%S}", "value": value},
        "dt_with_offset": {"id": sensor_id, "dt": f"{dt}+00:00", "value": value},
        "id_is_a_number": {"id": index + 1, "dt": dt, "value": value},
    }
    if kind == "truncated_json":
        return text[:-1]
    if kind == "not_utf8":
        return text.replace(b'"id": "', b'"id": "\xff', 1)
    return json.dumps(documents[kind]).encode("utf-8")
