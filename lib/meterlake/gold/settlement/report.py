"""A month's settlement as two DataFrames: lines (per meter and window or event) and summary.

`settlement_frames` is the whole calculation; `meterlake.gold.settlement.run` adds run ids, writes
and records it, and reproduction calls the same function on the recorded inputs and book.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from meterlake.gold.settlement.book import INTERVAL_MINUTES, SettlementBook
from meterlake.gold.settlement.energy import energy_lines, local_readings, membership, with_kwh
from meterlake.gold.settlement.events import event_lines, events_in_month
from meterlake.gold.settlement.tables import (
    GOLD_SETTLEMENT_LINES,
    GOLD_SETTLEMENT_SUMMARY,
    KWH_OUT,
    MONEY,
    PRICE,
)


class SettlementInputError(ValueError):
    """Silver holds readings that this settlement cannot price (unit or resolution)."""


def _prices(spark: SparkSession, book: SettlementBook, month: str) -> DataFrame:
    rows = [
        (p.name, "energy", window, price, p.currency)
        for p in book.partners.values() for window, price in p.prices.items()
    ] + [
        (e.partner, "event", e.event_id, e.price, book.partners[e.partner].currency)
        for e in events_in_month(book, month)
    ]
    schema = StructType([
        StructField("partner", StringType(), False),
        StructField("line_type", StringType(), False),
        StructField("line_name", StringType(), False),
        StructField("price", PRICE, False),
        StructField("currency", StringType(), False),
    ])
    return spark.createDataFrame(rows, schema)


def check_settleable(readings_df: DataFrame) -> None:
    """Fails naming up to five meters whose readings are not 15-minute Wh or kWh."""
    wrong = (
        readings_df.filter((F.col("interval_minutes") != INTERVAL_MINUTES)
                           | ~F.col("unit").isin("Wh", "kWh"))
        .select("meter_id", "unit", "interval_minutes").distinct().limit(5).collect()
    )
    if wrong:
        listed = ", ".join(f"{r['meter_id']} ({r['interval_minutes']}-minute {r['unit']})"
                           for r in wrong)
        raise SettlementInputError(
            f"settlement prices {INTERVAL_MINUTES}-minute Wh or kWh readings; assigned meters "
            f"with others: {listed}")


def _completeness() -> Column:
    # Null, not a division by zero, where nothing was expected (a partner without meters).
    expected = F.col("intervals_expected")
    return F.when(expected > 0, F.round(F.col("intervals_present") / expected, 6)
                  ).cast("decimal(9,6)")


def priced_lines(lines_df: DataFrame, prices_df: DataFrame, month: str) -> DataFrame:
    """Lines with price, amount and completeness; energy lines bill measured plus estimated
    energy, event lines pay the reduction."""
    billed = F.when(F.col("line_type") == "energy", F.col("kwh_measured") + F.col("kwh_estimated")
                    ).otherwise(F.col("kwh_reduction"))
    return (
        lines_df.join(F.broadcast(prices_df), ["partner", "line_type", "line_name"], how="inner")
        .withColumn("month", F.lit(month))
        .withColumn("amount", F.round(billed.cast("decimal(24,9)") * F.col("price"), 2)
                    .cast(MONEY))
        .withColumn("completeness", _completeness())
        .withColumn("kwh_measured", F.round("kwh_measured", 6).cast(KWH_OUT))
        .withColumn("kwh_estimated", F.round("kwh_estimated", 6).cast(KWH_OUT))
        .withColumn("kwh_baseline", F.round("kwh_baseline", 6).cast(KWH_OUT))
        .withColumn("kwh_reduction", F.round("kwh_reduction", 6).cast(KWH_OUT))
    )


def summarize(lines_df: DataFrame, partners_df: DataFrame) -> DataFrame:
    """One row per partner of the book: the totals of its lines (zeros without meters)."""
    energy = F.col("line_type") == "energy"

    def total(column: str, where: Column = energy) -> Column:
        return F.coalesce(F.sum(F.when(where, F.col(column))), F.lit(0))

    sums_df = lines_df.groupBy("partner").agg(
        F.countDistinct("meter_id").alias("meters"),
        total("intervals_expected").alias("intervals_expected"),
        total("intervals_present").alias("intervals_present"),
        total("intervals_estimated").alias("intervals_estimated"),
        total("kwh_measured").cast(KWH_OUT).alias("kwh_measured"),
        total("kwh_estimated").cast(KWH_OUT).alias("kwh_estimated"),
        total("amount").cast(MONEY).alias("energy_amount"),
        total("kwh_reduction", ~energy).cast(KWH_OUT).alias("kwh_reduction"),
        total("amount", ~energy).cast(MONEY).alias("event_amount"),
    )
    zero: dict[str, bool | float | int | str] = dict.fromkeys(
        ("meters", "intervals_expected", "intervals_present", "intervals_estimated",
         "kwh_measured", "kwh_estimated", "energy_amount", "kwh_reduction", "event_amount"), 0)
    return (
        partners_df.join(sums_df, "partner", how="left").fillna(zero)
        .withColumn("total_amount", (F.col("energy_amount") + F.col("event_amount")).cast(MONEY))
        .withColumn("completeness", _completeness())
    )


@dataclass(frozen=True)
class Settlement:
    """A month's lines and summary (without run columns); `release` frees the cached readings."""

    lines: DataFrame
    summary: DataFrame
    cached: tuple[DataFrame, ...]

    def release(self) -> None:
        for cached_df in self.cached:
            cached_df.unpersist()


