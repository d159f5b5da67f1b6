"""4. Settlement: one local month for every meter vs a bare scan-and-group-by of that month.

The lake is a copy of the largest base lake. Every meter of silver is assigned to one of two
partners (Europe/Amsterdam and America/New_York, four and two time-of-use windows); the month is
the first full calendar month of the history. The measured job is the whole `settle`: pinning
inputs, energy lines with estimates, exports (CSV and Parquet, with checksums), gold appends and
the run record. The baseline reads the same month of silver, groups it by meter and writes the
sums as Delta. A third figure isolates the calculation (lines and summary computed, written to
Spark's no-op sink) to show what the recording costs on top.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import functions as F

from bench.lakes import BenchContext
from bench.results import Figure, MemoryRow, Section
from bench.timing import measure
from meterlake.core.lake import Lake
from meterlake.gold.settlement.book import SettlementBook, book_from_mapping
from meterlake.gold.settlement.inputs import pin_inputs, reading_dates, readings_at
from meterlake.gold.settlement.report import settlement_frames
from meterlake.gold.settlement.run import settle
from meterlake.silver.meter_readings import SILVER_METER_READINGS

TARGET_RATIO = 3.0
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def _partner(zone: str, peak: tuple[str, str]) -> dict:
    return {
        "time_zone": zone, "currency": "EUR",
        "windows": [
            {"name": "peak", "days": WEEKDAYS, "start": peak[0], "end": peak[1]},
            {"name": "offpeak", "days": WEEKDAYS, "start": "00:00", "end": peak[0]},
            {"name": "offpeak", "days": WEEKDAYS, "start": peak[1], "end": "24:00"},
            {"name": "offpeak", "days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
        ],
        "prices": {"peak": "0.30", "offpeak": "0.20"},
    }


def bench_book(meter_ids: list[str]) -> SettlementBook:
    """Every meter to one of two partners, alternately."""
    partners = ("north", "west")
    return book_from_mapping({
        "partners": {"north": _partner("Europe/Amsterdam", ("07:00", "23:00")),
                     "west": _partner("America/New_York", ("14:00", "19:00"))},
        "assignments": [{"meter": m, "partner": partners[i % 2], "from": "2000-01-03T00:00"}
                        for i, m in enumerate(sorted(meter_ids))],
    }, "bench book")


def first_full_month(lake: Lake) -> str:
    bounds = lake.read(SILVER_METER_READINGS).agg(
        F.min("interval_date").alias("first"), F.max("interval_date").alias("last")).first()
    assert bounds is not None
    # A day of margin on both sides covers the partners' offsets from UTC.
    start = bounds["first"] + timedelta(days=1)
    month = date(start.year, start.month, 1)
    if month < start:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    if following + timedelta(days=1) > bounds["last"]:
        raise ValueError(f"silver ({bounds['first']}..{bounds['last']}) holds no full month")
    return f"{month:%Y-%m}"


def measure_settlement(ctx: BenchContext) -> Section:
    largest = max(ctx.scale.sizes)
    lake = ctx.copy_of_base(largest, "settlement")
    meters = [r["meter_id"] for r in
              lake.read(SILVER_METER_READINGS).select("meter_id").distinct().collect()]
    book, month = bench_book(meters), first_full_month(lake)
    first, last = reading_dates(book, month)
    section = Section(f"Settlement: {month} for {len(meters)} meters in two partners "
                      f"(lake of {largest}x)")

    def bare(run: int) -> None:
        month_df = lake.read(SILVER_METER_READINGS).filter(
            F.col("interval_date").between(F.lit(first + timedelta(days=8)), F.lit(last)))
        month_df.groupBy("meter_id").agg(F.sum("value").alias("value"),
                                          F.count(F.lit(1)).alias("readings")).write.format(
            "delta").mode("overwrite").save(str(ctx.work / f"bare-settlement-{run}"))

    def calculation(_: None) -> None:
        readings = readings_at(lake, pin_inputs(lake), "silver", (first, last))
        result = settlement_frames(lake.spark, readings, book, month)
        result.lines.write.format("noop").mode("overwrite").save()
        result.summary.write.format("noop").mode("overwrite").save()
        result.release()

    baseline = measure(ctx.runs, ctx.probe, lambda run: run, bare)
    computed = measure(ctx.runs, ctx.probe, lambda run: None, calculation)
    settled = measure(ctx.runs, ctx.probe, lambda run: None,
                      lambda _: settle(lake, book, month))
    for job, timing in (("settle (calculation, exports, gold, run record)", settled),
                        ("settlement calculation only (no-op sink)", computed)):
        ratio = timing.median_s / baseline.median_s
        section.figures.append(Figure(
            "4. settlement", job, timing, "bare scan of the month, group by meter, Delta write",
            baseline, ratio, "x the bare aggregation", f"<= {TARGET_RATIO}",
            ratio <= TARGET_RATIO))
    section.memory += [MemoryRow("settle", f"{largest}x", settled.memory),
                       MemoryRow("bare month aggregation", f"{largest}x", baseline.memory)]
    month_rows = lake.read(SILVER_METER_READINGS).filter(
        F.col("interval_date").between(F.lit(first + timedelta(days=8)), F.lit(last))).count()
    section.notes.append(
        f"The month holds about {month_rows:,} readings; settle reads {(last - first).days + 1} "
        "UTC dates (the month, the 7 days before it for estimates, and a day of margin for the "
        "partners' offsets from UTC).")
    return section
