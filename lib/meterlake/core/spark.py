"""The one place a SparkSession is built, with Delta Lake configured and UTC everywhere."""

from __future__ import annotations

import os
import sys
import time

from pyspark.sql import SparkSession

from meterlake.core.config import Settings
from meterlake.core.jars import jar_paths, missing_jars
from meterlake.core.object_store import credentials_for, hadoop_options, is_object_store


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands its gateway to Python; master and jars then
    # come from the spark-submit command line, not from us.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session_conf(settings: Settings) -> dict[str, str]:
    """Every Spark setting meterlake relies on; user `spark.conf` entries win."""
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.databricks.delta.snapshotPartitions": str(settings.spark.delta_snapshot_partitions),
        "spark.ui.enabled": str(settings.spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": f"{settings.lake_root.rstrip('/')}/_catalog",
        # Keeps MERGE output to about one file per touched date partition.
        "spark.databricks.delta.merge.repartitionBeforeWrite.enabled": "true",
    }
    conf.update({f"spark.hadoop.{key}": value for key, value in s3a_options(settings).items()})
    conf.update(settings.spark.conf)
    return conf


def s3a_options(settings: Settings) -> dict[str, str]:
    """Hadoop S3A settings when the lake or the landing zone is on object storage, else none."""
    if not (is_object_store(settings.lake_root) or is_object_store(settings.landing_root)):
        return {}
    return hadoop_options(settings.object_store, credentials_for(settings.object_store))


def _is_on_this_machine(master: str | None) -> bool:
    return master is not None and (
        master.startswith("local") or master.startswith(("spark://127.0.0.1", "spark://localhost")))


def build_session(settings: Settings, app_name: str) -> SparkSession:
    """Builds (or returns the running) session for `settings`."""
    builder = SparkSession.builder.appName(app_name)
    if not _under_spark_submit():
        missing = missing_jars()
        if missing:
            raise RuntimeError(
                f"jars missing (Delta, S3A): {', '.join(map(str, missing))}; run `make setup` "
                "(or `python -m meterlake.core.jars fetch`)"
            )
        if settings.spark.master:
            builder = builder.master(settings.spark.master)
        if _is_on_this_machine(settings.spark.master):
            # A laptop lake or a loopback cluster talks to nobody: bind to loopback, not the
            # first interface.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python steps (the region contours) run in worker processes, which must import
        # meterlake and shapely: the driver's interpreter has both, `python3` on the PATH of
        # a worker may have neither.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.jars", ",".join(str(p) for p in jar_paths()))
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    # PySpark turns collected timestamps into naive datetimes in the process's local zone; the
    # driver runs in UTC so that what it prints and compares is UTC too.
    os.environ["TZ"] = "UTC"
    time.tzset()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    use_object_store(spark, settings)
    return spark


def use_object_store(spark: SparkSession, settings: Settings) -> None:
    """Puts the object store's S3A settings into a running session's Hadoop configuration: a
    session built before (a notebook, the test suite) keeps its own, and later jobs read it."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3a_options(settings).items():
        hadoop.set(key, value)


def catalog_outlives_session(spark: SparkSession) -> bool:
    """Whether the session's catalog is kept beyond it (a Hive metastore), so that the tables a
    job names in it stay named for the next session; Spark's in-memory catalog is not."""
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") != "in-memory"
