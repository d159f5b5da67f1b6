"""Utility drops: CSV files of 15-minute interval reads, parsed into bronze rows.

A drop looks like `,meter_id,interval_date_time,energy_wh` then lines such as
`0,475bd821-...,2020-06-06T09:15:00.000Z,312.4` (an unnamed index, the meter, the UTC interval
start, the energy in Wh). Everything here is `DataFrame -> DataFrame`, with no I/O.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from meterlake.tables import BRONZE_UTILITY_DROPS, LINEAGE_COLUMNS, interval_date_of

SOURCE_NAME = "utility_drops"
UNIT = "Wh"
COMMODITY = "electricity"
INTERVAL_MINUTES = 15
EXPECTED_HEADER = ",meter_id,interval_date_time,energy_wh"

_CSV_SCHEMA = "f0 STRING, f1 STRING, f2 STRING, f3 STRING"
# RFC 4180: a quote inside a quoted field is doubled (Spark's default escape is a backslash).
_CSV_OPTIONS = {"escape": '"'}
# Quoted fields may hold commas; remove them before counting the separators.
_QUOTED_FIELD = r'"([^"]|"")*"'
_TIMESTAMP_FORMATS = ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "yyyy-MM-dd'T'HH:mm:ssXXX")
_BOM = "\ufeff"


def with_file_verdict(files_df: DataFrame) -> DataFrame:
    """Adds `text` and `rejection` (null when the file as a whole is acceptable).

    Input: one row per file with `byte_size` (as landed) and `content` (binary, null where Spark
    returned no content: it skips empty files). A file is rejected whole when it is empty, could
    not be read, is not UTF-8 text, contains NUL bytes, or its first line is not the header.
    """
    text = F.col("content").cast("string")
    first_line = F.regexp_replace(
        F.substring_index(F.regexp_replace(text, f"^{_BOM}", ""), "\n", 1), "\r$", ""
    )
    rejection = (
        F.when(F.col("byte_size") == 0, F.lit("file is empty"))
        .when(F.col("content").isNull(), F.lit("landed file could not be read"))
        .when(~F.is_valid_utf8(text), F.lit("not a text file: invalid UTF-8"))
        .when(F.instr(text, "\u0000") > 0, F.lit("not a text file: contains NUL bytes"))
        .when(
            first_line != EXPECTED_HEADER,
            F.format_string(
                "header is '%s', expected '%s'", F.substring(first_line, 1, 200),
                F.lit(EXPECTED_HEADER),
            ),
        )
    )
    return files_df.withColumn("text", text).withColumn("rejection", rejection)


def explode_lines(files_df: DataFrame) -> DataFrame:
    """One row per non-blank data line: `_source_line` is 1-based in the file, header is line 1.

    Input: accepted files with `text` and the lineage columns except `_source_line`.
    """
    lineage = [c for c in LINEAGE_COLUMNS if c != "_source_line"]
    lines_df = files_df.select(
        *lineage, F.posexplode(F.split(F.col("text"), "\n")).alias("position", "raw_line")
    )
    return (
        lines_df.withColumn("raw_line", F.regexp_replace("raw_line", "\r$", ""))
        .withColumn("_source_line", (F.col("position") + 1).cast("int"))
        .filter((F.col("_source_line") > 1) & (F.trim(F.col("raw_line")) != ""))
        .drop("position")
    )


def _parsed_timestamp(raw: Column) -> Column:
    return F.coalesce(*(F.try_to_timestamp(raw, F.lit(fmt)) for fmt in _TIMESTAMP_FORMATS))


def parse_lines(lines_df: DataFrame) -> DataFrame:
    """Splits each `raw_line` into its fields and parses them; nothing is dropped here.

    Adds `field_count`, the raw fields `meter_id_raw`, `interval_raw`, `energy_raw` (null when
    empty), and the parsed `meter_id`, `interval_start`, `energy_wh` (null where unparseable;
    the row rules say why).
    """
    unquoted = F.regexp_replace(F.col("raw_line"), _QUOTED_FIELD, "")
    slots = [F.col("fields")[f"f{i}"] for i in range(4)]
    return (
        lines_df.withColumn("fields", F.from_csv(F.col("raw_line"), _CSV_SCHEMA, _CSV_OPTIONS))
        .withColumn("field_count", F.size(F.split(unquoted, ",", -1)))
        .withColumn("meter_id_raw", slots[1])
        .withColumn("interval_raw", slots[2])
        .withColumn("energy_raw", slots[3])
        .withColumn("meter_id", F.trim(F.col("meter_id_raw")))
        .withColumn("interval_start", _parsed_timestamp(F.trim(F.col("interval_raw"))))
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
