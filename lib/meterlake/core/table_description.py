"""What the data catalogue says about a table, as plain data: no Spark, so the HTTP service can
hold it.

A `TableDescription` is made from the table's contract (`TableContract.describe`), never written
by hand: grain, keys, ordering, partitioning, owner, retention, the inputs it is fed by and
every column with its type, description and unit. It travels as JSON (`to_dict`, `from_dict`)
from a process that may import the contracts to one that may not (`meterlake serve`).

Inputs (`fed_by`) are written `<layer>.<name>` for a lake table, `landing:<source>` for the
landing zone of a source (`landing:*`: every source's) and `reference:<name>` for a file given
to a job (the sensor registry, the settlement book, the region contours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANDING = "landing:"
# Every source's landing zone: the tables every ingest writes (quarantine, the ingest log).
EVERY_LANDING = "landing:*"
REFERENCE = "reference:"
# Files jobs read besides the lake and the landing zone, by their `reference:` name.
REFERENCES: dict[str, str] = {
    "sensor_registry": "the sensor registry (sensors.json) given to `meterlake sensors registry`",
    "settlement_book": "the settlement book (conf/settlement.yaml or --book) given to "
                       "`meterlake settle`",
    "french_regions": "the French regions' contours (temperatures.regions_dir)",
}


@dataclass(frozen=True)
class ColumnDescription:
    name: str
    # Spark SQL's name of the type: `timestamp` (UTC instants), `date`, `decimal(24,6)`, ...
    type: str
    nullable: bool
    description: str
    unit: str | None = None


@dataclass(frozen=True)
class TableDescription:
    layer: str
    name: str
    grain: str
    keys: tuple[str, ...]
    ordering: tuple[str, ...]
    partition_by: tuple[str, ...]
    owner: str
    # `forever` (bronze, quarantine and ops: never vacuumed) or `configured` (silver and gold:
    # retention.time_travel_days).
    retention: str
    is_append_only: bool
    fed_by: tuple[str, ...]
    columns: tuple[ColumnDescription, ...]
    # The checks that guard it: row rules (a breaking row goes to bronze.quarantine) and
    # expectations evaluated after each write (results in ops.dq_results).
    row_rules: tuple[str, ...] = ()
    expectations: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, lake_root: str) -> str:
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer, "name": self.name, "grain": self.grain,
            "keys": list(self.keys), "ordering": list(self.ordering),
            "partition_by": list(self.partition_by), "owner": self.owner,
            "retention": self.retention, "is_append_only": self.is_append_only,
            "fed_by": list(self.fed_by),
            "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable,
                         "description": c.description, "unit": c.unit} for c in self.columns],
            "row_rules": list(self.row_rules), "expectations": list(self.expectations),
        }

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> TableDescription:
        return TableDescription(
            layer=raw["layer"], name=raw["name"], grain=raw["grain"], keys=tuple(raw["keys"]),
            ordering=tuple(raw["ordering"]), partition_by=tuple(raw["partition_by"]),
            owner=raw["owner"], retention=raw["retention"],
            is_append_only=raw["is_append_only"], fed_by=tuple(raw["fed_by"]),
            columns=tuple(ColumnDescription(**column) for column in raw["columns"]),
            row_rules=tuple(raw["row_rules"]), expectations=tuple(raw["expectations"]),
        )


def is_landing(name: str) -> bool:
    return name.startswith(LANDING)


def is_reference(name: str) -> bool:
    return name.startswith(REFERENCE)
