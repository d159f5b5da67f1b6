"""Utility drops: CSV files of 15-minute interval reads, parsed into bronze rows.

A drop looks like `,meter_id,interval_date_time,energy_wh` then lines such as
`0,475bd821-...,2020-06-06T09:15:00.000Z,312.4` (an unnamed index, the meter, the UTC interval
start, the energy in Wh). Everything here is `DataFrame -> DataFrame`, with no I/O.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from meterlake.core.config import Settings
from meterlake.core.contracts import interval_date_of
from meterlake.core.interfaces import FileSource, ParsedFiles
from meterlake.quality.quarantine import filter_valid, to_quarantine_rows, with_violations
from meterlake.sources import text
from meterlake.sources.text import field_count, first_line_of, text_of, text_rejection
from meterlake.sources.utility_drops import NAME
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS

EXPECTED_HEADER = ",meter_id,interval_date_time,energy_wh"

_CSV_SCHEMA = "f0 STRING, f1 STRING, f2 STRING, f3 STRING"
# RFC 4180: a quote inside a quoted field is doubled (Spark's default escape is a backslash).
_CSV_OPTIONS = {"escape": '"'}


def with_file_verdict(files_df: DataFrame) -> DataFrame:
    """Adds `text` and `rejection` (null when the file as a whole is acceptable).

    Input: one row per file with `byte_size` (as landed) and `content` (binary). A file is
    rejected whole when it is not readable text (`text.text_rejection`) or its first line is not
    the header.
    """
    text = text_of(F.col("content"))
    first_line = first_line_of(text)
    rejection = F.coalesce(
        text_rejection(F.col("byte_size"), F.col("content")),
        F.when(
            first_line != EXPECTED_HEADER,
            F.format_string(
                "header is '%s', expected '%s'", F.substring(first_line, 1, 200),
                F.lit(EXPECTED_HEADER),
            ),
        ),
    )
    return files_df.withColumn("text", text).withColumn("rejection", rejection)


def explode_lines(files_df: DataFrame) -> DataFrame:
    """One row per non-blank data line: `_source_line` is 1-based in the file, header is line 1.

    Input: accepted files with `text` and the lineage columns except `_source_line`.
    """
    return text.explode_lines(files_df, first_line=2)


def parse_lines(lines_df: DataFrame) -> DataFrame:
    """Splits each `raw_line` into its fields and parses them; nothing is dropped here.

    Adds `field_count`, the raw fields `meter_id_raw`, `interval_raw`, `energy_raw` (null when
    empty), and the parsed `meter_id`, `interval_start`, `energy_wh` (null where unparseable;
    the row rules say why).
    """
    slots = [F.col("fields")[f"f{i}"] for i in range(4)]
    return (
        lines_df.withColumn("fields", F.from_csv(F.col("raw_line"), _CSV_SCHEMA, _CSV_OPTIONS))
        .withColumn("field_count", field_count(F.col("raw_line")))
        .withColumn("meter_id_raw", slots[1])
        .withColumn("interval_raw", slots[2])
        .withColumn("energy_raw", slots[3])
        .withColumn("meter_id", F.trim(F.col("meter_id_raw")))
        .withColumn("interval_start", text.instant_column(F.trim(F.col("interval_raw"))))
        .withColumn("energy_wh", F.trim(F.col("energy_raw")).try_cast("double"))
        .drop("fields")
    )


def with_in_file_conflicts(valid_df: DataFrame) -> DataFrame:
    """Adds `conflict` for rows repeating a (meter, interval) already present in the same file.

    Different values for one key in one file: every such row is quarantined (no way to know
    which is right). The same value repeated: the first line loads, later ones are quarantined.
    """
    same_key = Window.partitionBy("_ingest_id", "meter_id", "interval_start").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    distinct_values = F.size(F.collect_set("energy_wh").over(same_key))
    lines = F.array_join(F.sort_array(F.collect_list("_source_line").over(same_key)), ", ")
    first_line = F.min("_source_line").over(same_key)
    conflict = F.when(
        distinct_values > 1,
        F.format_string(
            "conflicting energy_wh for one meter and interval in this file (lines %s)", lines
        ),
    ).when(
        F.col("_source_line") != first_line,
        F.format_string("repeats line %d (same meter, interval and energy_wh)", first_line),
    )
    return valid_df.withColumn("conflict", conflict)


def to_bronze_rows(valid_df: DataFrame) -> DataFrame:
    """Valid staging rows as `bronze.utility_drops` rows (one per line)."""
    return valid_df.withColumn("interval_date", interval_date_of(F.col("interval_start"))).select(
        *BRONZE_UTILITY_DROPS.column_names
    )


def parse_files(files_df: DataFrame, settings: Settings) -> ParsedFiles:
    """Verdicts, bronze rows and quarantined lines of landed utility drops: every data line of an
    accepted file is in exactly one of bronze and quarantine."""
    checked_files_df = files_df.transform(with_file_verdict)
    checked_df = (
        checked_files_df.filter(F.col("rejection").isNull())
        .transform(explode_lines)
        .transform(parse_lines)
        .transform(with_violations, BRONZE_UTILITY_DROPS.row_rules)
    )
    valid_df = filter_valid(checked_df).transform(with_in_file_conflicts)
    conflicting_df = valid_df.filter(F.col("conflict").isNotNull()).withColumn(
        "violations",
        F.array(F.struct(F.lit("(line)").alias("field"), F.col("conflict").alias("message"))),
    )
    return ParsedFiles(
        verdicts_df=checked_files_df.select("_ingest_id", "rejection"),
        bronze_df=valid_df.filter(F.col("conflict").isNull()).transform(to_bronze_rows),
        quarantine_df=to_quarantine_rows(checked_df, NAME).unionByName(
            to_quarantine_rows(conflicting_df, NAME)
        ),
        staged_dfs=(checked_df, valid_df),
    )


UTILITY_DROP_FILES = FileSource(
    name=NAME, bronze=BRONZE_UTILITY_DROPS, parse=parse_files, duplicate_by="sha256"
)
