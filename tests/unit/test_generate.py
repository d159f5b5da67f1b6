"""Unit tests for meterlake.generate: determinism, file shape, completeness, corrections."""

from __future__ import annotations

import csv
import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from meterlake.sources.utility_drops.generate import (
    UtilityDropPlan,
    expected_interval_count,
    write_utility_drops,
)

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$")
ENERGY_RE = re.compile(r"^\d+\.\d$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SMALL = UtilityDropPlan(meters=3, days=2, seed=7, drops_per_day=4)
START = datetime.datetime(2020, 6, 1, tzinfo=datetime.UTC)

Key = tuple[str, datetime.datetime]


@dataclass
class Drop:
    name: str
    good: list[tuple[Key, str]]
    bad_kinds: list[str]


def _classify(fields: list[str]) -> str | None:
    """Returns the bad-row kind of a data line, or None for a well-formed row."""
    if len(fields) == 3:
        return "three_fields"
    _, meter_id, stamp, energy = fields
    if meter_id == "":
        return "empty_meter_id"
    try:
        parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return "bad_timestamp"
    if parsed.minute % 15 != 0:
        return "misaligned_timestamp"
    if energy == "n/a":
        return "non_numeric_energy"
    if energy.startswith("-"):
        return "negative_energy"
    return None


def _read(path: Path) -> Drop:
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["", "meter_id", "interval_date_time", "energy_wh"]
    good: list[tuple[Key, str]] = []
    bad: list[str] = []
    for index, fields in enumerate(lines[1:]):
        assert fields[0] == str(index)
        kind = _classify(fields)
        if kind is not None:
            bad.append(kind)
            continue
        _, meter_id, stamp, energy = fields
        assert UUID_RE.match(meter_id) and TS_RE.match(stamp) and ENERGY_RE.match(energy)
        when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.UTC)
        assert when.second == 0 and when.minute % 15 == 0
        good.append(((meter_id, when), energy))
    return Drop(path.name, good, bad)


def _generate(plan: UtilityDropPlan, out_dir: Path) -> list[Drop]:
    paths = write_utility_drops(plan, out_dir)
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    assert sorted(paths) == sorted(out_dir.iterdir())
    return [_read(p) for p in paths]


def _all_intervals(plan: UtilityDropPlan) -> list[datetime.datetime]:
    return [START + i * datetime.timedelta(minutes=15) for i in range(plan.days * 96)]


def test_same_plan_gives_identical_bytes(tmp_path: Path) -> None:
    first = write_utility_drops(SMALL, tmp_path / "a")
    second = write_utility_drops(SMALL, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))


def test_different_seed_gives_different_bytes(tmp_path: Path) -> None:
    first = write_utility_drops(SMALL, tmp_path / "a")
    other = UtilityDropPlan(meters=3, days=2, seed=8, drops_per_day=4)
    second = write_utility_drops(other, tmp_path / "b")
    assert [a.read_bytes() for a in first] != [b.read_bytes() for b in second]


def test_file_names_and_count(tmp_path: Path) -> None:
    paths = write_utility_drops(SMALL, tmp_path)
    assert len(paths) == 8
    assert paths[0].name == "drop_20200601T0600Z.csv"
    assert paths[1].name == "drop_20200601T1200Z.csv"
    assert paths[-1].name == "drop_20200603T0000Z.csv"


def test_header_and_first_line_shape(tmp_path: Path) -> None:
    path = write_utility_drops(SMALL, tmp_path)[0]
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == ",meter_id,interval_date_time,energy_wh"
    assert re.match(r"^0,[0-9a-f-]{36},2020-06-01T\d\d:(00|15|30|45):00\.000Z,\d+\.\d$", lines[1])
    assert lines[-1] == ""


def test_every_interval_of_every_meter_is_sent(tmp_path: Path) -> None:
    drops = _generate(SMALL, tmp_path)
    keys = {key for drop in drops for key, _ in drop.good}
    meter_ids = {meter for meter, _ in keys}
    assert len(meter_ids) == 3
    assert keys == {(m, t) for m in meter_ids for t in _all_intervals(SMALL)}
    assert len(keys) == expected_interval_count(SMALL) == 3 * 2 * 96


def test_rows_are_shuffled_and_values_realistic(tmp_path: Path) -> None:
    drops = _generate(SMALL, tmp_path)
    times = [key[1] for key, _ in drops[0].good]
    assert times != sorted(times)
    values = [float(v) for drop in drops for _, v in drop.good]
    assert min(values) >= 0.0 and max(values) < 1000.0


