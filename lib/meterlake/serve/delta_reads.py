"""Reads of the lake's Delta tables through delta-rs and Arrow: no JVM, no Spark.

Tables live at `<lake>/<layer>/<name>` (`meterlake.core.contracts.TableContract.path`); their
contracts import pyspark, so the few names read here are repeated below and a test checks them
against the contracts. A server keeps its tables open (`LatestTables`): a request reads only the
commits made since the last one, and a table's files are listed as an Arrow dataset once per
version. Each file of that dataset carries its partition value and min/max statistics as a
guarantee, so a filter skips the files it cannot match without opening them, then keeps the
exact rows of the others.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.object_store import arrow_filesystem, delta_rs_location

_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class TableRef:
    layer: str
    name: str
    missing_hint: str

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, lake_root: str) -> str:
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"


SILVER_METER_READINGS = TableRef("silver", "meter_readings", "run `meterlake snapshot`")
INGEST_LOG = TableRef("ops", "ingest_log", "run `meterlake ingest`")
SILVER_DROPZONE = TableRef("silver", "dropzone_measurements",
                           "run `meterlake ingest dropzone` and its snapshot")
GOLD_SETTLEMENT_SUMMARY = TableRef("gold", "settlement_summary", "no settlement runs yet")
SILVER_SENSORS = TableRef("silver", "sensors", "run `meterlake sensors registry sensors.json`")
SILVER_SENSOR_READINGS = TableRef("silver", "sensor_readings",
                                  "run `meterlake ingest sensors --stream` and its snapshot")
GOLD_SENSOR_READINGS_1MIN = TableRef("gold", "sensor_readings_1min",
                                     "run `meterlake snapshot` after sensor readings arrived")


class MissingTableError(LookupError):
    """The table has not been written yet; the message says what creates it."""


def open_table(lake_root: str, ref: TableRef, store: ObjectStoreSettings | None = None,
               version: int | None = None) -> DeltaTable:
    """The table's latest version (or `version`); MissingTableError when it does not exist
    yet. `store` says where an `s3a://` lake is served."""
    uri, options = delta_rs_location(ref.path(lake_root), store or ObjectStoreSettings())
    try:
        return DeltaTable(uri, version=version, storage_options=options)
    except TableNotFoundError:
        raise MissingTableError(
            f"{ref.qualified_name} does not exist yet: {ref.missing_hint}"
        ) from None


def dataset(table: DeltaTable, store: ObjectStoreSettings | None = None) -> pads.Dataset:
    """The table's files as an Arrow dataset, read through pyarrow's own filesystem: delta-rs's
    Python filesystem handler can abort the interpreter at exit (seen with deltalake 1.6.6),
    which would kill a server worker's clean shutdown."""
    uri = table.table_uri
    if uri.startswith("s3"):
        root = uri.split("://", 1)[1].rstrip("/")
        raw = arrow_filesystem(store or ObjectStoreSettings())
    else:
        raw, root = pafs.FileSystem.from_uri(uri)
    return table.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(root, raw))


@dataclass(frozen=True)
class TableVersion:
    """One version of a table and its files as an Arrow dataset. Never changes once built:
    worker threads may keep reading it while a newer version is opened."""

    table: DeltaTable
    files: pads.Dataset

    @property
    def version(self) -> int:
        return int(self.table.version())


class LatestTables:
    """The tables of one lake, kept open for a server's lifetime. `latest` answers each call
    with the table's newest version: it reads only the commits made since the previous call
    (one log listing when there are none) instead of the whole log, and lists the files again
    only when the version moved. Thread-safe: the server's worker threads share it."""

    def __init__(self, lake_root: str, store: ObjectStoreSettings | None = None) -> None:
        self.lake_root = lake_root
        self.store = store or ObjectStoreSettings()
        self._lock = threading.Lock()
        # Per table: a handle that only follows the log (mutated under the lock), and the
        # version handed out (never mutated, so a reader never sees it move under its feet).
        self._followers: dict[TableRef, DeltaTable] = {}
        self._served: dict[TableRef, TableVersion] = {}

    def latest(self, ref: TableRef) -> TableVersion:
        """The newest version of `ref`; MissingTableError while it does not exist."""
        with self._lock:
            follower = self._followers.get(ref)
            if follower is None:
                follower = open_table(self.lake_root, ref, self.store)
                self._followers[ref] = follower
            else:
                follower.update_incremental()
            served = self._served.get(ref)
            if served is None or served.version != follower.version():
                table = open_table(self.lake_root, ref, self.store, follower.version())
                served = TableVersion(table, dataset(table, self.store))
                self._served[ref] = served
            return served


def _utc(instant: datetime) -> pa.Scalar:
    return pa.scalar(instant.astimezone(UTC), type=_MICROS)


def meter_counts(silver: TableVersion) -> tuple[int, list[dict[str, Any]]]:
    """(distinct meters, one dict per source and commodity with its meters and readings)."""
    query = QueryBuilder().register("readings", silver.table)
    per_source = pa.table(query.execute(
        "SELECT source, commodity, COUNT(DISTINCT meter_id) AS meters, COUNT(*) AS readings "
        "FROM readings GROUP BY source, commodity ORDER BY source, commodity"
    ).read_all())
    total = pa.table(query.execute(
        "SELECT COUNT(DISTINCT meter_id) AS meters FROM readings"
    ).read_all())
    return int(total.column("meters")[0].as_py()), per_source.to_pylist()


