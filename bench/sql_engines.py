"""5. SQL engines: the analysts' queries in Trino (infra/trino.sh) and in Spark SQL, over the
same silver table of the largest lake (after the update's snapshot and the nightly OPTIMIZE
ZORDER BY meter_id that the read-latency measurement runs; run alone, `--only sql` builds that
lake itself: the base, the update's snapshot, OPTIMIZE).

- one meter's month: every column an analyst reads, with the date partitions and the instants
  bounded (the query README gives analysts), in Trino vs in Spark SQL;
- a full-table aggregate (per date: readings, meters, energy), in Trino vs in Spark SQL; both
  engines' rows must be equal, or the measurement fails;
- Trino's one-meter-month vs Trino's own full scan of the same columns (every row read and
  checksummed in the server, so the client's transfer does not count): what the date
  partitions and the per-file and per-row-group meter statistics save.

Trino is started when it is not running (and left as found); the table is registered under a
schema of its own (`bench`) and unregistered at the end, so a registered user lake stays as
it was. Each timed call is one statement through the client, results fetched, as an analyst's
tool runs it; Spark's through the bench's session (`spark.sql(...).collect()`).
"""

from __future__ import annotations

import math
import subprocess
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.lakes import BenchContext
from bench.reads import month_of_one_meter
from bench.results import Figure, Section
from bench.timing import Timing, measure
from meterlake.core.lake import Lake
from meterlake.core.object_store import trino_location
from meterlake.engine.snapshot import run_snapshot
from meterlake.maintenance import run_optimize
from meterlake.serve.trino_register import (
    ADMIN_CATALOG,
    READ_CATALOG,
    connect,
    statement_rows,
)
from meterlake.sources.utility_drops import source as utility_drops_source

TRINO_SCRIPT = Path(__file__).resolve().parents[1] / "infra" / "trino.sh"
TARGET_TRINO_SKIPPING = 20.0
SCHEMA = "bench"
MONTH_COLUMNS = ("meter_id, interval_start, value, unit, source, version_count, _source_file, "
                 "_source_line, _received_at")
MONTH_SQL = (f"SELECT {MONTH_COLUMNS} FROM {{table}} WHERE meter_id = '{{meter}}' "
             "AND interval_date BETWEEN DATE '{first_date}' AND DATE '{last_date}' "
             "AND interval_start >= TIMESTAMP '{start} UTC' AND interval_start < "
             "TIMESTAMP '{end} UTC' ORDER BY interval_start")
AGGREGATE_SQL = ("SELECT interval_date, count(*) AS readings, count(DISTINCT meter_id) AS "
                 "meters, sum(value) AS energy FROM {table} GROUP BY interval_date "
                 "ORDER BY interval_date")
FULL_SCAN_SQL = ("SELECT count(*), "
                 + ", ".join(f"checksum({c})" for c in MONTH_COLUMNS.split(", "))
                 + " FROM {table}")


def _trino(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(TRINO_SCRIPT), command], capture_output=True, text=True,
                          timeout=900, check=False)


def _same_rows(left: list[list[Any]], right: list[list[Any]]) -> bool:
    """Both engines' rows equal, a double (or decimal) sum to 1e-12 relative: Spark and Trino
    add a date's 144,000 values in different orders, which moves the last bits."""
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float | Decimal) and isinstance(b, float | Decimal):
            return math.isclose(float(a), float(b), rel_tol=1e-12)
        return bool(a == b)

    return len(left) == len(right) and all(
        len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
        for x, y in zip(left, right, strict=True))


def _timed(ctx: BenchContext, runs: int, call: Callable[[], object]) -> Timing:
    call()  # untimed: plans, opens the log, warms the page cache
    return measure(runs, ctx.probe, lambda _run: None, lambda _: call())


def _spark_rows(spark: SparkSession, sql: str) -> list[list[Any]]:
    return [list(row) for row in spark.sql(sql).collect()]


def _largest_lake_optimized(ctx: BenchContext) -> Lake:
    """The lake the snapshot and reads measurements leave (the update snapshotted at the largest
    size, optimized); built here the same way when they did not run."""
    size = max(ctx.scale.sizes)
    lake = ctx.snapshotted(size)
    if not Path(lake.settings.lake_root).exists():
        lake = ctx.with_update_landed(size, ctx.snapshot_name(size, 0))
        run_snapshot(lake, utility_drops_source.SNAPSHOT)
        run_optimize(lake)
    return lake