def test_corrections_resend_earlier_intervals(tmp_path: Path) -> None:
    plan = UtilityDropPlan(meters=20, days=10, seed=11, correction_rate=0.2)
    drops = _generate(plan, tmp_path)
    last_value: dict[Key, str] = {}
    changed = same = 0
    for drop in drops:
        keys = [key for key, _ in drop.good]
        assert len(keys) == len(set(keys)), "a key appears twice within one drop"
        delivered = datetime.datetime.strptime(drop.name, "drop_%Y%m%dT%H%MZ.csv").replace(
            tzinfo=datetime.UTC)
        for key, value in drop.good:
            if key in last_value:
                assert key[1] >= delivered - datetime.timedelta(days=7)
                before = float(last_value[key])
                if value == last_value[key]:
                    same += 1
                else:
                    changed += 1
                    assert 0.8 * before - 0.1 <= float(value) <= 1.2 * before + 0.1
        last_value.update(drop.good)
    assert changed > 0 and same > 0
    assert changed > 4 * same
    assert len(last_value) == expected_interval_count(plan)


def test_correction_count_follows_rate(tmp_path: Path) -> None:
    drops = _generate(SMALL, tmp_path)
    seen: set[Key] = set()
    resends: list[int] = []
    for drop in drops:
        resends.append(sum(1 for key, _ in drop.good if key in seen))
        fresh = len(drop.good) - resends[-1]
        # The first drop has nothing earlier to correct; later ones carry floor(2% of fresh).
        assert resends[-1] == (0 if not seen else int(0.02 * fresh))
        seen.update(key for key, _ in drop.good)
    assert sum(resends) > 0


def test_no_corrections_when_rate_is_zero(tmp_path: Path) -> None:
    plan = UtilityDropPlan(meters=3, days=2, seed=7, correction_rate=0.0)
    rows = [key for drop in _generate(plan, tmp_path) for key, _ in drop.good]
    assert len(rows) == len(set(rows)) == expected_interval_count(plan)


def test_new_meter_arrives_with_backfill(tmp_path: Path) -> None:
    plan = UtilityDropPlan(meters=2, days=2, seed=7, new_meters=1, lag_intervals=0)
    drops = _generate(plan, tmp_path)
    first_ids = {key[0] for key, _ in drops[0].good}
    assert len(first_ids) == 2
    arrival = next(d for d in range(len(drops))
                   if {k[0] for k, _ in drops[d].good} - first_ids)
    assert arrival == 4  # evenly spaced: drop 8 // 2
    new_id = ({k[0] for k, _ in drops[arrival].good} - first_ids).pop()
    backfill = {k[1] for k, _ in drops[arrival].good if k[0] == new_id}
    assert backfill == set(_all_intervals(plan)[: 5 * 24])  # lag 0: everything due so far
    keys = {key for drop in drops for key, _ in drop.good}
    assert len(keys) == expected_interval_count(plan) == 3 * 2 * 96


def test_bad_rows_cover_every_kind(tmp_path: Path) -> None:
    plan = UtilityDropPlan(meters=5, days=2, seed=3, bad_row_rate=0.05)
    drops = _generate(plan, tmp_path)
    kinds = [kind for drop in drops for kind in drop.bad_kinds]
    assert set(kinds) == {"empty_meter_id", "bad_timestamp", "misaligned_timestamp",
                          "non_numeric_energy", "negative_energy", "three_fields"}
    keys = {key for drop in drops for key, _ in drop.good}
    assert len(keys) == expected_interval_count(plan)


def test_no_bad_rows_by_default(tmp_path: Path) -> None:
    drops = _generate(UtilityDropPlan(meters=5, days=2, seed=3), tmp_path)
    assert all(drop.bad_kinds == [] for drop in drops)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"meters": 0}, "meters"),
        ({"days": 0}, "days"),
        ({"drops_per_day": 5}, "drops_per_day"),
        ({"drops_per_day": 0}, "drops_per_day"),
        ({"correction_rate": 1.5}, "correction_rate"),
        ({"bad_row_rate": -0.1}, "bad_row_rate"),
        ({"new_meters": -1}, "new_meters"),
        ({"lag_intervals": -1}, "lag_intervals"),
        ({"days": 1, "drops_per_day": 1, "new_meters": 1}, "new_meters"),
    ],
)
def test_invalid_plan_names_the_field(changes: dict[str, int | float], field: str) -> None:
    arguments: dict[str, int | float] = {"meters": 3, "days": 2, "seed": 7, **changes}
    with pytest.raises(ValueError, match=rf"UtilityDropPlan\.{field} "):
        UtilityDropPlan(**arguments)  # type: ignore[arg-type]


def test_refuses_to_overwrite_existing_drops(tmp_path: Path) -> None:
    write_utility_drops(SMALL, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(FileExistsError, match="drop_20200601T0600Z.csv"):
        write_utility_drops(SMALL, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_creates_missing_out_dir(tmp_path: Path) -> None:
    out_dir = tmp_path / "nested" / "drops"
    assert len(write_utility_drops(SMALL, out_dir)) == 8
