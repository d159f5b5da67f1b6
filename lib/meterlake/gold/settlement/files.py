"""Report files through Hadoop's FileSystem, so exports work on local disk and on S3 alike.

Spark writes a directory of part files; a partner wants one file. Each export is written as one
sorted partition and its single part file is moved to the export's name, which makes its bytes a
function of the rows alone.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

FORMATS = {"csv": {"header": "true"}, "parquet": {}}


def _jvm(spark: SparkSession) -> Any:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    return jvm


def _fs_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    path = _jvm(spark).org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def write_single_file(df: DataFrame, uri: str, fmt: str, order: list[str]) -> None:
    """Writes `df` sorted by `order` as one `fmt` file at `uri` (replacing it)."""
    spark = df.sparkSession
    staging = f"{uri}.parts"
    (
        df.repartition(1).sortWithinPartitions(*order)
        .write.format(fmt).options(**FORMATS[fmt]).mode("overwrite").save(staging)
    )
    fs, staging_path = _fs_path(spark, staging)
    parts = [s.getPath() for s in fs.listStatus(staging_path)
             if s.getPath().getName().startswith("part-")]
    if len(parts) != 1:
        raise RuntimeError(f"expected one part file under {staging}, found {len(parts)}")
    _, target = _fs_path(spark, uri)
    fs.delete(target, False)
    if not fs.rename(parts[0], target):
        raise RuntimeError(f"could not move {parts[0]} to {uri}")
    fs.delete(staging_path, True)


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    fs, path = _fs_path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_bytes(spark: SparkSession, uri: str) -> bytes:
    fs, path = _fs_path(spark, uri)
    if not fs.exists(path):
        raise FileNotFoundError(uri)
    stream = fs.open(path)
    try:
        return bytes(_jvm(spark).org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def sha256_of(spark: SparkSession, uri: str) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of one file, streamed in the JVM (no Spark job)."""
    fs, path = _fs_path(spark, uri)
    if not fs.exists(path):
        raise FileNotFoundError(uri)
    stream = fs.open(path)
    try:
        digest = _jvm(spark).org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream)
    finally:
        stream.close()
    return str(digest), int(fs.getFileStatus(path).getLen())


def rows_sha256(spark: SparkSession, uri: str, fmt: str) -> str:
    """The sha256 of a file's rows rendered canonically (CSV, every column, sorted).

    Parquet bytes are not reproducible across JVMs: parquet-mr writes each column's list of
    encodings from a hash set, whose order changes from one process to the next. The rows are.
    A CSV export is already canonical, so its rows checksum is its file checksum."""
    if fmt == "csv":
        return sha256_of(spark, uri)[0]
    rows_df = spark.read.format(fmt).load(uri)
    canonical = f"{uri}.canonical.csv"
    write_single_file(rows_df, canonical, "csv", rows_df.columns)
    checksum = sha256_of(spark, canonical)[0]
    fs, path = _fs_path(spark, canonical)
    fs.delete(path, False)
    return checksum


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _fs_path(spark, uri)
    return bool(fs.exists(path))
