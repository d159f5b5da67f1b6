"""Named scale factors: how big the generated lake is for each suite.

A scale is meters x days at 15-minute resolution. The drops follow production's cadence (one
every 15 minutes, 96 a day) with its mix: mostly the latest intervals, corrections of the past
week (`correction_rate` of each drop's fresh rows) and new meters whose whole history arrives at
once (backfill). Table sizes are multiples of `days_1x`; the update merged at every size is the
same day of drops, the one after the largest table's last day. `days_1x` covers the generator's
7-day correction window, so the update's corrections land on full partitions at every size and
only the table around them grows.
"""

from __future__ import annotations

from dataclasses import dataclass

DROPS_PER_DAY = 96


@dataclass(frozen=True)
class Scale:
    name: str
    meters: int
    days_1x: int
    sizes: tuple[int, ...] = (1, 3, 10)
    correction_rate: float = 0.02
    bad_row_rate: float = 0.0005
    seed: int = 11
    # Drops of the update day written into the watched directory by the freshness measurement.
    freshness_drops: int = DROPS_PER_DAY

    @property
    def plan_days(self) -> int:
        """History for the largest table, plus the update day."""
        return max(self.sizes) * self.days_1x + 1

    @property
    def update_day(self) -> int:
        return self.plan_days - 1

    @property
    def new_meters(self) -> int:
        # One arrival per day on average, so the update day backfills at least one meter.
        return self.plan_days

    def history_days(self, size: int) -> range:
        """The days of drops held by the table of `size` x `days_1x` days (the latest ones)."""
        return range(self.update_day - size * self.days_1x, self.update_day)

    def describe(self) -> str:
        return (f"{self.meters} meters (+{self.new_meters} backfilled), 1x = {self.days_1x} days, "
                f"sizes {', '.join(f'{s}x' for s in self.sizes)}, {DROPS_PER_DAY} drops a day, "
                f"corrections {self.correction_rate:.0%} of fresh rows")


SUITES: dict[str, Scale] = {
    # `make bench`: a few minutes on 2 cores.
    "quick": Scale("quick", meters=200, days_1x=8, freshness_drops=24),
    # `make bench-full`: under an hour on 2 cores.
    "full": Scale("full", meters=1500, days_1x=8),
}
