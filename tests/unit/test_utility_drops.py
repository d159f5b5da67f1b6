"""Unit tests for meterlake.sources.utility_drops with the row rules and quarantine split."""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from meterlake.quality.quarantine import (
    QUARANTINE,
    filter_valid,
    to_quarantine_rows,
    with_violations,
)
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS
from meterlake.sources.utility_drops.parse import (
    explode_lines,
    parse_lines,
    to_bronze_rows,
    with_file_verdict,
    with_in_file_conflicts,
)
from meterlake.sources.utility_drops.rules import UTILITY_DROP_ROW_RULES

HEADER = ",meter_id,interval_date_time,energy_wh"
RECEIVED = datetime(2020, 6, 2, 8, 0)
LINEAGE_DDL = "_ingest_id STRING, _source_file STRING, _received_at TIMESTAMP, _file_sha256 STRING"


def _verdicts(spark: SparkSession, files: list[tuple[str, int, bytes | None]]) -> DataFrame:
    rows = [(name, size, None if c is None else bytearray(c)) for name, size, c in files]
    files_df = spark.createDataFrame(rows, "name STRING, byte_size BIGINT, content BINARY")
    return with_file_verdict(files_df).select("name", "rejection")


def _file(name: str, content: bytes) -> tuple[str, int, bytes]:
    return name, len(content), content


def test_with_file_verdict_accepts_well_formed_files(spark: SparkSession) -> None:
    line = "0,m1,2020-06-01T00:15:00.000Z,312.4"
    actual_df = _verdicts(spark, [
        _file("lf.csv", f"{HEADER}\n{line}\n".encode()),
        _file("crlf.csv", f"{HEADER}\r\n{line}\r\n".encode()),
        _file("bom.csv", f"\ufeff{HEADER}\n{line}\n".encode()),
        _file("header_only.csv", HEADER.encode()),
    ])
    expected_df = spark.createDataFrame(
        [("lf.csv", None), ("crlf.csv", None), ("bom.csv", None), ("header_only.csv", None)],
        "name STRING, rejection STRING",
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True)


def test_with_file_verdict_rejects_whole_files(spark: SparkSession) -> None:
    actual_df = _verdicts(spark, [
        ("empty.csv", 0, None),
        ("unread.csv", 120, None),
        _file("utf16.csv", b"\xff\xfe,\x00m\x00e\x00"),
        _file("nul.csv", f"{HEADER}\n0,m\x001,2020-06-01T00:15:00.000Z,1\n".encode()),
        _file("header.csv", b"meter_id,interval_date_time,energy_wh\r\n0,m1,x,1\n"),
        _file("data_first.csv", b"0,m1,2020-06-01T00:15:00.000Z,1\n"),
    ])
    expected_df = spark.createDataFrame(
        [
            ("empty.csv", "file is empty"),
            ("unread.csv", "landed file could not be read"),
            ("utf16.csv", "not a text file: invalid UTF-8"),
            ("nul.csv", "not a text file: contains NUL bytes"),
            ("header.csv",
             f"header is 'meter_id,interval_date_time,energy_wh', expected '{HEADER}'"),
            ("data_first.csv",
             f"header is '0,m1,2020-06-01T00:15:00.000Z,1', expected '{HEADER}'"),
        ],
        "name STRING, rejection STRING",
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True)


def test_explode_lines_numbers_lines_and_drops_blanks(spark: SparkSession) -> None:
    files_df = spark.createDataFrame(
        [
            ("a", "a.csv", RECEIVED, "sha-a", f"{HEADER}\r\n0,m1,t,1\r\n\r\n1,m2,t,2\r\n"),
            ("b", "b.csv", RECEIVED, "sha-b", f"{HEADER}\n   \n0,m3,t,3"),
            ("c", "c.csv", RECEIVED, "sha-c", f"{HEADER}\n"),
        ],
        f"{LINEAGE_DDL}, text STRING",
    )
    expected_df = spark.createDataFrame(
        [
            ("a", "a.csv", RECEIVED, "sha-a", "0,m1,t,1", 2),
            ("a", "a.csv", RECEIVED, "sha-a", "1,m2,t,2", 4),
            ("b", "b.csv", RECEIVED, "sha-b", "0,m3,t,3", 3),
        ],
        f"{LINEAGE_DDL}, raw_line STRING, _source_line INT",
    )
    assert_df_equality(
        explode_lines(files_df), expected_df, ignore_row_order=True, ignore_nullable=True
    )


