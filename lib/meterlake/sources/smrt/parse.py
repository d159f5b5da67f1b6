"""SMRT files: smart gas meter readings in a HEADR / CONSU... / TRAIL CSV flow.

```
"HEADR","SMRT","GAZ","20191016","102939","PN000001"
"CONSU","000000002","20191014","1100",10.28
"TRAIL"
```
File flows are all-or-nothing: a file with a missing, misplaced or malformed header or trailer,
or any malformed CONSU record, is rejected whole, and the reason lists every bad line with its
number and field. Times are UTC; a CONSU time is the start of an hourly period.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from meterlake.core.config import Settings
from meterlake.core.contracts import interval_date_of
from meterlake.core.interfaces import FileSource, ParsedFiles
from meterlake.quality.quarantine import QUARANTINE, with_violations
from meterlake.sources import text
from meterlake.sources.smrt import NAME
from meterlake.sources.smrt.contract import BRONZE_SMRT

_CSV_SCHEMA = "f0 STRING, f1 STRING, f2 STRING, f3 STRING, f4 STRING, f5 STRING"
# Senders put spaces after commas (the published example does); quotes are RFC 4180.
_CSV_OPTIONS = {"ignoreLeadingWhiteSpace": "true", "ignoreTrailingWhiteSpace": "true",
                "escape": '"'}


# The fields after the record type, named by what they hold in each record type (the same
# position means different things in a HEADR and in a CONSU line).
HEADER_FIELDS = ("file_type", "company_id", "created_date", "created_time", "generation")
CONSU_FIELDS = ("meter_number", "measurement_date", "measurement_time", "consumption_raw")


def parse_lines(lines_df: DataFrame) -> DataFrame:
    """Adds `record_type`, `field_count`, the raw fields under their names in a header
    (`HEADER_FIELDS`) and in a consumption record (`CONSU_FIELDS`), and the parsed
    `file_created_at` (HEADR), `interval_start` and `consumption` (CONSU)."""
    fields = F.from_csv(F.col("raw_line"), _CSV_SCHEMA, _CSV_OPTIONS)
    return (
        lines_df.withColumn("fields", fields)
        .select(
            "*", F.col("fields")["f0"].alias("record_type"),
            *(F.col("fields")[f"f{i}"].alias(name) for i, name in enumerate(HEADER_FIELDS, 1)),
            *(F.col("fields")[f"f{i}"].alias(name) for i, name in enumerate(CONSU_FIELDS, 1)),
        )
        .withColumn("field_count", text.field_count(F.col("raw_line")))
        .withColumn("file_created_at", F.when(
            F.col("created_date").rlike(r"^[0-9]{8}$")
            & F.col("created_time").rlike(r"^[0-9]{6}$"),
            F.try_to_timestamp(F.concat("created_date", "created_time"),
                               F.lit("yyyyMMddHHmmss")),
        ))
        .withColumn("interval_start", F.try_to_timestamp(
            F.concat("measurement_date", "measurement_time"), F.lit("yyyyMMddHHmm")))
        .withColumn("consumption", F.col("consumption_raw").try_cast("double"))
        .drop("fields")
    )


def _line_list(lines: Column) -> Column:
    return F.array_join(F.transform(F.sort_array(lines), lambda n: n.cast("string")), ", ")


def _structure_problems() -> list[Column]:
    """Header first, trailer last, one of each (on the per-file aggregate of `_file_shape`)."""
    headers, trailers = F.col("header_lines"), F.col("trailer_lines")
    return [
        F.when(F.size(headers) == 0, F.lit("header: missing"))
        .when((F.size(headers) > 1) | (headers[0] != F.col("first_line")),
              F.concat(F.lit("header: misplaced or repeated (lines "), _line_list(headers),
                       F.lit(")"))),
        F.when(F.size(trailers) == 0, F.lit("trailer: missing"))
        .when((F.size(trailers) > 1) | (trailers[0] != F.col("last_line")),
              F.concat(F.lit("trailer: misplaced or repeated (lines "), _line_list(trailers),
                       F.lit(")"))),
    ]


def _file_shape(checked_df: DataFrame) -> DataFrame:
    """One row per file: first/last line, header and trailer lines, the header's fields, and
    every bad line as `line N: field: message`."""
    is_header = F.col("record_type") == "HEADR"
    bad_line = F.when(F.size("violations") > 0, F.struct(
        F.col("_source_line").alias("line"),
        F.array_join(F.transform("violations", lambda v: F.concat(
            v["field"], F.lit(": "), v["message"])), "; ").alias("messages"),
    ))
    return checked_df.groupBy("_ingest_id").agg(
        F.min("_source_line").alias("first_line"),
        F.max("_source_line").alias("last_line"),
        F.collect_list(F.when(is_header, F.col("_source_line"))).alias("header_lines"),
        F.collect_list(F.when(F.col("record_type") == "TRAIL", F.col("_source_line")))
        .alias("trailer_lines"),
        F.first(F.when(is_header, F.struct(
            "company_id", "file_created_at", "generation"
        )), ignorenulls=True).alias("header"),
        F.sort_array(F.collect_list(bad_line)).alias("bad_lines"),
    )


def _naming_problems(production_only: bool) -> list[Column]:
    generation = F.col("header.generation")
    valid = F.coalesce(generation.rlike(r"^(PN|DV)[0-9]{6}$"), F.lit(False))
    expected_name = F.concat(generation, F.lit(".SMRT"))
    problems = [F.when(valid & (F.col("_source_file") != expected_name), F.concat(
        F.lit("file name '"), F.col("_source_file"),
        F.lit("' does not match the header's generation number '"), generation,
        F.lit("' (expected '"), expected_name, F.lit("')"),
    ))]
    if production_only:
        problems.append(F.when(valid & generation.startswith("DV"), F.concat(
            F.lit("development file "), generation,
            F.lit(" refused: configuration accepts production (PN) files only"),
        )))
    return problems


def file_verdicts(files_df: DataFrame, shapes_df: DataFrame, production_only: bool) -> DataFrame:
    """`_ingest_id`, `rejection` (null when the file loads) and the header fields per file."""
    line_messages = F.transform(
        "bad_lines", lambda b: F.concat(F.lit("line "), b["line"].cast("string"), F.lit(": "),
                                        b["messages"])
    )
    problems = F.concat(
        F.filter(F.array(*_structure_problems()), lambda p: p.isNotNull()),
        F.coalesce(line_messages, F.array()),
        F.filter(F.array(*_naming_problems(production_only)), lambda p: p.isNotNull()),
    )
    return (
        files_df.select("_ingest_id", "_source_file", "text_rejection")
        .join(shapes_df, on="_ingest_id", how="left")
        .withColumn("header_lines", F.coalesce("header_lines", F.array().cast("array<int>")))
        .withColumn("trailer_lines", F.coalesce("trailer_lines", F.array().cast("array<int>")))
        .withColumn("problems", problems)
        .withColumn("rejection", F.coalesce(
            F.col("text_rejection"),
            F.when(F.size("problems") > 0, F.array_join("problems", "; ")),
        ))
        .select("_ingest_id", "rejection", "header")
    )


def to_bronze_rows(checked_df: DataFrame, verdicts_df: DataFrame) -> DataFrame:
    """CONSU records of accepted files as `bronze.smrt` rows, with their header's fields."""
    accepted_df = verdicts_df.filter(F.col("rejection").isNull()).select("_ingest_id", "header")
    return (
        checked_df.filter(F.col("record_type") == "CONSU")
        .join(accepted_df, on="_ingest_id", how="inner")
        .withColumn("meter_id", F.col("meter_number"))
        .withColumn("interval_date", interval_date_of(F.col("interval_start")))
        .withColumn("company_id", F.col("header.company_id"))
        .withColumn("file_created_at", F.col("header.file_created_at"))
        .withColumn("generation", F.col("header.generation"))
        .withColumn("generation_number", F.substring("header.generation", 3, 6).cast("long"))
        .select(*BRONZE_SMRT.column_names)
    )


def parse_files(files_df: DataFrame, settings: Settings) -> ParsedFiles:
    """Verdicts and bronze rows of landed SMRT files (no quarantine: files are all-or-nothing)."""
    texts_df = (
        files_df.withColumn("text", text.text_of(F.col("content")))
        .withColumn("text_rejection", text.text_rejection(F.col("byte_size"), F.col("content")))
    )
    checked_df = (
        texts_df.filter(F.col("text_rejection").isNull())
        .transform(text.explode_lines)
        .transform(parse_lines)
        .transform(with_violations, BRONZE_SMRT.row_rules)
    )
    verdicts_df = file_verdicts(texts_df, _file_shape(checked_df), settings.smrt.production_only)
    spark = files_df.sparkSession
    return ParsedFiles(
        verdicts_df=verdicts_df.select("_ingest_id", "rejection"),
        bronze_df=to_bronze_rows(checked_df, verdicts_df),
        quarantine_df=spark.createDataFrame([], QUARANTINE.schema),
    )


SMRT_FILES = FileSource(
    name=NAME, bronze=BRONZE_SMRT, parse=parse_files, duplicate_by="original_name"
)
