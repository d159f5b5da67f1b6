"""The dashboard's lake: the leap fixture, a correction with a bad line, two settlement
revisions; and the expected values computed from the fixture CSVs with plain Python."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.gold.meter_intervals import run_grid
from meterlake.gold.settlement.book import book_from_mapping
from meterlake.gold.settlement.run import settle
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES
from tests.helpers.fixture_data import leap_files, leap_rows, write_drop
from tests.helpers.lakes import lake_at

METER = "475bd821-23e6-4634-83c3-d85aa0c548c9"
OTHER_METER = "a55b578f-5bbf-4a46-a83c-1d911ed1ff95"
# 1006.6 Wh in input_*.csv; the correction says 2006.6 Wh.
CORRECTED_AT = datetime(2020, 6, 3, 12)
CORRECTED_WH = 2006.6
MONTH = "2020-06"
BOOK = {
    "partners": {"north": {
        "time_zone": "Europe/Paris", "currency": "EUR",
        "windows": [
            {"name": "peak", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
             "end": "20:00"},
            {"name": "offpeak", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "00:00",
             "end": "08:00"},
            {"name": "offpeak", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "20:00",
             "end": "24:00"},
            {"name": "offpeak", "days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
        ],
        "prices": {"peak": "0.25", "offpeak": "0.15"},
    }},
    "assignments": [
        {"meter": METER, "partner": "north", "from": "2020-01-01T00:00"},
        {"meter": OTHER_METER, "partner": "north", "from": "2020-01-01T00:00"},
    ],
}


@dataclass(frozen=True)
class DashboardLake:
    lake: Lake
    correction: Path


def build_dashboard_lake(spark: SparkSession, root: Path) -> DashboardLake:
    """Leap drops -> silver -> settlement revision 1; then a correction of METER (and a line
    with a negative energy, quarantined) -> silver -> grid and rollup -> revision 2."""
    lake = lake_at(spark, root / "lake")
    book = book_from_mapping(BOOK, "dashboard case")
    ingest_paths(lake, UTILITY_DROP_FILES, leap_files())
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    settle(lake, book, MONTH)
    correction = write_drop(root / "correction_20200610.csv", [
        (METER, "2020-06-03T12:00:00.000Z", str(CORRECTED_WH)),
        (OTHER_METER, "2020-06-03T12:00:00.000Z", "-5"),
    ])
    ingest_paths(lake, UTILITY_DROP_FILES, [correction])
    run_snapshot(lake, utility_drops_source.SNAPSHOT)
    run_grid(lake)
    settle(lake, book, MONTH)
    return DashboardLake(lake, correction)


def readings(meter: str) -> dict[datetime, float]:
    """The meter's current value per interval (naive UTC), with the correction applied."""
    values = {t: e for m, t, e, _f, _l in leap_rows() if m == meter}
    if meter == METER:
        values[CORRECTED_AT] = CORRECTED_WH
    return values


@dataclass(frozen=True)
class Bucket:
    start: datetime
    mean: float | None
    low: float | None
    high: float | None
    intervals: int
    missing: int


def expected_buckets(meter: str, first: datetime, last: datetime, width: timedelta
                     ) -> list[Bucket]:
    """Min, mean and max of the present intervals per bucket of [first, last), over the grid:
    every quarter-hour between the meter's first and last reading."""
    values = readings(meter)
    span_start, span_end = min(values), max(values)
    out = []
    start = first
    while start < last:
        quarter_hours = [start + timedelta(minutes=15 * i) for i in range(width // timedelta(
            minutes=15))]
        on_grid = [t for t in quarter_hours if span_start <= t <= span_end]
        present = [values[t] for t in on_grid if t in values]
        out.append(Bucket(start, statistics.fmean(present) if present else None,
                          min(present, default=None), max(present, default=None),
                          len(on_grid), len(on_grid) - len(present)))
        start += width
    return out
