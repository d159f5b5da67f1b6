"""What a table contract is: name, schema, grain, keys, ordering, layout and properties.

Each table's contract is declared once, next to the code that produces it (a source's bronze
table in its folder, a silver or gold table in its module); `meterlake.catalog` lists them all.
Readers and writers go through `meterlake.core.lake`, which checks a DataFrame against its
contract before any write. Tables live at `<lake>/<layer>/<name>` and are registered as
`<layer>.<name>`.

A contract also says what the data catalogue shows (`meterlake catalog`, `/catalog`): each
column's description and unit, declared on its field (`struct_field`) and kept out of the Delta
schema (the contract's `schema` is the bare one every reader and writer uses), the table's owner
(by default its layer's, `DEFAULT_OWNERS`) and what it is fed by (`fed_by`, see
`meterlake.core.table_description`).
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
from meterlake.core.table_description import ColumnDescription, TableDescription


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

    def describe(self) -> str:
        """For people: `ExpectColumnValuesToNotBeNull(column=value)`."""
        arguments = [f"{k}={v}" for k, v in self.kwargs.items()]
        if self.max_per_unit:
            arguments += ["min_value=0.0", "max_value=quality.max_value_per_unit[unit]"]
        return f"{self.expectation}({', '.join(arguments)})"


# Who answers for a table's data unless its contract names someone else.
DEFAULT_OWNERS = {
    "bronze": "data platform team",
    "silver": "data engineering team",
    "gold": "analytics engineering team",
    "ops": "data platform team",
}
_DESCRIPTION, _UNIT = "meterlake.description", "meterlake.unit"


@dataclass(frozen=True)
class TableContract:
    layer: str
    name: str
    # Declared with each column's description and unit (`struct_field`); held bare.
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
    # A team or role; empty: DEFAULT_OWNERS of the layer.
    owner: str = ""
    # The tables (`<layer>.<name>`), landing zones (`landing:<source>`, `landing:*`) and files
    # (`reference:<name>`) its rows are computed from.
    fed_by: tuple[str, ...] = ()
    # Per column, (description, unit) as declared: filled from the declared schema.
    column_docs: dict[str, tuple[str, str | None]] = field(
        init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The descriptions stay out of the schema Spark and Delta see: a field's metadata would
        # be written into the table's schema and compared on every write.
        docs = {f.name: (f.metadata.get(_DESCRIPTION, ""), f.metadata.get(_UNIT))
                for f in self.schema.fields}
        bare = StructType([StructField(f.name, f.dataType, f.nullable)
                           for f in self.schema.fields])
        object.__setattr__(self, "schema", bare)
        object.__setattr__(self, "column_docs", docs)
        if not self.owner:
            object.__setattr__(self, "owner", DEFAULT_OWNERS[self.layer])

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, lake_root: str) -> str:
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.schema.fields]

    def describe(self, fed_by: tuple[str, ...] | None = None) -> TableDescription:
        """What the catalogue shows of this table; `fed_by` replaces the declared inputs (the
        catalogue passes them with `landing:*` spelled out)."""
        columns = tuple(
            ColumnDescription(f.name, f.dataType.simpleString(), f.nullable,
                              *self.column_docs[f.name])
            for f in self.schema.fields)
        return TableDescription(
            layer=self.layer, name=self.name, grain=self.grain, keys=self.keys,
            ordering=self.ordering, partition_by=self.partition_by, owner=self.owner,
            retention=self.retention.value,
            is_append_only=self.properties.get("delta.appendOnly") == "true",
            fed_by=self.fed_by if fed_by is None else fed_by, columns=columns,
            row_rules=tuple(rule.name for rule in self.row_rules),
            expectations=tuple(spec.describe() for spec in self.expectations))


def struct_field(name: str, kind: DataType, nullable: bool = True,
                 description: str = "", unit: str | None = None) -> StructField:
    """A column of a contract, with what the catalogue says of it: a short `description` and,
    for a quantity, its `unit` (`Wh`, `kWh`, `s`, `°C`, ...)."""
    metadata: dict[str, str] = {_DESCRIPTION: description} if description else {}
    if unit:
        metadata[_UNIT] = unit
    return StructField(name, kind, nullable, metadata)


LINEAGE_FIELDS: tuple[StructField, ...] = (
    struct_field("_ingest_id", StringType(), False,
                 "the landed file (or request, response, batch) the row came from: the key of "
                 "ops.ingest_log, which holds its landing path"),
    struct_field("_source_file", StringType(), False,
                 "the original name of that file as delivered"),
    struct_field("_source_line", IntegerType(), False,
                 "the row's 1-based line (or position) in that file"),
    struct_field("_received_at", TimestampType(), False,
                 "when meterlake received that file (UTC, arrival order)"),
    struct_field("_file_sha256", StringType(), False, "SHA-256 of that file's bytes"),
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
