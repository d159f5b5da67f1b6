"""The lake's Delta tables registered in Trino (infra/trino.sh), for SQL clients, BI tools and
auditors: no JVM here, no Spark; Trino reads the tables' logs itself.

Trino has two catalogs on one metastore: `lake_admin`, where tables are registered with its
`register_table` procedure, and `lake`, read-only, where the same tables are queried as
`lake.<layer>.<name>`. A table is registered once, at its location; each query then reads the
latest commit of its log, so new commits need no registration. Registering again is idempotent:
a table already registered at the same location is left alone, one registered at another
location (the lake moved) is unregistered and registered again, and a table not written yet
(no `_delta_log`) is skipped, its stale registration from another location removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.object_store import ObjectUrl, boto_client, is_object_store, trino_location

ADMIN_CATALOG = "lake_admin"
READ_CATALOG = "lake"
TRINO_USER = "meterlake"

REGISTERED, UNCHANGED, MOVED = "registered", "unchanged", "moved"
SKIPPED = "skipped (not written yet)"
UNREGISTERED = "unregistered (not written yet)"

_LOCATION = re.compile(r"^\s*location = '((?:[^']|'')*)'", re.MULTILINE)


class TrinoUnreachableError(ConnectionError):
    """No Trino answers at the URL."""


@dataclass(frozen=True)
class Registration:
    """What registering one table did: `outcome` is one of REGISTERED, UNCHANGED, MOVED,
    SKIPPED, UNREGISTERED; `location` is the table's location as Trino reads it."""

    layer: str
    name: str
    location: str
    outcome: str

    def __str__(self) -> str:
        return f"{READ_CATALOG}.{self.layer}.{self.name}: {self.outcome}"


def connect(url: str) -> Any:
    """A DB-API connection to the Trino at `url` (http://host:port), checked with `SELECT 1`."""
    import trino
    from trino.exceptions import HttpError, TrinoConnectionError

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a Trino URL: {url!r} (expected http://host:port)")
    connection = trino.dbapi.connect(
        host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 80),
        http_scheme=parts.scheme, user=TRINO_USER, request_timeout=60)
    try:
        statement_rows(connection, "SELECT 1")
    except (TrinoConnectionError, HttpError, OSError):
        raise TrinoUnreachableError(
            f"no Trino answers at {url} (start one: bash infra/trino.sh start)") from None
    return connection


def statement_rows(connection: Any, sql: str) -> list[list[Any]]:
    """Every row of one statement on `connection`, its cursor closed."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        return [list(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def has_delta_log(location: str, store: ObjectStoreSettings) -> bool:
    """Whether a Delta table was written at `location` (a local path or an s3a:// URL): its
    `_delta_log` holds something."""
    if not is_object_store(location):
        return (Path(location) / "_delta_log").is_dir()
    log = ObjectUrl.parse(location).child("_delta_log")
    listed = boto_client(store).list_objects_v2(Bucket=log.bucket, Prefix=log.key + "/",
                                                MaxKeys=1)
    return int(listed.get("KeyCount", 0)) > 0


def registered_tables(connection: Any, layers: Sequence[str]) -> set[tuple[str, str]]:
    """(layer, name) of every table the metastore holds in `layers`."""
    schemas = ", ".join(_literal(layer) for layer in layers)
    return {(row[0], row[1]) for row in statement_rows(
        connection, f"SELECT table_schema, table_name FROM {ADMIN_CATALOG}.information_schema"
                    f".tables WHERE table_schema IN ({schemas})")}


def registered_location(connection: Any, layer: str, name: str) -> str | None:
    """Where a registered table points, from SHOW CREATE TABLE; None when Trino cannot read
    the table there any more (its files are gone)."""
    import trino.exceptions

    try:
        [[statement]] = statement_rows(
            connection, f"SHOW CREATE TABLE {ADMIN_CATALOG}.{layer}.{name}")
    except trino.exceptions.TrinoUserError:
        return None
    found = _LOCATION.search(statement)
    return found.group(1).replace("''", "'").rstrip("/") if found else None


def _register(connection: Any, layer: str, name: str, location: str) -> None:
    statement_rows(connection, f"CALL {ADMIN_CATALOG}.system.register_table(schema_name => "
                      f"{_literal(layer)}, table_name => {_literal(name)}, "
                      f"table_location => {_literal(location)})")


def _unregister(connection: Any, layer: str, name: str) -> None:
    statement_rows(connection, f"CALL {ADMIN_CATALOG}.system.unregister_table(schema_name => "
                      f"{_literal(layer)}, table_name => {_literal(name)})")


def register_table(connection: Any, layer: str, name: str, lake_root: str,
                   is_registered: bool, store: ObjectStoreSettings) -> Registration:
    """Registers `<lake_root>/<layer>/<name>` as `<layer>.<name>` unless it is already, there."""
    path = f"{lake_root.rstrip('/')}/{layer}/{name}"
    location = trino_location(path)
    current = registered_location(connection, layer, name) if is_registered else None
    if not has_delta_log(path, store):
        if not is_registered:
            return Registration(layer, name, location, SKIPPED)
        _unregister(connection, layer, name)
        return Registration(layer, name, location, UNREGISTERED)
    if current == location:
        return Registration(layer, name, location, UNCHANGED)
    if is_registered:
        _unregister(connection, layer, name)
    _register(connection, layer, name, location)
    return Registration(layer, name, location, MOVED if is_registered else REGISTERED)


def register_lake(url: str, lake_root: str, tables: Sequence[tuple[str, str]],
                  store: ObjectStoreSettings | None = None) -> list[Registration]:
    """Registers each (layer, name) of `tables` found under `lake_root` (a local directory or
    an s3a:// URL) in the Trino at `url`, creating the layers' schemas first; one Registration
    per table, in the order given. On object storage, `store` says where, and the keys come
    from the environment (listing the lake is enough)."""
    store = store or ObjectStoreSettings()
    connection = connect(url)
    try:
        layers = list(dict.fromkeys(layer for layer, _ in tables))
        for layer in layers:
            statement_rows(connection, f"CREATE SCHEMA IF NOT EXISTS {ADMIN_CATALOG}.{layer}")
        registered = registered_tables(connection, layers)
        return [register_table(connection, layer, name, lake_root, (layer, name) in registered,
                               store)
                for layer, name in tables]
    finally:
        connection.close()
