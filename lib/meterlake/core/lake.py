"""Delta I/O at the edge: every read and write of a lake table goes through here.

Writes check the DataFrame against the table's contract first, so a column that went missing or
changed type fails loudly instead of being evolved into the table. On object storage, where
Delta is single-writer per table, a write first takes the table's lease (meterlake.core.lease)
and holds it until the job releases the Lake's leases; each later write checks it still holds
it. Reads take no lease.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from meterlake.core.config import Settings
from meterlake.core.contracts import Retention, TableContract
from meterlake.core.lease import LeaseLog, TableLease, lease_prefix
from meterlake.core.object_store import boto_client, is_object_store

FOREVER_INTERVAL = "interval 36500 days"


class ContractViolationError(ValueError):
    """A DataFrame does not match the table contract it is written to."""


def conform(df: DataFrame, contract: TableContract) -> DataFrame:
    """Selects the contract's columns in order; raises when one is missing or of another type."""
    actual = {f.name: f.dataType for f in df.schema.fields}
    problems = []
    for expected in contract.schema.fields:
        if expected.name not in actual:
            problems.append(f"missing column '{expected.name}'")
        elif actual[expected.name].simpleString() != expected.dataType.simpleString():
            problems.append(
                f"column '{expected.name}' is {actual[expected.name].simpleString()}, "
                f"expected {expected.dataType.simpleString()}"
            )
    if problems:
        raise ContractViolationError(f"{contract.qualified_name}: {'; '.join(problems)}")
    return df.select(*contract.column_names)


@contextmanager
def persisted(df: DataFrame) -> Iterator[DataFrame]:
    """`df` persisted for the block and freed on the way out, also when a check fails or the
    job dies part-way: a long-running session must not keep a failed run's rows cached."""
    cached = df.persist()
    try:
        yield cached
    finally:
        cached.unpersist()


def table_properties(contract: TableContract, settings: Settings) -> dict[str, str]:
    """The contract's properties plus explicit retention, never Delta's 7/30-day defaults, and
    in-commit timestamps: each commit then carries the instant that dates its version, so
    Spark, delta-rs and Trino resolve "as of instant K" to the same version, also after the
    table is copied (a log file's modification time, the date without them, is not kept)."""
    if contract.retention is Retention.FOREVER:
        retention = FOREVER_INTERVAL
    else:
        retention = f"interval {settings.retention.time_travel_days} days"
    return {
        "delta.logRetentionDuration": retention,
        "delta.deletedFileRetentionDuration": retention,
        "delta.enableInCommitTimestamps": "true",
        **contract.properties,
    }


