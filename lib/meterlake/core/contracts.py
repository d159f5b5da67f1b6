"""What a table contract is: name, schema, grain, keys, ordering, layout and properties.

Each table's contract is declared once, next to the code that produces it (a source's bronze
table in its folder, a silver or gold table in its module); `meterlake.catalog` lists them all.
Readers and writers go through `meterlake.core.lake`, which checks a DataFrame against its
contract before any write. Tables live at `<lake>/<layer>/<name>` and are registered as
`<layer>.<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DataType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from meterlake.core.rules import RowRule


class Retention(Enum):
    """How long a table keeps Delta time travel."""

    # Bronze, quarantine and ops logs: the audit trail itself; never vacuumed.
    FOREVER = "forever"
    # Silver and gold: `retention.time_travel_days` from the configuration.
    CONFIGURED = "configured"


@dataclass(frozen=True)
class ExpectationSpec:
    """A table-level expectation, run with great-expectations after the table is written.

    `expectation` names a class of `great_expectations.expectations`. With `max_per_unit`, one
    range check runs per unit, its upper bound from `quality.max_value_per_unit`.
    """

    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_per_unit: bool = False


@dataclass(frozen=True)
class TableContract:
    layer: str
    name: str
    schema: StructType
    grain: str
    keys: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    retention: Retention = Retention.FOREVER
    properties: dict[str, str] = field(default_factory=dict)
    row_rules: tuple[RowRule, ...] = ()
    expectations: tuple[ExpectationSpec, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, lake_root: str) -> str:
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.schema.fields]


def struct_field(name: str, kind: DataType, nullable: bool = True) -> StructField:
    return StructField(name, kind, nullable)


LINEAGE_FIELDS: tuple[StructField, ...] = (
    struct_field("_ingest_id", StringType(), False),
    struct_field("_source_file", StringType(), False),
    struct_field("_source_line", IntegerType(), False),
    struct_field("_received_at", TimestampType(), False),
    struct_field("_file_sha256", StringType(), False),
)
LINEAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in LINEAGE_FIELDS)

# Arrival order: the time the file was received, then the line inside it; the ingest id only
# breaks ties between two files received in the same millisecond by two receiving processes
# (one process never gives two arrivals the same millisecond: receive.landing's clock).
ARRIVAL_ORDER: tuple[str, ...] = ("_received_at", "_source_line", "_ingest_id")

APPEND_ONLY = {"delta.appendOnly": "true"}


def interval_date_of(interval_start: Column) -> Column:
    """The UTC date partition of an interval: the one derivation every writer and MERGE uses.

    Sessions run with spark.sql.session.timeZone=UTC (meterlake.core.spark), so to_date is UTC.
    """
    return F.to_date(interval_start)

# Bronze tables are append-only; the change feed lets `snapshot` read only the rows appended
# since its last run.
BRONZE_PROPERTIES = {**APPEND_ONLY, "delta.enableChangeDataFeed": "true"}
