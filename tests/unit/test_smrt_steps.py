"""Unit tests for the steps of meterlake.sources.smrt.parse on inline lines and files: staging of
records, the row rules, CONSU records as bronze rows and the all-or-nothing file verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from meterlake.core.config import Settings, SmrtSettings
from meterlake.quality.quarantine import with_violations
from meterlake.sources.smrt.contract import BRONZE_SMRT
from meterlake.sources.smrt.parse import parse_files, parse_lines, to_bronze_rows
from meterlake.sources.smrt.rules import SMRT_LINE_RULES

RECEIVED = datetime(2019, 10, 17, 8, 0)
CREATED = datetime(2019, 10, 16, 10, 29, 39)
HEADR = '"HEADR","SMRT","GAZ","20191016","102939","{generation}"'
TRAIL = '"TRAIL"'
SETTINGS = Settings(lake_root="/unused/lake", landing_root="/unused/landing")
VIOLATIONS_DDL = "_source_line INT, violations ARRAY<STRUCT<field: STRING, message: STRING>>"


def _lines(spark: SparkSession, lines: list[str]) -> DataFrame:
    """Lines of one file, numbered from 1, as `text.explode_lines` hands them to parse_lines."""
    return spark.createDataFrame(list(enumerate(lines, start=1)),
                                 "_source_line INT, raw_line STRING")


def _violations(spark: SparkSession, lines: list[str]) -> DataFrame:
    staged_df = _lines(spark, lines).transform(parse_lines)
    return staged_df.transform(with_violations, SMRT_LINE_RULES).select("_source_line",
                                                                        "violations")


def _file(ingest_id: str, name: str, lines: list[str] | None) -> tuple:
    """A landed file as the ingest hands it to parse_files (None: an empty file)."""
    content = None if lines is None else "\n".join(lines).encode()
    return (ingest_id, name, RECEIVED, f"sha-{ingest_id}", f"/landing/{ingest_id}",
            0 if content is None else len(content), None if content is None else bytearray(content))


def _files(spark: SparkSession, files: list[tuple]) -> DataFrame:
    return spark.createDataFrame(files, (
        "_ingest_id STRING, _source_file STRING, _received_at TIMESTAMP, _file_sha256 STRING, "
        "landing_path STRING, byte_size BIGINT, content BINARY"))


def test_parse_lines_reads_the_header_fields_and_creation_time(spark: SparkSession) -> None:
    actual_df = _lines(spark, [
        HEADR.format(generation="PN000001"),
        '"HEADR", "SMRT", "GAZ", "20191016", "1029", "PN000001"',
        '"HEADR","SMRT","GAZ","20191332","102939","PN000001"',
        '"HEADR","SMRT"',
    ]).transform(parse_lines).select(
        "_source_line", "record_type", "field_count", "file_type", "company_id", "generation",
        "file_created_at")
    expected_df = spark.createDataFrame([
        (1, "HEADR", 6, "SMRT", "GAZ", "PN000001", CREATED),
        # Spaces after commas are the sender's habit; a 4-digit time is no creation time.
        (2, "HEADR", 6, "SMRT", "GAZ", "PN000001", None),
        (3, "HEADR", 6, "SMRT", "GAZ", "PN000001", None),  # month 13
        (4, "HEADR", 2, "SMRT", None, None, None),
    ], "_source_line INT, record_type STRING, field_count INT, file_type STRING, "
       "company_id STRING, generation STRING, file_created_at TIMESTAMP")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_parse_lines_reads_consu_records_as_hour_starts_and_numbers(spark: SparkSession) -> None:
    actual_df = _lines(spark, [
        '"CONSU","000000002","20191014","1100",10.28',
        '"CONSU", "000000002", "20191014", "2300", 0',
        '"CONSU","000000002","20191014","1200",',
        '"CONSU","000000002","20190230","0100","7.5"',
        TRAIL,
    ]).transform(parse_lines).select(
        "_source_line", "record_type", "field_count", "meter_number", "interval_start",
        "consumption")
    expected_df = spark.createDataFrame([
        (1, "CONSU", 5, "000000002", datetime(2019, 10, 14, 11, 0), 10.28),
        (2, "CONSU", 5, "000000002", datetime(2019, 10, 14, 23, 0), 0.0),
        (3, "CONSU", 5, "000000002", datetime(2019, 10, 14, 12, 0), None),
        (4, "CONSU", 5, "000000002", None, 7.5),  # 30 February; a quoted number is a number
        (5, "TRAIL", 1, None, None, None),
    ], "_source_line INT, record_type STRING, field_count INT, meter_number STRING, "
       "interval_start TIMESTAMP, consumption DOUBLE")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_row_rules_name_every_bad_field_of_a_consu_record(spark: SparkSession) -> None:
    actual_df = _violations(spark, [
        '"CONSU","000000002","20191014","1100",10.28',
        '"CONSU","A1","20191014","1130",x',
        '"CONSU","000000002","20191014","1200",',
        '"CONSU","000000002","20191014","1300",-0.5',
        '"CONSU","000000002","20191014","1400",0',
    ])
    expected_df = spark.createDataFrame([
        (1, []),
        (2, [("meter number", "not a string of digits: 'A1'"),
             ("time", "not HHMM at the start of an hour: '1130'"),
             ("consumption", "not a number: 'x'")]),
        (3, [("consumption", "not a number: (empty)")]),
        (4, [("consumption", "negative: '-0.5'")]),
        (5, []),  # zero is a consumption
    ], VIOLATIONS_DDL)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_row_rules_check_header_trailer_and_record_types(spark: SparkSession) -> None:
    actual_df = _violations(spark, [
        HEADR.format(generation="DV000001"),
        '"HEADR","SMRX","","20191016","102939","PN12"',
        '"FOOTR"',
        '"TRAIL","x"',
        TRAIL,
    ])
    expected_df = spark.createDataFrame([
        (1, []),
        (2, [("file type", "'SMRX', expected 'SMRT'"), ("company id", "empty"),
             ("generation number", "'PN12' does not match (PN|DV)[0-9]{6}")]),
        (3, [("record type", "unknown 'FOOTR'")]),
        (4, [("(record)", "TRAIL has 2 fields, expected 1")]),
        (5, []),
    ], VIOLATIONS_DDL)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_to_bronze_rows_keeps_consu_records_of_accepted_files_with_their_header(
    spark: SparkSession,
) -> None:
    lines = [
        ("i1", "PN000123.SMRT", 1, HEADR.format(generation="PN000123")),
        ("i1", "PN000123.SMRT", 2, '"CONSU","000000002","20191014","2300",10.28'),
        ("i1", "PN000123.SMRT", 3, '"CONSU","000000007","20191015","0000",0'),
        ("i1", "PN000123.SMRT", 4, TRAIL),
        ("i2", "PN000124.SMRT", 1, HEADR.format(generation="PN000124")),
        ("i2", "PN000124.SMRT", 2, '"CONSU","000000002","20191014","2300",99.0'),
    ]
    checked_df = spark.createDataFrame(
        [(i, name, n, RECEIVED, f"sha-{i}", raw) for i, name, n, raw in lines],
        "_ingest_id STRING, _source_file STRING, _source_line INT, _received_at TIMESTAMP, "
        "_file_sha256 STRING, raw_line STRING",
    ).transform(parse_lines)
    verdicts_df = spark.createDataFrame([
        ("i1", None, ("GAZ", CREATED, "PN000123")),
        ("i2", "trailer: missing", ("GAZ", CREATED, "PN000124")),
    ], "_ingest_id STRING, rejection STRING, "
       "header STRUCT<company_id: STRING, file_created_at: TIMESTAMP, generation: STRING>")
    actual_df = to_bronze_rows(checked_df, verdicts_df)
    expected_df = spark.createDataFrame([
        # 23:00 is the last hour of 14 October; midnight starts the next interval date.
        ("000000002", datetime(2019, 10, 14, 23, 0), date(2019, 10, 14), 10.28, "GAZ", CREATED,
         "PN000123", 123, "i1", "PN000123.SMRT", 2, RECEIVED, "sha-i1"),
        ("000000007", datetime(2019, 10, 15, 0, 0), date(2019, 10, 15), 0.0, "GAZ", CREATED,
         "PN000123", 123, "i1", "PN000123.SMRT", 3, RECEIVED, "sha-i1"),
    ], BRONZE_SMRT.schema)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def _case_files(spark: SparkSession) -> DataFrame:
    consu = '"CONSU","000000002","20191014","{hour}00",{value}'
    return _files(spark, [
        _file("ok", "PN000001.SMRT", [HEADR.format(generation="PN000001"),
                                      consu.format(hour="11", value="10.28"),
                                      consu.format(hour="12", value="0.5"), TRAIL]),
        _file("bad", "PN000002.SMRT", [HEADR.format(generation="PN000002"),
                                       consu.format(hour="11", value="-1.5")]),
        _file("empty", "PN000003.SMRT", None),
        _file("dev", "DV000004.SMRT", [HEADR.format(generation="DV000004"), TRAIL]),
        _file("renamed", "renamed.SMRT", [HEADR.format(generation="PN000005"), TRAIL]),
        _file("late", "PN000006.SMRT", [consu.format(hour="11", value="1"),
                                        HEADR.format(generation="PN000006"), TRAIL]),
    ])


def test_a_file_with_any_problem_is_rejected_whole_with_every_reason(spark: SparkSession) -> None:
    actual_df = parse_files(_case_files(spark), SETTINGS).verdicts_df
    expected_df = spark.createDataFrame([
        ("ok", None),
        ("bad", "trailer: missing; line 2: consumption: negative: '-1.5'"),
        ("empty", "file is empty"),
        ("dev", "development file DV000004 refused: configuration accepts production (PN) "
                "files only"),
        ("renamed", "file name 'renamed.SMRT' does not match the header's generation number "
                    "'PN000005' (expected 'PN000005.SMRT')"),
        ("late", "header: misplaced or repeated (lines 2)"),
    ], "_ingest_id STRING, rejection STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_only_the_accepted_file_gives_bronze_rows(spark: SparkSession) -> None:
    parsed = parse_files(_case_files(spark), SETTINGS)
    expected_df = spark.createDataFrame([
        ("000000002", datetime(2019, 10, 14, 11, 0), date(2019, 10, 14), 10.28, "GAZ", CREATED,
         "PN000001", 1, "ok", "PN000001.SMRT", 2, RECEIVED, "sha-ok"),
        ("000000002", datetime(2019, 10, 14, 12, 0), date(2019, 10, 14), 0.5, "GAZ", CREATED,
         "PN000001", 1, "ok", "PN000001.SMRT", 3, RECEIVED, "sha-ok"),
    ], BRONZE_SMRT.schema)
    assert_df_equality(parsed.bronze_df, expected_df, ignore_row_order=True, ignore_nullable=True)
    assert parsed.quarantine_df.collect() == []


def test_development_files_load_when_production_only_is_off(spark: SparkSession) -> None:
    settings = replace(SETTINGS, smrt=SmrtSettings(production_only=False))
    actual_df = parse_files(_case_files(spark), settings).verdicts_df.filter(
        F.col("_ingest_id").isin("dev", "renamed"))
    expected_df = spark.createDataFrame([
        ("dev", None),
        ("renamed", "file name 'renamed.SMRT' does not match the header's generation number "
                    "'PN000005' (expected 'PN000005.SMRT')"),
    ], "_ingest_id STRING, rejection STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)
