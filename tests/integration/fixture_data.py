"""Expected values read straight from the fixture CSVs with the csv module (not with Spark)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from tests.conftest import LEAP


def utc(text: str) -> datetime:
    """A naive UTC datetime, as PySpark returns timestamps in a UTC driver."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def csv_rows(path: Path) -> list[tuple[str, datetime, float, str, int]]:
    """(meter_id, interval_start, energy_wh, file name, line number) of every data line."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    return [(r[1], utc(r[2]), float(r[3]), path.name, line) for line, r in enumerate(rows, 2)]


def leap_files() -> list[Path]:
    return sorted(LEAP.glob("input_*.csv"))


def leap_rows() -> list[tuple[str, datetime, float, str, int]]:
    return [row for path in leap_files() for row in csv_rows(path)]


def write_drop(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A drop in the utility format from (meter_id, interval_date_time, energy_wh) texts."""
    lines = [",meter_id,interval_date_time,energy_wh"]
    lines += [f"{i},{m},{t},{e}" for i, (m, t, e) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
