"""Meter usage for the dashboard's chart, reduced on the server to about one bucket per pixel.

The method is min/max per bucket (with the mean and the counts): each bucket of the chart keeps
the lowest and highest 15-minute energy inside it, so a one-interval peak of a year stays on the
chart as the top of its bucket's band, where averaging would flatten it and LTTB would keep one
point per bucket and could pick either the peak or the trough. Unlike LTTB it composes: the
minimum of hourly minima is the minimum of the readings, so long ranges are summarised from the
hourly rollup of the lake (`gold.meter_usage_hourly`, 8,760 rows per meter-year) and never from
every reading. Ranges whose buckets are shorter than an hour come from the gap-filled grid.

Buckets are aligned to multiples of their width since the Unix epoch (in UTC): zooming or
panning keeps bucket boundaries where they were, and an hour-wide or wider bucket always holds
whole hours of the rollup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from meterlake.serve.delta_reads import TableVersion

# Bucket widths in minutes, a multiple of the grid's 15 minutes each; past the last one,
# multiples of a week.
BUCKET_LADDER_MINUTES = (15, 30, 60, 120, 180, 360, 720, 1440, 2880, 4320, 10080)
GRID_MINUTES = 15
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROS = pa.timestamp("us", tz="UTC")


def bucket_minutes(span: timedelta, max_points: int) -> int:
    """The narrowest ladder width that covers `span` in at most `max_points` buckets."""
    for width in BUCKET_LADDER_MINUTES:
        if span <= timedelta(minutes=width) * max_points:
            return width
    week = BUCKET_LADDER_MINUTES[-1]
    weeks = -(-span // (timedelta(minutes=week) * max_points))
    return week * weeks


def aligned_range(start: datetime, end: datetime, width_minutes: int
                  ) -> tuple[datetime, datetime]:
    """[start, end) widened to whole buckets of `width_minutes` counted from the epoch."""
    width = timedelta(minutes=width_minutes)
    first = _EPOCH + (start - _EPOCH) // width * width
    last = _EPOCH + -(-(end - _EPOCH) // width) * width
    return first, last


@dataclass
class MeterSeries:
    meter_id: str
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]
    intervals: list[int]
    missing: list[int]
    corrected: list[bool] = field(default_factory=list)


@dataclass
class UsageSeries:
    start: datetime
    end: datetime
    bucket_minutes: int
    source: str
    times: list[datetime]
    meters: list[MeterSeries]


def _scan(table: TableVersion, meters: list[str], time_column: str, date_column: str,
          date_of: str, first: datetime, last: datetime, columns: list[str]) -> pa.Table:
    """The meters' rows with first <= time < last; date partitions and statistics skip files."""
    rows = (pc.field("meter_id").isin(meters)
            & (pc.field(date_column) >= _date_bound(first, date_of))
            & (pc.field(date_column) <= _date_bound(last, date_of))
            & (pc.field(time_column) >= pa.scalar(first, type=_MICROS))
            & (pc.field(time_column) < pa.scalar(last, type=_MICROS)))
    return table.files.to_table(columns=columns, filter=rows)


def _date_bound(instant: datetime, date_of: str) -> object:
    # Month partitions are keyed by the first day of the month.
    day = instant.astimezone(UTC).date()
    return day.replace(day=1) if date_of == "month" else day


def _buckets_of(times: pa.ChunkedArray, first: datetime, width_minutes: int) -> pa.Array:
    offsets = pc.subtract(times.cast(pa.int64()), int(pa.scalar(first, type=_MICROS).value))
    return pc.divide(offsets, width_minutes * 60_000_000)


def grid_buckets(grid: TableVersion, meters: list[str], first: datetime, last: datetime,
                 width_minutes: int) -> pa.Table:
    """Per meter and bucket from the 15-minute grid: intervals, missing, sum, min and max."""
    rows = _scan(grid, meters, "interval_start", "interval_date", "day", first, last,
                 ["meter_id", "interval_start", "energy_wh", "is_missing"])
    keyed = pa.table({"meter_id": rows["meter_id"],
                      "bucket": _buckets_of(rows["interval_start"], first, width_minutes),
                      "energy_wh": rows["energy_wh"], "is_missing": rows["is_missing"]})
    summary = keyed.group_by(["meter_id", "bucket"]).aggregate([
        ("is_missing", "count"), ("energy_wh", "count"), ("energy_wh", "sum"),
        ("energy_wh", "min"), ("energy_wh", "max")])
    return pa.table({
        "meter_id": summary["meter_id"], "bucket": summary["bucket"],
        "intervals": summary["is_missing_count"],
        "missing": pc.subtract(summary["is_missing_count"], summary["energy_wh_count"]),
        "sum": summary["energy_wh_sum"], "min": summary["energy_wh_min"],
        "max": summary["energy_wh_max"]})


