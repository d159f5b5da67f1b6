"""Deterministic generator of utility drop CSV files (15-minute electricity interval reads).

Pure standard library. The same plan always yields byte-identical files: every random choice
comes from one ``random.Random(seed)`` drawn in a fixed order, and the base reading of a
(meter, interval) is a hash of a seeded salt, so corrections can recompute what was first
sent without keeping the whole history in memory.
"""

from __future__ import annotations

import csv
import datetime
import math
import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

INTERVALS_PER_DAY = 96
INTERVAL = datetime.timedelta(minutes=15)
CORRECTION_WINDOW_INTERVALS = 7 * INTERVALS_PER_DAY
SAME_VALUE_RESEND_SHARE = 0.1
HEADER = ["", "meter_id", "interval_date_time", "energy_wh"]
DROP_NAME_RE = re.compile(r"^drop_\d{8}T\d{4}Z\.csv$")
BAD_ROW_KINDS = (
    "empty_meter_id", "bad_timestamp", "misaligned_timestamp",
    "non_numeric_energy", "negative_energy", "three_fields",
)
_MASK64 = (1 << 64) - 1
_GOOD = -1
# (meter index, interval index, energy in tenths of Wh, bad kind index or _GOOD)
_Row = tuple[int, int, int, int]


def _day_shape(slot: int) -> float:
    # Night base load plus a morning and a stronger evening peak.
    hour = (slot + 0.5) / 4
    morning = 0.55 * math.exp(-(((hour - 7.5) / 1.5) ** 2))
    evening = 0.9 * math.exp(-(((hour - 19.0) / 2.5) ** 2))
    return 0.35 + morning + evening


_DAY_SHAPE = tuple(_day_shape(slot) for slot in range(INTERVALS_PER_DAY))


@dataclass(frozen=True)
class UtilityDropPlan:
    meters: int
    days: int
    seed: int
    start: datetime.date = datetime.date(2020, 6, 1)
    drops_per_day: int = 4
    correction_rate: float = 0.02
    new_meters: int = 0
    bad_row_rate: float = 0.0
    lag_intervals: int = 8

    def __post_init__(self) -> None:
        _require(self.meters >= 1, "meters", "must be >= 1", self.meters)
        _require(self.days >= 1, "days", "must be >= 1", self.days)
        dpd = self.drops_per_day
        _require(dpd >= 1 and INTERVALS_PER_DAY % dpd == 0, "drops_per_day",
                 "must be >= 1 and divide 96", dpd)
        for name in ("correction_rate", "bad_row_rate"):
            rate = getattr(self, name)
            _require(0.0 <= rate <= 1.0, name, "must be within [0, 1]", rate)
        _require(self.new_meters >= 0, "new_meters", "must be >= 0", self.new_meters)
        # New meters never arrive in the first drop, so they need a second one.
        _require(self.new_meters == 0 or self.days * dpd >= 2, "new_meters",
                 "needs at least 2 drops in the plan", self.new_meters)
        _require(self.lag_intervals >= 0, "lag_intervals", "must be >= 0", self.lag_intervals)
        is_date = isinstance(self.start, datetime.date)
        _require(is_date and not isinstance(self.start, datetime.datetime), "start",
                 "must be a datetime.date", self.start)


def _require(ok: bool, field_name: str, rule: str, value: object) -> None:
    if not ok:
        raise ValueError(f"UtilityDropPlan.{field_name} {rule} (got {value!r})")


def expected_interval_count(plan: UtilityDropPlan) -> int:
    """Number of distinct (meter, interval) pairs the plan produces, bad rows excluded."""
    return (plan.meters + plan.new_meters) * plan.days * INTERVALS_PER_DAY