class Lake:
    """The tables of one lake root, read and written by contract."""

    def __init__(self, spark: SparkSession, settings: Settings, *, name_tables: bool = True
                 ) -> None:
        self.spark = spark
        self.settings = settings
        # `<layer>.<name>` in the session catalog on first use, for SQL by name in this session
        # (notebooks, tests, a shell). A batch job whose catalog ends with its session has no
        # use for the names, and naming costs each table one or two reads of its Delta log.
        self.name_tables = name_tables
        self._registered: set[str] = set()
        # Paths this Lake created or found: each existence check reads the table's log, and
        # every read and write needs one.
        self._existing: set[str] = set()
        # The leases this Lake's job holds (object storage only), by table, in the order taken,
        # and the one S3 client their records are written with.
        self._leases: dict[str, TableLease] = {}
        self._lease_client: Any = None
        # The tables this job took for writing, in the order taken (the outputs of its
        # OpenLineage run), and who wants to know when it takes the first.
        self.written: list[str] = []
        self.on_first_write: Callable[[], None] | None = None

    def hold(self, contract: TableContract) -> None:
        """Before a write: takes the table's lease (waiting while another job holds it) or, when
        this job holds it already, checks it still does. No lease on a local lake. Either way
        the table counts as written by this job."""
        if contract.qualified_name not in self.written:
            if not self.written and self.on_first_write is not None:
                self.on_first_write()
            self.written.append(contract.qualified_name)
        self._take_lease(contract)

    def _take_lease(self, contract: TableContract) -> None:
        if not is_object_store(self.settings.lake_root):
            return
        name = contract.qualified_name
        lease = self._leases.get(name)
        if lease is not None:
            lease.check()
            return
        if self._lease_client is None:
            self._lease_client = boto_client(self.settings.object_store)
        records = LeaseLog(self._lease_client, lease_prefix(self.settings.lake_root, name), name)
        lease = TableLease(records, job=self.spark.sparkContext.appName or "meterlake")
        lease.acquire()
        lease.start_heartbeat()
        self._leases[name] = lease

    def hold_all(self, contracts: list[TableContract]) -> None:
        """The leases of every table a job step will write, taken before it reads the state
        its writes depend on (a progress mark, a planned batch, a revision number) and in one
        order for every job, so two jobs sharing tables cannot wait on each other."""
        for contract in sorted(contracts, key=lambda c: c.qualified_name):
            self.hold(contract)

    def release_leases(self) -> None:
        """Releases every lease this Lake took, newest first: the end of a job."""
        while self._leases:
            _name, lease = self._leases.popitem()
            lease.release()

    def for_update(self, contract: TableContract) -> DeltaTable:
        """The table for a MERGE, OPTIMIZE, VACUUM or RESTORE: `ensure`, with its lease held."""
        self.hold(contract)
        return self.ensure(contract)

    def path(self, contract: TableContract) -> str:
        return contract.path(self.settings.lake_root)

    def exists(self, contract: TableContract) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.path(contract))

    def ensure(self, contract: TableContract) -> DeltaTable:
        """Creates the table if missing (schema, partitioning, properties) and registers it."""
        self._create_if_missing(contract)
        return DeltaTable.forPath(self.spark, self.path(contract))

    def _create_if_missing(self, contract: TableContract) -> None:
        if self.path(contract) in self._existing:
            return
        if not self.exists(contract):
            # Creating an empty table (a reader may) is not writing it: no lineage output.
            self._take_lease(contract)
            builder = (
                DeltaTable.createIfNotExists(self.spark)
                .location(self.path(contract))
                .addColumns(contract.schema)
            )
            if contract.partition_by:
                builder = builder.partitionedBy(*contract.partition_by)
            for key, value in table_properties(contract, self.settings).items():
                builder = builder.property(key, value)
            builder.execute()
        self._register(contract)
        self._existing.add(self.path(contract))

    def _register(self, contract: TableContract) -> None:
        """Registers `<layer>.<name>` in the session catalog, pointing at this lake's path."""
        if not self.name_tables or contract.qualified_name in self._registered:
            return
        self._registered.add(contract.qualified_name)
        name, location = contract.qualified_name, self.path(contract)
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {contract.layer}")
        if self.spark.catalog.tableExists(name):
            registered = self.spark.sql(f"DESCRIBE DETAIL {name}").first()
            if registered is not None and registered["location"].rstrip("/").endswith(
                location.rstrip("/")
            ):
                return
            # Another lake of this session held the name: re-point it (data is never touched,
            # the table is external).
            self.spark.sql(f"DROP TABLE {name}")
        escaped = location.replace("'", "\\'")
        self.spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION '{escaped}'")

    def read(self, contract: TableContract, version: int | None = None) -> DataFrame:
        self._create_if_missing(contract)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(contract))

    def version(self, contract: TableContract) -> int:
        """The table's current Delta version (creating the table if needed)."""
        latest = self.ensure(contract).history(1).select("version").first()
        assert latest is not None
        return int(latest["version"])

    def append(
        self,
        contract: TableContract,
        df: DataFrame,
        txn: tuple[str, int] | None = None,
    ) -> None:
        """Appends rows; with `txn` (app id, version) Delta skips a write it already committed."""
        self._create_if_missing(contract)
        self.hold(contract)
        writer = conform(df, contract).write.format("delta").mode("append")
        if txn is not None:
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", txn[1])
        writer.save(self.path(contract))

    def overwrite(self, contract: TableContract, df: DataFrame, user_metadata: str) -> None:
        """Replaces the table's rows in one commit; `user_metadata` records what it came from."""
        self._create_if_missing(contract)
        self.hold(contract)
        (
            conform(df, contract).write.format("delta").mode("overwrite")
            .option("userMetadata", user_metadata).save(self.path(contract))
        )

    def append_rows(self, contract: TableContract, rows: list[tuple]) -> None:
        """Appends a few driver-side rows (logs and manifests), typed by the contract."""
        if rows:
            self.append(contract, self.spark.createDataFrame(rows, contract.schema))