def settlement_frames(
    spark: SparkSession, readings_df: DataFrame, book: SettlementBook, month: str
) -> Settlement:
    """Lines and summary of `month` for every partner of `book`.

    `readings_df` are silver rows (any superset of the month and its look-back days)."""
    members_df = membership(spark, book, month).persist()
    assigned_df = readings_df.join(F.broadcast(members_df.select("meter_id").distinct()),
                                   "meter_id", how="left_semi")
    # Energy lines, estimates and event lines each read the month's readings in local time:
    # computed once (bench/README.md has the measurements of both variants).
    by_local_time_df = local_readings(with_kwh(assigned_df), members_df, book).persist(
        StorageLevel.MEMORY_AND_DISK)
    check_settleable(by_local_time_df)
    energy_df, days_df = energy_lines(by_local_time_df, members_df, book)
    lines_df = energy_df.select(
        "partner", "meter_id", F.lit("energy").alias("line_type"),
        F.col("window").alias("line_name"), "intervals_expected", "intervals_present",
        "intervals_estimated", "kwh_measured", "kwh_estimated",
        *(F.lit(None).cast(KWH_OUT).alias(c) for c in ("kwh_baseline", "kwh_reduction")),
        F.lit(None).cast("decimal(12,9)").alias("adjustment_factor"),
    )
    if events_in_month(book, month):
        events_df = event_lines(spark, members_df, by_local_time_df, book, month).select(
            "partner", "meter_id", F.lit("event").alias("line_type"),
            F.col("window").alias("line_name"), "intervals_expected", "intervals_present",
            F.lit(0).cast("long").alias("intervals_estimated"), "kwh_measured",
            F.lit(0).alias("kwh_estimated"), "kwh_baseline", "kwh_reduction",
            "adjustment_factor",
        )
        lines_df = lines_df.unionByName(events_df)
    # Lines are few (meters x windows); the summary and every export read them again.
    priced_df = priced_lines(lines_df, _prices(spark, book, month), month).persist()
    partners_df = spark.createDataFrame(
        [(p.name, p.currency, month) for p in book.partners.values()],
        "partner string, currency string, month string")
    return Settlement(priced_df, summarize(priced_df, partners_df),
                      (by_local_time_df, members_df, days_df, priced_df))


def with_runs(df: DataFrame, runs_df: DataFrame, contract_columns: list[str]) -> DataFrame:
    """Adds `run_id` and `revision` by partner from a small (partner, run_id, revision) frame."""
    return df.join(F.broadcast(runs_df), "partner", how="inner").select(*contract_columns)


LINE_COLUMNS = GOLD_SETTLEMENT_LINES.column_names
SUMMARY_COLUMNS = GOLD_SETTLEMENT_SUMMARY.column_names