def measure_sql_engines(ctx: BenchContext) -> Section:
    section = Section("SQL engines: Trino 476 and Spark SQL over the same silver table")
    size = max(ctx.scale.sizes)
    root = _largest_lake_optimized(ctx).settings.lake_root
    silver_path = f"{root}/silver/meter_readings"
    meter, start, end = month_of_one_meter(ctx, root)
    month = {"meter": meter, "first_date": f"{start:%Y-%m-%d}", "last_date": f"{end:%Y-%m-%d}",
             "start": f"{start:%Y-%m-%d %H:%M:%S}", "end": f"{end:%Y-%m-%d %H:%M:%S}"}

    was_running = _trino("status").returncode == 0
    started = _trino("start")
    if started.returncode != 0:
        raise RuntimeError(f"infra/trino.sh start failed:\n{started.stderr[-2000:]}")
    connection = connect(_trino("url").stdout.strip())
    name = f"meter_readings_{uuid.uuid4().hex[:8]}"
    statement_rows(connection, f"CREATE SCHEMA IF NOT EXISTS {ADMIN_CATALOG}.{SCHEMA}")
    statement_rows(connection, f"CALL {ADMIN_CATALOG}.system.register_table(schema_name => "
                       f"'{SCHEMA}', table_name => '{name}', "
                       f"table_location => '{trino_location(silver_path)}')")
    try:
        in_trino = f"{READ_CATALOG}.{SCHEMA}.{name}"
        in_spark = f"delta.`{silver_path}`"
        trino_month_rows = statement_rows(connection, MONTH_SQL.format(table=in_trino, **month))
        spark_month_rows = _spark_rows(ctx.spark, MONTH_SQL.format(table=in_spark, **month))
        if len(trino_month_rows) != len(spark_month_rows) or not trino_month_rows:
            raise AssertionError(f"one meter's month: Trino {len(trino_month_rows)} rows, "
                                 f"Spark {len(spark_month_rows)}")
        trino_totals = statement_rows(connection, AGGREGATE_SQL.format(table=in_trino))
        spark_totals = _spark_rows(ctx.spark, AGGREGATE_SQL.format(table=in_spark))
        if not _same_rows(trino_totals, spark_totals):
            raise AssertionError("the per-date aggregate differs between Trino and Spark SQL")

        runs = max(ctx.runs, 11)  # sub-second, and noisy: more runs cost little
        trino_month = _timed(ctx, runs, lambda: statement_rows(
            connection, MONTH_SQL.format(table=in_trino, **month)))
        spark_month = _timed(ctx, runs, lambda: _spark_rows(
            ctx.spark, MONTH_SQL.format(table=in_spark, **month)))
        trino_aggregate = _timed(ctx, ctx.runs, lambda: statement_rows(
            connection, AGGREGATE_SQL.format(table=in_trino)))
        spark_aggregate = _timed(ctx, ctx.runs, lambda: _spark_rows(
            ctx.spark, AGGREGATE_SQL.format(table=in_spark)))
        trino_scan = _timed(ctx, ctx.runs, lambda: statement_rows(
            connection, FULL_SCAN_SQL.format(table=in_trino)))
        readings = sum(int(row[1]) for row in trino_totals)
    finally:
        statement_rows(connection, f"CALL {ADMIN_CATALOG}.system.unregister_table("
                           f"schema_name => '{SCHEMA}', table_name => '{name}')")
        connection.close()
        if not was_running:
            _trino("stop")

    rows = len(trino_month_rows)
    skipping = trino_scan.median_s / trino_month.median_s
    section.figures += [
        Figure("5. SQL engines", f"one meter, one month ({rows} readings) at {size}x, Trino",
               trino_month, "the same query in Spark SQL", spark_month,
               spark_month.median_s / trino_month.median_s, "x faster than Spark SQL", "-",
               None),
        Figure("5. SQL engines", f"per-date aggregate of silver ({readings} readings), Trino",
               trino_aggregate, "the same query in Spark SQL", spark_aggregate,
               spark_aggregate.median_s / trino_aggregate.median_s, "x faster than Spark SQL",
               "-", None),
        Figure("5. SQL engines", f"one meter, one month ({rows} readings) at {size}x, Trino",
               trino_month, "Trino full scan of the same columns (checksums)", trino_scan,
               skipping, "x faster than its full scan", f">= {TARGET_TRINO_SKIPPING}",
               skipping >= TARGET_TRINO_SKIPPING),
    ]
    section.notes += [
        f"Meter {meter}, {start:%Y-%m-%d}..{end:%Y-%m-%d}; "
        f"Trino {'already running' if was_running else 'started for the measurement'}, "
        "1 GB heap (infra/trino.sh); Spark local[2], the bench session. Both engines' rows "
        "were compared before timing: the month's row counts and the aggregate's every row.",
        "",
        "Queries (`{table}` is `lake.bench.<name>` in Trino, `delta.`<path>`` in Spark):",
        "",
        f"- month: `{MONTH_SQL}`",
        f"- aggregate: `{AGGREGATE_SQL}`",
        f"- Trino full scan: `{FULL_SCAN_SQL}`",
    ]
    return section
