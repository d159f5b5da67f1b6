"""The hand-computed settlement case: March 2024 in Europe/Amsterdam.

- March 2024 starts on a Friday and ends on Sunday the 31st, when DST starts (92 quarter-hours).
- M1 belongs to `north` all month; it reads (local day of month) x 10 Wh every quarter-hour,
  except 2024-03-13 10:00-11:00 (a gap of 4) and the event 2024-03-20 17:00-19:00 (50 Wh).
- M2 reads 200 Wh every quarter-hour; it belongs to `north` until 2024-03-16 00:00 local and to
  `south` from then on (a mid-month move).
- north: peak Mon-Fri 07:00-23:00 at 0.30, offpeak otherwise at 0.20; south: flat at 0.25.
- Event dr-0320 of north: 2024-03-20 17:00-19:00 local at 1.50 per kWh reduced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.helpers.fixture_data import write_drop

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONTH = "2024-03"

BOOK = {
    "partners": {
        "north": {
            "time_zone": "Europe/Amsterdam", "currency": "EUR",
            "windows": [
                {"name": "peak", "days": ["mon", "tue", "wed", "thu", "fri"],
                 "start": "07:00", "end": "23:00"},
                {"name": "offpeak", "days": ["mon", "tue", "wed", "thu", "fri"],
                 "start": "00:00", "end": "07:00"},
                {"name": "offpeak", "days": ["mon", "tue", "wed", "thu", "fri"],
                 "start": "23:00", "end": "24:00"},
                {"name": "offpeak", "days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
            ],
            "prices": {"peak": 0.30, "offpeak": "0.20"},
        },
        "south": {
            "time_zone": "Europe/Amsterdam", "currency": "EUR",
            "windows": [{"name": "flat", "days": ["mon", "tue", "wed", "thu", "fri", "sat",
                                                  "sun"], "start": "00:00", "end": "24:00"}],
            "prices": {"flat": 0.25},
        },
    },
    "assignments": [
        {"meter": "M1", "partner": "north", "from": "2024-01-01T00:00"},
        {"meter": "M2", "partner": "north", "from": "2024-01-01T00:00",
         "until": "2024-03-16T00:00"},
        {"meter": "M2", "partner": "south", "from": "2024-03-16T00:00"},
    ],
    "events": [
        {"id": "dr-0320", "partner": "north", "start": "2024-03-20T17:00",
         "end": "2024-03-20T19:00", "price": 1.5},
    ],
}


def _quarter_hours(start: datetime, end: datetime) -> list[datetime]:
    out, at = [], start
    while at < end:
        out.append(at)
        at += timedelta(minutes=15)
    return out


def m1_wh(local: datetime) -> float | None:
    if local.day == 13 and 10 <= local.hour < 11:
        return None
    if local.day == 20 and 17 <= local.hour < 19:
        return 50.0
    return local.day * 10.0


def march_drop(path: Path) -> Path:
    """Every reading of M1 and M2 in local March 2024, as one utility drop."""
    start = datetime(2024, 3, 1, tzinfo=AMSTERDAM).astimezone(UTC)
    end = datetime(2024, 4, 1, tzinfo=AMSTERDAM).astimezone(UTC)
    rows = []
    for at in _quarter_hours(start, end):
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        value = m1_wh(at.astimezone(AMSTERDAM))
        if value is not None:
            rows.append(("M1", stamp, f"{value:.1f}"))
        rows.append(("M2", stamp, "200.0"))
    return write_drop(path, rows)


# Expected, by hand (see the module docstring). Weekdays of March 2024: 1, 4-8, 11-15, 18-22,
# 25-29 (21 days, day numbers summing to 331); weekend: 2, 3, 9, 10, 16, 17, 23, 24, 30, 31.
# M1 peak: 64 x 331 / 100 = 211.84 kWh, minus the gap 4 x 0.13, minus the event 8 x (0.20-0.05)
#   = 210.12 measured; estimate: 4 x mean(days 6..12 x 10 Wh) = 4 x 0.09 = 0.36;
#   amount (210.12 + 0.36) x 0.30 = 63.144 -> 63.14.
# M1 offpeak: 32 x 331/100 + 96 x (2+3+9+10+16+17+23+24+30)/100 + 92 x 0.31
#   = 105.92 + 128.64 + 28.52 = 263.08; x 0.20 = 52.616 -> 52.62.
# M2 north (days 1-15: 11 weekdays, 4 weekend days): peak 704 x 0.2 = 140.8 -> 42.24;
#   offpeak (352 + 384) x 0.2 = 147.2 -> 29.44.
# M2 south (days 16-31): (15 x 96 + 92) x 0.2 = 306.4 -> 76.60.
# Event (M1): baseline days 19, 18, 15, 14, 13, 12, 11, 8, 7, 6 -> mean 123 Wh; adjustment
#   13:00-16:00 on the 20th: 12 x 200 / (12 x 123) = 1.626 -> capped 1.2; adjusted baseline
#   147.6 Wh; reduction 8 x (147.6 - 50) = 780.8 Wh; payment 0.7808 x 1.50 = 1.1712 -> 1.17.
EXPECTED_LINES = {
    # (partner, meter, type, name): (expected, present, estimated, kWh measured, kWh estimated,
    #                                 kWh baseline, kWh reduction, factor, price, amount)
    ("north", "M1", "energy", "peak"): (1344, 1340, 4, "210.120000", "0.360000", None, None,
                                        None, "0.300000", "63.14"),
    ("north", "M1", "energy", "offpeak"): (1628, 1628, 0, "263.080000", "0.000000", None, None,
                                           None, "0.200000", "52.62"),
    ("north", "M2", "energy", "peak"): (704, 704, 0, "140.800000", "0.000000", None, None, None,
                                        "0.300000", "42.24"),
    ("north", "M2", "energy", "offpeak"): (736, 736, 0, "147.200000", "0.000000", None, None,
                                           None, "0.200000", "29.44"),
    ("south", "M2", "energy", "flat"): (1532, 1532, 0, "306.400000", "0.000000", None, None,
                                        None, "0.250000", "76.60"),
    ("north", "M1", "event", "dr-0320"): (8, 8, 0, "0.400000", "0.000000", "1.180800",
                                          "0.780800", "1.200000000", "1.500000", "1.17"),
}
EXPECTED_SUMMARY = {
    # partner: (meters, expected, present, estimated, kWh measured, kWh estimated,
    #           energy amount, kWh reduction, event amount, total, completeness)
    "north": (2, 4412, 4408, 4, "761.200000", "0.360000", "187.44", "0.780800", "1.17",
              "188.61", "0.999093"),
    "south": (1, 1532, 1532, 0, "306.400000", "0.000000", "76.60", "0.000000", "0.00", "76.60",
              "1.000000"),
}
