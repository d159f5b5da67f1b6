"""The server's open tables: every call answers the newest commit, an unchanged version is
reused, and a version already handed out never changes under its reader."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from meterlake.serve.delta_reads import INGEST_LOG, LatestTables, MissingTableError


def rows(*names: str) -> pa.Table:
    return pa.table({"original_name": list(names), "rows_loaded": [len(n) for n in names]})


def names(table: pa.Table) -> list[str]:
    return sorted(table.column("original_name").to_pylist())


def test_each_call_answers_the_newest_commit_and_reuses_an_unchanged_version(
    tmp_path: Path,
) -> None:
    tables = LatestTables(str(tmp_path))
    with pytest.raises(MissingTableError, match="ops.ingest_log does not exist yet: run "
                                                "`meterlake ingest`"):
        tables.latest(INGEST_LOG)
    path = INGEST_LOG.path(str(tmp_path))
    write_deltalake(path, rows("a.csv"))

    first = tables.latest(INGEST_LOG)
    assert (first.version, names(first.files.to_table())) == (0, ["a.csv"])
    assert tables.latest(INGEST_LOG) is first

    write_deltalake(path, rows("b.csv", "c.csv"), mode="append")
    write_deltalake(path, rows("d.csv"), mode="append")
    newest = tables.latest(INGEST_LOG)
    assert (newest.version, names(newest.files.to_table())) == (
        2, ["a.csv", "b.csv", "c.csv", "d.csv"])
    assert (first.version, names(first.files.to_table())) == (0, ["a.csv"])

    write_deltalake(path, rows("e.csv"), mode="overwrite")
    assert names(tables.latest(INGEST_LOG).files.to_table()) == ["e.csv"]
