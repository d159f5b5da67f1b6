"""The auditor SQL files (sql/) with their `${name}` parameters filled in, and the same query's
rows from Trino and from Spark SQL in one comparable form.

The two clients return some types differently: Spark gives naive datetimes (UTC: the driver
runs with TZ=UTC), Trino aware ones; both give Decimal, date, float, int, str and lists.
`normalised` makes every instant aware UTC and every list a tuple, and nothing else: instants
are not rounded, so a sub-millisecond difference is a difference.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import trino
from pyspark.sql import SparkSession

from meterlake.core.contracts import TableContract
from meterlake.core.lake import Lake
from meterlake.serve.trino_register import READ_CATALOG
from tests.helpers.paths import REPO

SQL_DIR = REPO / "sql"
_PARAMETER = re.compile(r"\$\{(\w+)\}")


def sql_literal(value: object) -> str:
    """A Python value as a literal both Trino and Spark SQL read the same way: an aware
    datetime as TIMESTAMP '... UTC' (to the microsecond), a date as DATE '...', a string quoted,
    an int as digits, None as NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        raise TypeError("no boolean parameters in the auditor SQL")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"an instant needs an offset: {value!r}")
        return f"TIMESTAMP '{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f} UTC'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def render_sql(text: str, parameters: Mapping[str, object]) -> str:
    """`text` with every `${name}` replaced by the literal of parameters[name]; a placeholder
    without a value, or a value without a placeholder, is an error."""
    used = set(_PARAMETER.findall(text))
    if used != set(parameters):
        raise KeyError(f"parameters {sorted(parameters)} for placeholders {sorted(used)}")
    return _PARAMETER.sub(lambda found: sql_literal(parameters[found.group(1)]), text)


def auditor_sql(file_name: str, **parameters: object) -> str:
    """sql/<file_name> rendered with `parameters`."""
    return render_sql((SQL_DIR / file_name).read_text(encoding="utf-8"), parameters)


def normalised(value: Any) -> Any:
    """One value as both engines' rows are compared: instants aware UTC, lists as tuples."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, list):
        return tuple(normalised(item) for item in value)
    return value


def _order(row: tuple[Any, ...]) -> str:
    # By repr, since rows may hold None, which does not order; an equal Decimal of another
    # scale (1.0, 1.00) sorts as the same value.
    return repr(tuple(v.normalize() if isinstance(v, Decimal) else v for v in row))


@dataclass(frozen=True)
class Result:
    """A query's column names and its rows, normalised and sorted."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @staticmethod
    def of(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Result:
        normal = [tuple(normalised(value) for value in row) for row in rows]
        return Result(tuple(columns), tuple(sorted(normal, key=_order)))


def trino_result(url: str, sql: str) -> Result:
    """The rows of one statement in Trino's read-only catalog (`lake`): `bronze.utility_drops`
    is `lake.bronze.utility_drops`, as an analyst's `trino --catalog lake` reads it."""
    parts = urlsplit(url)
    connection = trino.dbapi.connect(host=parts.hostname, port=parts.port,
                                     user="meterlake-tests", catalog=READ_CATALOG)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        return Result.of((column[0] for column in cursor.description), rows)
    finally:
        connection.close()


def spark_result(spark: SparkSession, sql: str) -> Result:
    """The rows of one statement in Spark SQL, on the tables the session catalog names."""
    result_df = spark.sql(sql)
    return Result.of(result_df.columns, (tuple(row) for row in result_df.collect()))


def point_spark_catalog(lake: Lake, contracts: Iterable[TableContract]) -> None:
    """Makes `<layer>.<name>` of the session catalog name `lake`'s tables, as meterlake's Lake
    registers them: another lake of the session may have taken the names since."""
    fresh = Lake(lake.spark, lake.settings)
    for contract in contracts:
        fresh.ensure(contract)


def differences(trino_side: Result, spark_side: Result, shown: int = 3) -> str:
    """What differs, for an assertion message: the columns, or up to `shown` rows found on one
    side only, each with the columns where it differs from the other side's row at its rank."""
    if trino_side.columns != spark_side.columns:
        return f"columns: trino {trino_side.columns} != spark {spark_side.columns}"
    only_trino = list((Counter(trino_side.rows) - Counter(spark_side.rows)).elements())
    only_spark = list((Counter(spark_side.rows) - Counter(trino_side.rows)).elements())
    lines = [f"{len(trino_side.rows)} rows in trino, {len(spark_side.rows)} in spark; "
             f"{len(only_trino)} only in trino, {len(only_spark)} only in spark"]
    for trino_row, spark_row in list(zip(only_trino, only_spark, strict=False))[:shown]:
        lines.append("  " + "; ".join(
            f"{name}: trino {t!r} spark {s!r}"
            for name, t, s in zip(trino_side.columns, trino_row, spark_row, strict=True)
            if t != s))
    return "\n".join(lines)