def _checked(spark: SparkSession, raw_lines: list[str]) -> DataFrame:
    rows = [("a", "a.csv", RECEIVED, "sha-a", line, n) for n, line in enumerate(raw_lines, 2)]
    lines_df = spark.createDataFrame(rows, f"{LINEAGE_DDL}, raw_line STRING, _source_line INT")
    return parse_lines(lines_df).transform(with_violations, UTILITY_DROP_ROW_RULES)


def _quarantined(spark: SparkSession, raw_lines: list[str]) -> DataFrame:
    quarantine_df = to_quarantine_rows(_checked(spark, raw_lines), "utility_drops")
    return quarantine_df.select("_source_line", "field", "reason")


def _expected_quarantine(spark: SparkSession, rows: list[tuple[int, str, str]]) -> DataFrame:
    return spark.createDataFrame(rows, "_source_line INT, field STRING, reason STRING")


def test_bad_meter_and_timestamp_lines_are_quarantined_with_reasons(spark: SparkSession) -> None:
    actual_df = _quarantined(spark, [
        "0,,2020-06-01T00:15:00.000Z,1.0",
        '1,"",2020-06-01T00:15:00.000Z,1.0',
        "2,m1,2020-13-45T99:00:00.000Z,1.0",
        "3,m1,2020-06-01T00:15:00,1.0",
        "4,m1,2020-06-01T00:07:00.000Z,1.0",
        "5,m1,,1.0",
    ])
    ts = "interval_date_time: not an ISO 8601 timestamp with a UTC offset"
    expected_df = _expected_quarantine(spark, [
        (2, "meter_id", "meter_id: meter_id is empty"),
        (3, "meter_id", "meter_id: meter_id is empty"),
        (4, "interval_date_time", f"{ts}: '2020-13-45T99:00:00.000Z'"),
        (5, "interval_date_time", f"{ts}: '2020-06-01T00:15:00'"),
        (6, "interval_date_time",
         "interval_date_time: not on a 15-minute boundary: '2020-06-01T00:07:00.000Z'"),
        (7, "interval_date_time", f"{ts}: (empty)"),
    ])
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_bad_energy_lines_are_quarantined_with_reasons(spark: SparkSession) -> None:
    actual_df = _quarantined(spark, [
        "0,m1,2020-06-01T00:15:00.000Z,n/a",
        "1,m1,2020-06-01T00:15:00.000Z,NaN",
        "2,m1,2020-06-01T00:15:00.000Z,-12.5",
        "3,m1,2020-06-01T00:15:00.000Z,",
        "4,m1,2020-06-01T00:07:00.000Z,-1",
    ])
    expected_df = _expected_quarantine(spark, [
        (2, "energy_wh", "energy_wh: not a number: 'n/a'"),
        (3, "energy_wh", "energy_wh: not a finite number: 'NaN'"),
        (4, "energy_wh", "energy_wh: negative energy: '-12.5'"),
        (5, "energy_wh", "energy_wh: not a number: (empty)"),
        (6, "interval_date_time",
         "interval_date_time: not on a 15-minute boundary: '2020-06-01T00:07:00.000Z'; "
         "energy_wh: negative energy: '-1'"),
    ])
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_wrong_field_counts_are_quarantined_as_whole_lines(spark: SparkSession) -> None:
    actual_df = _quarantined(spark, [
        "0,m1,2020-06-01T00:15:00.000Z",
        "1,m1,2020-06-01T00:15:00.000Z,1.0,extra",
        "2,m1,2020-06-01T00:15:00.000Z,1.0,",
        "3,m1,2020-06-01T00:15:00.000Z,1.0,,,,,,,,",
        "4,,not-a-time,-1,x",
    ])
    expected_df = _expected_quarantine(spark, [
        (2, "(line)", "(line): expected 4 fields, found 3"),
        (3, "(line)", "(line): expected 4 fields, found 5"),
        (4, "(line)", "(line): expected 4 fields, found 5"),
        (5, "(line)", "(line): expected 4 fields, found 12"),
        (6, "(line)", "(line): expected 4 fields, found 5"),
    ])
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_quarantine_rows_keep_lineage_and_raw_line(spark: SparkSession) -> None:
    checked_df = _checked(spark, ["0,m1,2020-06-01T00:15:00.000Z,n/a"])
    actual_df = to_quarantine_rows(checked_df, "utility_drops")
    expected_df = spark.createDataFrame(
        [("utility_drops", "a", "a.csv", 2, RECEIVED, "sha-a",
          "0,m1,2020-06-01T00:15:00.000Z,n/a", "energy_wh", "energy_wh: not a number: 'n/a'")],
        QUARANTINE.schema,
    )
    assert_df_equality(actual_df, expected_df, ignore_nullable=True)