def write_utility_drops(plan: UtilityDropPlan, out_dir: Path) -> list[Path]:
    """Writes the drops in arrival order; returns their paths (name order == arrival order)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(p.name for p in out_dir.iterdir() if DROP_NAME_RE.match(p.name))
    if existing:
        raise FileExistsError(f"{out_dir / existing[0]} already exists; refusing to overwrite")
    return _DropGenerator(plan).write_all(out_dir)


def _mix64(value: int) -> int:
    # splitmix64 finaliser: cheap, well-spread, and stable across Python versions.
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _format_tenths(tenths: int) -> str:
    sign = "-" if tenths < 0 else ""
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10}"


class _DropGenerator:
    """Holds the evolving state of one plan: meters, per-meter send cursors, corrections."""

    def __init__(self, plan: UtilityDropPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.intervals_per_drop = INTERVALS_PER_DAY // plan.drops_per_day
        self.total_intervals = plan.days * INTERVALS_PER_DAY
        self.total_drops = plan.days * plan.drops_per_day
        self.start_utc = datetime.datetime.combine(plan.start, datetime.time(), datetime.UTC)
        self.salt = self.rng.getrandbits(64)
        meter_count = plan.meters + plan.new_meters
        self.meter_ids = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
                          for _ in range(meter_count)]
        self.scales_wh = [self.rng.uniform(80.0, 400.0) for _ in range(meter_count)]
        self.cursors = [0] * plan.meters  # next interval not yet sent, per existing meter
        self.latest_tenths: dict[tuple[int, int], int] = {}  # values changed by corrections
        self.bad_rows_written = 0
        self.timestamps = [(self.start_utc + i * INTERVAL).strftime("%Y-%m-%dT%H:%M:00.000Z")
                           for i in range(self.total_intervals)]

    def write_all(self, out_dir: Path) -> list[Path]:
        paths: list[Path] = []
        for drop in range(self.total_drops):
            self._add_arriving_meters(drop)
            rows = self._drop_rows(drop)
            delivered = self.start_utc + (drop + 1) * self.intervals_per_drop * INTERVAL
            path = out_dir / delivered.strftime("drop_%Y%m%dT%H%MZ.csv")
            self._write_file(path, rows)
            paths.append(path)
        return paths

    def _add_arriving_meters(self, drop: int) -> None:
        # New meter k arrives at drop (k+1)*T/(n+1): evenly spaced, never the first drop.
        n = self.plan.new_meters
        arriving = sum(1 for k in range(n)
                       if max(1, (k + 1) * self.total_drops // (n + 1)) == drop)
        self.cursors.extend([0] * arriving)

    def _drop_rows(self, drop: int) -> list[_Row]:
        due_end = (drop + 1) * self.intervals_per_drop
        sent_before = list(self.cursors)
        fresh = self._fresh_rows(due_end, is_last=drop == self.total_drops - 1)
        corrections = self._correction_rows(due_end, sent_before,
                                            int(self.plan.correction_rate * len(fresh)))
        good = fresh + corrections
        rows = good + self._bad_rows(good, int(self.plan.bad_row_rate * len(good)))
        self.rng.shuffle(rows)
        if drop % self.plan.drops_per_day == 0:
            self._forget_before(due_end - CORRECTION_WINDOW_INTERVALS)
        return rows

    def _fresh_rows(self, due_end: int, is_last: bool) -> list[_Row]:
        rows: list[_Row] = []
        for meter, cursor in enumerate(self.cursors):
            lag = self.rng.randint(0, self.plan.lag_intervals)
            cut = self.total_intervals if is_last else max(cursor, due_end - lag)
            rows.extend((meter, i, self._base_tenths(meter, i), _GOOD) for i in range(cursor, cut))
            self.cursors[meter] = cut
        return rows

    def _base_tenths(self, meter: int, interval: int) -> int:
        noise = 0.85 + 0.3 * (_mix64(_mix64(self.salt ^ meter) ^ interval) >> 11) / 2.0**53
        shape = _DAY_SHAPE[interval % INTERVALS_PER_DAY]
        return max(0, round(self.scales_wh[meter] * shape * noise * 10))

    def _correction_rows(self, due_end: int, sent_before: list[int], count: int) -> list[_Row]:
        # Rejection sampling over meters: bounded attempts, so a tiny pool yields fewer rows.
        window_start = max(0, due_end - CORRECTION_WINDOW_INTERVALS)
        chosen: set[tuple[int, int]] = set()
        rows: list[_Row] = []
        for _ in range(4 * count + 16 if count else 0):
            if len(rows) == count:
                break
            meter = self.rng.randrange(len(sent_before))
            if sent_before[meter] <= window_start:
                continue
            key = (meter, self.rng.randrange(window_start, sent_before[meter]))
            if key in chosen:
                continue
            chosen.add(key)
            rows.append((key[0], key[1], self._corrected_tenths(key), _GOOD))
        return rows

    def _corrected_tenths(self, key: tuple[int, int]) -> int:
        previous = self.latest_tenths.get(key)
        if previous is None:
            previous = self._base_tenths(*key)
        if self.rng.random() < SAME_VALUE_RESEND_SHARE:
            return previous
        factor = self.rng.uniform(0.8, 1.2)
        tenths = round(previous * factor)
        if tenths == previous:
            # Rounding (or a factor of exactly 1.0) swallowed the change: nudge by 0.1 Wh.
            tenths = previous + 1 if factor >= 1.0 or previous == 0 else previous - 1
        self.latest_tenths[key] = tenths
        return tenths

    def _forget_before(self, interval: int) -> None:
        for key in [k for k in self.latest_tenths if k[1] < interval]:
            del self.latest_tenths[key]

    def _bad_rows(self, good: list[_Row], count: int) -> list[_Row]:
        rows: list[_Row] = []
        for _ in range(count):
            meter, interval, tenths, _kind = self.rng.choice(good)
            rows.append((meter, interval, tenths, self.bad_rows_written % len(BAD_ROW_KINDS)))
            self.bad_rows_written += 1
        return rows

    def _render(self, index: int, row: _Row) -> list[str]:
        meter, interval, tenths, kind = row
        fields = [str(index), self.meter_ids[meter], self.timestamps[interval],
                  _format_tenths(tenths)]
        if kind == _GOOD:
            return fields
        name = BAD_ROW_KINDS[kind]
        if name == "empty_meter_id":
            fields[1] = ""
        elif name == "bad_timestamp":
            fields[2] = "2020-13-45T99:00:00.000Z"
        elif name == "misaligned_timestamp":
            fields[2] = fields[2][:14] + "07" + fields[2][16:]
        elif name == "non_numeric_energy":
            fields[3] = "n/a"
        elif name == "negative_energy":
            fields[3] = "-12.5"
        else:
            fields = fields[:3]
        return fields

    def _write_file(self, path: Path, rows: list[_Row]) -> None:
        # Mode "x": never overwrite, even if a drop appeared after the up-front check.
        with path.open("x", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(HEADER)
            for index, row in enumerate(rows):
                writer.writerow(self._render(index, row))
