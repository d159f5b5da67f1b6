"""Expected values read straight from the fixture CSVs with the csv module (not with Spark)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from tests.helpers.paths import LEAP


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


SMRT = LEAP.parent / "smrt"


def smrt_consu_rows(path: Path) -> list[tuple[str, datetime, float, str, int, datetime, int]]:
    """(meter_id, interval_start, consumption, file name, line, file created at, generation
    number) of every CONSU record, read with the csv module."""
    with path.open(newline="", encoding="utf-8") as handle:
        records = [(line, r) for line, r in enumerate(csv.reader(handle), 1) if r]
    header = next(r for _line, r in records if r[0] == "HEADR")
    created = datetime.strptime(header[3] + header[4], "%Y%m%d%H%M%S")
    generation = int(header[5][2:])
    return [
        (r[1], datetime.strptime(r[2] + r[3], "%Y%m%d%H%M"), float(r[4]), path.name, line,
         created, generation)
        for line, r in records if r[0] == "CONSU"
    ]


def smrt_latest(paths: list[Path]) -> dict[tuple[str, datetime], tuple[float, str, int, int]]:
    """The value each (meter, hour) must end with: the latest by (creation time, generation),
    with the file name, line and number of versions."""
    versions: dict[tuple[str, datetime], list] = {}
    for path in paths:
        for meter, start, value, name, line, created, generation in smrt_consu_rows(path):
            versions.setdefault((meter, start), []).append((created, generation, value, name,
                                                            line))
    latest = {}
    for key, found in versions.items():
        _created, _generation, value, name, line = max(found)
        latest[key] = (value, name, line, len(found))
    return latest