def hourly_buckets(hourly: TableVersion, meters: list[str], first: datetime, last: datetime,
                   width_minutes: int) -> pa.Table:
    """Per meter and bucket (whole hours) from gold.meter_usage_hourly, composed exactly."""
    rows = _scan(hourly, meters, "hour_start", "month_start", "month", first, last,
                 ["meter_id", "hour_start", "intervals", "missing_intervals", "energy_wh_sum",
                  "energy_wh_min", "energy_wh_max"])
    keyed = rows.append_column("bucket", _buckets_of(rows["hour_start"], first, width_minutes))
    summary = keyed.group_by(["meter_id", "bucket"]).aggregate([
        ("intervals", "sum"), ("missing_intervals", "sum"), ("energy_wh_sum", "sum"),
        ("energy_wh_min", "min"), ("energy_wh_max", "max")])
    return pa.table({
        "meter_id": summary["meter_id"], "bucket": summary["bucket"],
        "intervals": summary["intervals_sum"], "missing": summary["missing_intervals_sum"],
        "sum": summary["energy_wh_sum_sum"], "min": summary["energy_wh_min_min"],
        "max": summary["energy_wh_max_max"]})


def corrected_intervals(silver: TableVersion, meters: list[str], first: datetime,
                        last: datetime) -> set[tuple[str, datetime]]:
    """(meter, interval_start) of the readings silver holds in more than one version."""
    rows = _scan(silver, meters, "interval_start", "interval_date", "day", first, last,
                 ["meter_id", "interval_start", "version_count"])
    rows = rows.filter(pc.greater(rows["version_count"], 1))
    return {(r["meter_id"], r["interval_start"]) for r in rows.to_pylist()}


def assemble(summary: pa.Table, meters: list[str], first: datetime, last: datetime,
             width_minutes: int, source: str) -> UsageSeries:
    """One entry per bucket of [first, last) for every meter, null where the lake has no
    present interval (a gap, or before the meter's first reading)."""
    width = timedelta(minutes=width_minutes)
    count = (last - first) // width
    series = {m: MeterSeries(m, [None] * count, [None] * count, [None] * count, [0] * count,
                             [0] * count) for m in meters}
    for row in summary.to_pylist():
        line, i = series[row["meter_id"]], row["bucket"]
        present = row["intervals"] - row["missing"]
        line.intervals[i], line.missing[i] = row["intervals"], row["missing"]
        if present:
            line.mean[i] = row["sum"] / present
            line.low[i], line.high[i] = row["min"], row["max"]
    times = [first + width * i for i in range(count)]
    return UsageSeries(first, last, width_minutes, source, times, [series[m] for m in meters])


def usage_series(grid: TableVersion, hourly: TableVersion, silver: TableVersion,
                 meters: list[str], start: datetime, end: datetime, max_points: int
                 ) -> UsageSeries:
    """The meters' usage over [start, end) in at most about `max_points` buckets; at 15 minutes
    the readings themselves, each marked when it was corrected."""
    width = bucket_minutes(end - start, max_points)
    first, last = aligned_range(start, end, width)
    if width < 60:
        summary = grid_buckets(grid, meters, first, last, width)
        found = assemble(summary, meters, first, last, width, "gold.meter_intervals_15min")
    else:
        summary = hourly_buckets(hourly, meters, first, last, width)
        found = assemble(summary, meters, first, last, width, "gold.meter_usage_hourly")
    if width == GRID_MINUTES:
        corrected = corrected_intervals(silver, meters, first, last)
        for line in found.meters:
            line.corrected = [(line.meter_id, t) in corrected for t in found.times]
    return found
