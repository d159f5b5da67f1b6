"""The database edge of publishing: URLs, engines, schema creation and dialect upserts.

SQLite, PostgreSQL and MariaDB/MySQL each spell "insert or update" differently; `upsert` builds
the one statement per table that the publisher executes with many rows at a time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, create_engine, event, func
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from meterlake.serve.publish.models import Base

DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


class DatabaseUnreachableError(ConnectionError):
    """The database URL is well formed but no connection could be made; names it sans password."""


def hide_password(database_url: str) -> str:
    """The URL as given, its password replaced by ***: everything between the user's colon and
    the last @, so that a password with an unescaped @ does not leak either."""
    return re.sub(r"(://[^:/@]*:).*@", r"\1***@", database_url)


def _parse(database_url: str) -> URL:
    try:
        url = make_url(database_url)
    except ArgumentError as error:
        raise ValueError(f"not a database URL: {hide_password(database_url)!r} (expected for "
                         "example postgresql+psycopg://user:password@host:port/db)") from error
    if url.get_backend_name() not in DIALECTS:
        raise ValueError(f"cannot publish to {hide_password(database_url)}: supported are "
                         f"{', '.join(DIALECTS)}")
    return url


def _enforce_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite checks foreign keys only when asked to, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_database(database_url: str) -> Engine:
    """An engine on `database_url` with the schema created; ValueError for a bad URL or a missing
    driver, DatabaseUnreachableError when it cannot connect."""
    url = _parse(database_url)
    shown = hide_password(database_url)
    connect_args = {} if url.get_backend_name() == "sqlite" else {"connect_timeout": 10}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as error:
        raise ValueError(f"no driver for {shown}: {error}") from error
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _enforce_sqlite_foreign_keys)
    try:
        Base.metadata.create_all(engine)
    except DBAPIError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnreachableError(f"cannot reach database {shown}: {reason}") from error
    return engine


def table(name: str) -> Table:
    """The Core table of a model, by name."""
    return Base.metadata.tables[name]


def upsert(dialect: str, table: Table, merge: Mapping[str, str] | None = None) -> Any:
    """An INSERT that updates the row when the primary key exists, in the dialect's syntax.

    `merge` maps a column to "least" or "greatest": the stored and the new value are combined
    instead of the new one replacing the stored one.
    """
    is_mysql = dialect in ("mysql", "mariadb")
    stmt: Any = (mysql.insert(table) if is_mysql
                 else postgresql.insert(table) if dialect == "postgresql"
                 else sqlite.insert(table))
    new = stmt.inserted if is_mysql else stmt.excluded
    combine: dict[str, Any] = (
        {"least": func.min, "greatest": func.max} if dialect == "sqlite"
        else {"least": func.least, "greatest": func.greatest}
    )
    values = {c.name: new[c.name] for c in table.columns if not c.primary_key}
    for column, how in (merge or {}).items():
        values[column] = combine[how](table.c[column], new[column])
    if is_mysql:
        return stmt.on_duplicate_key_update(values)
    return stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=values)