def readings_filter(
    meter_id: str, start: datetime | None, end: datetime | None
) -> pc.Expression:
    """One meter's rows with `start <= interval_start < end`. The bounds on the UTC date
    partitions (the same derivation as `tables.interval_date_of`) and the meter id select the
    files without opening them; the bounds on `interval_start` then keep the exact rows."""
    rows = pc.field("meter_id") == meter_id
    if start is not None:
        rows &= pc.field("interval_date") >= start.astimezone(UTC).date()
        rows &= pc.field("interval_start") >= _utc(start)
    if end is not None:
        rows &= pc.field("interval_date") <= end.astimezone(UTC).date()
        rows &= pc.field("interval_start") < _utc(end)
    return rows


def meter_readings(
    silver: TableVersion, meter_id: str, start: datetime | None, end: datetime | None
) -> pa.Table:
    """One meter's readings with `start <= interval_start < end` (either bound open), oldest
    first: columns interval_start, value, unit, interval_minutes."""
    found = silver.files.to_table(columns=["interval_start", "value", "unit", "interval_minutes"],
                                  filter=readings_filter(meter_id, start, end))
    return found.sort_by("interval_start")


def bucket_micros(span_micros: int, points: int) -> int:
    """The width of `points` equal buckets covering `span_micros`, rounded up to whole seconds
    (readable bucket starts; still at most `points` buckets)."""
    per_bucket = -(-span_micros // points)
    return max(1, -(-per_bucket // 1_000_000)) * 1_000_000


def downsample(readings: pa.Table, start: datetime, bucket_us: int) -> pa.Table:
    """Means of `readings` (interval_start, value) over equal buckets of `bucket_us` starting at
    `start`: one row per non-empty bucket, `bucket_start`, `value` (mean) and `readings`."""
    offsets = pc.subtract(readings.column("interval_start").cast(pa.int64()),
                          int(_utc(start).value))
    buckets = pa.table({"bucket": pc.divide(offsets, bucket_us), "value": readings["value"]})
    means = buckets.group_by("bucket").aggregate([("value", "mean"), ("value", "count")])
    means = means.sort_by("bucket")
    starts = pc.add(pc.multiply(means.column("bucket"), bucket_us), int(_utc(start).value))
    return pa.table({
        "bucket_start": starts.cast(_MICROS),
        "value": means.column("value_mean"),
        "readings": means.column("value_count"),
    })


def received_files(
    log: TableVersion, source: str | None, since: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` files of the ingest log in arrival order, from `since` (inclusive)."""
    rows = pc.scalar(True)
    if source is not None:
        rows &= pc.field("source") == source
    if since is not None:
        rows &= pc.field("received_at") >= _utc(since)
    found = log.files.to_table(filter=rows).sort_by(
        [("received_at", "ascending"), ("ingest_id", "ascending")]
    )
    return found.slice(0, limit).to_pylist()


def last_file(log: TableVersion, source: str | None) -> dict[str, Any] | None:
    """The file received last (ties by ingest id), or None."""
    rows = pc.scalar(True) if source is None else pc.field("source") == source
    found = log.files.to_table(filter=rows).sort_by(
        [("received_at", "descending"), ("ingest_id", "descending")]
    )
    return found.slice(0, 1).to_pylist()[0] if found.num_rows else None


def dropzone_stats(
    measurements: TableVersion, start: datetime | None, end: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` rows of silver.dropzone_measurements with start <= time_stamp_utc < end,
    in time order; the range also skips files by their statistics."""
    rows = pc.scalar(True)
    if start is not None:
        rows &= pc.field("time_stamp_utc") >= _utc(start)
    if end is not None:
        rows &= pc.field("time_stamp_utc") < _utc(end)
    found = measurements.files.to_table(filter=rows).sort_by("time_stamp_utc")
    return found.slice(0, limit).to_pylist()


def current_sensors(registry: TableVersion) -> list[dict[str, Any]]:
    """The registry's current row of each sensor, by sensor id."""
    found = registry.files.to_table(filter=pc.field("valid_to").is_null())
    return found.sort_by("sensor_id").to_pylist()


def sensor_series(series: TableVersion, sensor_id: str, time_column: str,
                  start: datetime | None, end: datetime | None, limit: int) -> pa.Table:
    """Up to `limit` rows of one sensor with `start <= time_column < end`, oldest first; the
    bounds on the UTC date partitions (`reading_date`) skip the other days' files."""
    rows = pc.field("sensor_id") == sensor_id
    if start is not None:
        rows &= pc.field("reading_date") >= start.astimezone(UTC).date()
        rows &= pc.field(time_column) >= _utc(start)
    if end is not None:
        rows &= pc.field("reading_date") <= end.astimezone(UTC).date()
        rows &= pc.field(time_column) < _utc(end)
    return series.files.to_table(filter=rows).sort_by(time_column).slice(0, limit)


def first_rows(any_table: TableVersion, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` rows of any table, as JSON-ready dicts."""
    return [{k: jsonable(v) for k, v in row.items()}
            for row in any_table.files.head(limit).to_pylist()]


def jsonable(value: Any) -> Any:
    """A value JSON can carry: instants as UTC `Z` text, dates as ISO text, decimals as
    text (exact), NaN and infinities as null, nested values converted likewise."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value
