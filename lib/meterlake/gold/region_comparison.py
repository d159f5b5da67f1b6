"""`meterlake temperatures compare`: where the two region assignments disagree.

Reads the France points of `silver.temperature_records` at its current version, assigns each
in both modes, and reports how many points the modes put in different regions (or one in a
region and the other in none), and per region how many points the contour gains or loses
against the box rule.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.gold.region_temperature_hourly import assigned_points, configured_regions
from meterlake.silver.temperature_records import SILVER_TEMPERATURE_RECORDS

NO_REGION = "-"


@dataclass(frozen=True)
class RegionShift:
    code: str
    name: str
    box_points: int
    polygon_points: int

    @property
    def gained(self) -> int:
        return self.polygon_points - self.box_points


@dataclass(frozen=True)
class AssignmentComparison:
    silver_version: int
    france_points: int
    disagreeing_points: int
    pairs: dict[tuple[str, str], int]
    regions: tuple[RegionShift, ...]

    def __str__(self) -> str:
        lines = [
            f"silver.temperature_records version {self.silver_version}: {self.france_points} "
            f"France points, {self.disagreeing_points} assigned differently by box and polygon",
            f"{'region':<6} {'name':<28} {'box':>8} {'polygon':>8} {'gained':>7}",
        ]
        lines += [f"{r.code:<6} {r.name:<28} {r.box_points:>8} {r.polygon_points:>8} "
                  f"{r.gained:>+7}" for r in self.regions]
        lines += [f"box {box} -> polygon {polygon}: {points} points"
                  for (box, polygon), points in sorted(self.pairs.items())]
        return "\n".join(lines)


def compare_assignments(lake: Lake) -> AssignmentComparison:
    """Both assignments of silver's France points, side by side (see the module's docstring)."""
    regions = configured_regions(lake.settings)
    version = lake.version(SILVER_TEMPERATURE_RECORDS)
    assigned_df = assigned_points(lake.read(SILVER_TEMPERATURE_RECORDS, version), regions)
    # One small row per pair of codes: at most 14 x 14.
    per_mode = {
        (r["box_region_code"], r["polygon_region_code"]): int(r["points"])
        for r in assigned_df.groupBy("box_region_code", "polygon_region_code")
        .agg(F.count(F.lit(1)).alias("points")).collect()
    }
    box_points: Counter[str] = Counter()
    polygon_points: Counter[str] = Counter()
    for (box, polygon), points in per_mode.items():
        box_points[box or NO_REGION] += points
        polygon_points[polygon or NO_REGION] += points
    pairs = {(box or NO_REGION, polygon or NO_REGION): points
             for (box, polygon), points in per_mode.items() if box != polygon}
    shifts = tuple(
        RegionShift(r.code, r.name, box_points[r.code], polygon_points[r.code]) for r in regions
    ) + (RegionShift(NO_REGION, "(no region)", box_points[NO_REGION],
                     polygon_points[NO_REGION]),)
    return AssignmentComparison(version, sum(per_mode.values()), sum(pairs.values()), pairs,
                                shifts)
