"""Lakes on the test session's object store, each under a prefix of its own, and what the tests
compare between a lake on S3 and the same jobs on local disk."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

import pytest
from pyspark.sql import SparkSession

from meterlake.core.config import Settings, load_settings
from meterlake.core.contracts import TableContract
from meterlake.core.lake import Lake
from meterlake.core.spark import use_object_store
from tests.helpers.lakes import local_test_settings
from tests.helpers.paths import REPO

S3_CONF = REPO / "conf" / "s3-local.yaml"
# Columns that differ between two runs of the same jobs on the same input: arrival instants,
# random ingest and run ids. Everything else must be equal, row for row.
VOLATILE = frozenset({"_ingest_id", "_received_at", "run_id"})


def s3_settings(prefix: str, env: Mapping[str, str]) -> Settings:
    """The test settings (Spark sizing, regions) with the lake and landing under `prefix` in
    conf/s3-local.yaml's bucket, served where `env` says."""
    shipped = load_settings(S3_CONF, env=env)
    lake_root = f"{shipped.lake_root}/tests/{prefix}"
    return replace(local_test_settings(REPO / "var" / "unused"), lake_root=lake_root,
                   landing_root=f"{shipped.landing_root}/tests/{prefix}",
                   object_store=shipped.object_store)


def unique_prefix(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}"


@contextmanager
def s3_lake(spark: SparkSession, name: str, env: Mapping[str, str]) -> Iterator[Lake]:
    """A fresh lake on the object store, with `env` (an identity's keys) in os.environ for the
    block: Spark's S3A settings, the receivers' boto3 clients and the leases read them there."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings = s3_settings(unique_prefix(name), env)
        use_object_store(spark, settings)
        lake = Lake(spark, settings)
        try:
            yield lake
        finally:
            lake.release_leases()


def fingerprint(lake: Lake, contract: TableContract) -> tuple[int, str]:
    """(rows, sha256 of the sorted rows without the volatile columns) of a table."""
    columns = [c for c in contract.column_names if c not in VOLATILE]
    rows = sorted(repr(tuple(row)) for row in lake.read(contract).select(*columns).collect())
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()
