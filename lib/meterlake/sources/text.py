"""What every text file source checks first, and how its lines are numbered."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from meterlake.core.contracts import LINEAGE_COLUMNS, TableContract
from meterlake.core.instants import (
    FIRST_INSTANT_US,
    LAST_INSTANT_US,
    SPARK_INSTANT_FORMATS,
    SPARK_INSTANT_PATTERN,
)
from meterlake.core.interfaces import ParsedFiles
from meterlake.quality.quarantine import filter_valid, to_quarantine_rows, with_violations

_BOM = "\ufeff"


def text_of(content: Column) -> Column:
    """The file's bytes as a string, without a UTF-8 byte-order mark."""
    return F.regexp_replace(content.cast("string"), f"^{_BOM}", "")


def first_line_of(text: Column) -> Column:
    return F.regexp_replace(F.substring_index(text, "\n", 1), "\r$", "")


def text_rejection(byte_size: Column, content: Column) -> Column:
    """Why a landed file cannot be read as text, or null.

    `content` is null where Spark returned no content (it skips empty files).
    """
    text = content.cast("string")
    return (
        F.when(byte_size == 0, F.lit("file is empty"))
        .when(content.isNull(), F.lit("landed file could not be read"))
        .when(~F.is_valid_utf8(text), F.lit("not a text file: invalid UTF-8"))
        .when(F.instr(text, "\u0000") > 0, F.lit("not a text file: contains NUL bytes"))
    )


def explode_lines(files_df: DataFrame, first_line: int = 1) -> DataFrame:
    """One row per non-blank line from `first_line` on: `raw_line` (CR stripped) and
    `_source_line` (1-based in the file).

    Input: files with `text` and the lineage columns except `_source_line`.
    """
    lineage = [c for c in LINEAGE_COLUMNS if c != "_source_line"]
    lines_df = files_df.select(
        *lineage, F.posexplode(F.split(F.col("text"), "\n")).alias("position", "raw_line")
    )
    return (
        lines_df.withColumn("raw_line", F.regexp_replace("raw_line", "\r$", ""))
        .withColumn("_source_line", (F.col("position") + 1).cast("int"))
        .filter((F.col("_source_line") >= first_line) & (F.trim(F.col("raw_line")) != ""))
        .drop("position")
    )


def field_count(raw_line: Column) -> Column:
    """Separators outside quoted fields, plus one (RFC 4180 quoting)."""
    return F.size(F.split(F.regexp_replace(raw_line, r'"([^"]|"")*"', ""), ",", -1))


def instant_column(raw: Column) -> Column:
    """The UTC timestamp a string column names, or null wherever
    `meterlake.core.instants.parse_instant` would raise: the Column form of that one parser,
    built from its pattern, formats and range.

    Input: a string column (null in, null out). Output: a timestamp, one per row.
    """
    parsed = F.coalesce(*(F.try_to_timestamp(raw, F.lit(fmt)) for fmt in SPARK_INSTANT_FORMATS))
    # Spark's parser reads `t` and `z` as `T` and `Z` and takes a year with a minus sign; the
    # shape check keeps the two sets equal and spares garbage the three parse attempts.
    shaped_us = F.unix_micros(F.when(raw.rlike(SPARK_INSTANT_PATTERN), parsed))
    # Spark keeps instants Python cannot hold (year 0, or 9999-12-31T23:59:59-01:00). Pinning
    # and nullif read the value once; `when(between(x), x)` would parse every row twice.
    below, above = F.lit(FIRST_INSTANT_US - 1), F.lit(LAST_INSTANT_US + 1)
    pinned_us = F.least(F.greatest(shaped_us, below), above)
    return F.timestamp_micros(F.nullif(F.nullif(pinned_us, below), above))



def split_records(
    checked_files_df: DataFrame,
    explode: Callable[[DataFrame], DataFrame],
    bronze: TableContract,
    to_bronze: Callable[[DataFrame], DataFrame],
    source: str,
) -> ParsedFiles:
    """The end every JSON parse step shares: the accepted files (`rejection` null) exploded
    into records, checked by the bronze contract's row rules, and split into bronze rows
    (`to_bronze` derives the rest of the contract's columns) and quarantine rows."""
    checked_df = (
        checked_files_df.filter(F.col("rejection").isNull())
        .transform(explode)
        .transform(with_violations, bronze.row_rules)
    )
    return ParsedFiles(
        verdicts_df=checked_files_df.select("_ingest_id", "rejection"),
        bronze_df=filter_valid(checked_df).transform(to_bronze).select(*bronze.column_names),
        quarantine_df=to_quarantine_rows(checked_df, source),
        staged_dfs=(checked_df,),
    )