def test_valid_lines_are_parsed_to_utc_values(spark: SparkSession) -> None:
    checked_df = _checked(spark, [
        "0,m1,2020-06-01T00:15:00.000Z,312.4",
        "1,m2,2020-06-01T00:30:00Z,0",
        "2,m3,2020-06-01T02:15:00+02:00,1.5",
        '3,"abc",2020-06-01T00:45:00.000Z,7',
        "4, m5 ,2020-06-01T23:45:00.000Z, 2e3 ",
        '5,"a,b",2020-06-01T01:00:00.000Z,1',
        '6,"x""y",2020-06-01T01:15:00.000Z,2',
    ])
    actual_df = filter_valid(checked_df).select(
        "_source_line", "meter_id", "interval_start", "energy_wh"
    )
    expected_df = spark.createDataFrame(
        [
            (2, "m1", datetime(2020, 6, 1, 0, 15), 312.4),
            (3, "m2", datetime(2020, 6, 1, 0, 30), 0.0),
            (4, "m3", datetime(2020, 6, 1, 0, 15), 1.5),
            (5, "abc", datetime(2020, 6, 1, 0, 45), 7.0),
            (6, "m5", datetime(2020, 6, 1, 23, 45), 2000.0),
            (7, "a,b", datetime(2020, 6, 1, 1, 0), 1.0),
            (8, 'x"y', datetime(2020, 6, 1, 1, 15), 2.0),
        ],
        "_source_line INT, meter_id STRING, interval_start TIMESTAMP, energy_wh DOUBLE",
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_in_file_conflicts_flags_repeats_within_one_file(spark: SparkSession) -> None:
    t = datetime(2020, 6, 1, 0, 15)
    valid_df = spark.createDataFrame(
        [
            ("a", "m1", t, 2.0, 5),
            ("a", "m1", t, 1.0, 2),
            ("b", "m1", t, 4.0, 2),
            ("b", "m1", t, 4.0, 4),
            ("c", "m1", t, 9.0, 3),
            ("d", "m2", t, 0.0, 7),
        ],
        "_ingest_id STRING, meter_id STRING, interval_start TIMESTAMP, energy_wh DOUBLE, "
        "_source_line INT",
    )
    conflict = "conflicting energy_wh for one meter and interval in this file (lines 2, 5)"
    expected_df = spark.createDataFrame(
        [
            ("a", 5, conflict),
            ("a", 2, conflict),
            ("b", 2, None),
            ("b", 4, "repeats line 2 (same meter, interval and energy_wh)"),
            ("c", 3, None),
            ("d", 7, None),
        ],
        "_ingest_id STRING, _source_line INT, conflict STRING",
    )
    actual_df = with_in_file_conflicts(valid_df).select("_ingest_id", "_source_line", "conflict")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_to_bronze_rows_fixes_columns_and_utc_interval_date(spark: SparkSession) -> None:
    valid_df = spark.createDataFrame(
        [
            ("m1", datetime(2020, 6, 1, 23, 45), 1.5, "a", "a.csv", 2, RECEIVED, "sha-a", "x"),
            ("m1", datetime(2020, 6, 2, 0, 0), 0.0, "a", "a.csv", 3, RECEIVED, "sha-a", "y"),
        ],
        "meter_id STRING, interval_start TIMESTAMP, energy_wh DOUBLE, _ingest_id STRING, "
        "_source_file STRING, _source_line INT, _received_at TIMESTAMP, _file_sha256 STRING, "
        "raw_line STRING",
    )
    actual_df = to_bronze_rows(valid_df)
    assert actual_df.columns == BRONZE_UTILITY_DROPS.column_names
    expected_df = spark.createDataFrame(
        [
            ("m1", datetime(2020, 6, 1, 23, 45), date(2020, 6, 1), 1.5,
             "a", "a.csv", 2, RECEIVED, "sha-a"),
            ("m1", datetime(2020, 6, 2, 0, 0), date(2020, 6, 2), 0.0,
             "a", "a.csv", 3, RECEIVED, "sha-a"),
        ],
        BRONZE_UTILITY_DROPS.schema,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)
