"""`silver.sensors`: the sensor registry (`sensors.json`) as a slowly changing dimension of
type 2: one row per version of a sensor's description, valid from one instant to the next.

Loading the registry compares each sensor with its current row: a new sensor gets its first
row, a changed one has its current row closed (`valid_to` = the load's instant) and a new row
opened from that instant, a sensor gone from the file has its current row closed, an unchanged
one is left alone. A reading joins the row valid at its time:
`valid_from <= ts AND (valid_to IS NULL OR ts < valid_to)`.

A sensor's first row is valid from `BEGINNING` (1970-01-01T00:00:00Z), not from the load: the
registry does not say when a sensor was installed, and readings received before the registry
was first loaded must still find their range. `loaded_at` keeps when meterlake learned each row.

The registry is a few rows per sensor, so the whole table is computed on the driver and written
in one overwrite (atomic; every earlier state stays in the table's history).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from datetime import UTC, datetime

from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    StringType,
    StructType,
    TimestampType,
)

from meterlake.core.contracts import Retention, TableContract, struct_field
from meterlake.core.lake import Lake

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

SILVER_SENSORS = TableContract(
    layer="silver",
    name="sensors",
    schema=StructType([
        struct_field("sensor_id", StringType(), False, "the sensor's id in the registry"),
        struct_field("lat", DoubleType(), False, "latitude", "°"),
        struct_field("lng", DoubleType(), False, "longitude", "°"),
        struct_field("unit", StringType(), False, "the unit of the sensor's values"),
        struct_field("type", StringType(), False, "what it measures"),
        struct_field("range_min", DoubleType(), False,
                     "the smallest valid value, in the sensor's unit"),
        struct_field("range_max", DoubleType(), False,
                     "the largest valid value, in the sensor's unit"),
        struct_field("description", StringType(), False, "the registry's description"),
        struct_field("valid_from", TimestampType(), False,
                     "from when this version holds (UTC; a sensor's first version from "
                     "1970-01-01)"),
        struct_field("valid_to", TimestampType(), True,
                     "until when it holds (UTC, exclusive); null while current"),
        struct_field("is_current", BooleanType(), False, "valid_to is null"),
        struct_field("loaded_at", TimestampType(), False,
                     "when meterlake loaded the registry that opened this version (UTC)"),
        struct_field("registry_sha256", StringType(), False,
                     "SHA-256 of that registry file"),
    ]),
    grain="one row per version of a sensor's registry entry (SCD type 2): valid from "
          "valid_from until valid_to (exclusive; null while current)",
    keys=("sensor_id", "valid_from"),
    retention=Retention.CONFIGURED,
    fed_by=("reference:sensor_registry",),
)


@dataclass(frozen=True)
class SensorAttributes:
    """What the registry says about one sensor: the columns a new version is opened for."""

    sensor_id: str
    lat: float
    lng: float
    unit: str
    type: str
    range_min: float
    range_max: float
    description: str


@dataclass(frozen=True)
class SensorVersion:
    attributes: SensorAttributes
    valid_from: datetime
    valid_to: datetime | None
    loaded_at: datetime
    registry_sha256: str

    def row(self) -> tuple:
        return (*astuple(self.attributes), self.valid_from, self.valid_to,
                self.valid_to is None, self.loaded_at, self.registry_sha256)


@dataclass(frozen=True)
class RegistryChanges:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def next_versions(
    versions: Sequence[SensorVersion], registry: Sequence[SensorAttributes],
    loaded_at: datetime, registry_sha256: str,
) -> tuple[list[SensorVersion], RegistryChanges]:
    """Every version after loading `registry` at `loaded_at` over the existing `versions`."""
    if len({s.sensor_id for s in registry}) != len(registry):
        raise ValueError("the registry names a sensor twice")
    current = {v.attributes.sensor_id: v for v in versions if v.valid_to is None}
    incoming = {s.sensor_id: s for s in registry}
    if any(v.valid_from >= loaded_at for v in current.values()):
        raise ValueError(f"a current version starts at or after this load ({loaded_at}): the "
                         "clock went back, or two loads ran at once")
    kept = [v for v in versions if v.valid_to is not None]
    added: list[str] = []
    changed: list[str] = []
    removed: list[str] = []
    for sensor_id in sorted(current.keys() | incoming.keys()):
        old, new = current.get(sensor_id), incoming.get(sensor_id)
        if old is not None and new == old.attributes:
            kept.append(old)
            continue
        if old is not None:  # changed or removed: its current row ends here
            kept.append(replace(old, valid_to=loaded_at))
        if new is not None:
            # A sensor never seen before is valid from the beginning (see the module's doc).
            valid_from = loaded_at if _ever_seen(versions, sensor_id) else BEGINNING
            kept.append(SensorVersion(new, valid_from, None, loaded_at, registry_sha256))
        if old is None:
            added.append(sensor_id)
        elif new is None:
            removed.append(sensor_id)
        else:
            changed.append(sensor_id)
    kept.sort(key=lambda v: (v.attributes.sensor_id, v.valid_from))
    return kept, RegistryChanges(tuple(added), tuple(changed), tuple(removed))


def _ever_seen(versions: Sequence[SensorVersion], sensor_id: str) -> bool:
    return any(v.attributes.sensor_id == sensor_id for v in versions)


def read_versions(lake: Lake) -> list[SensorVersion]:
    if not lake.exists(SILVER_SENSORS):
        return []
    return [
        SensorVersion(
            SensorAttributes(r["sensor_id"], r["lat"], r["lng"], r["unit"], r["type"],
                             r["range_min"], r["range_max"], r["description"]),
            r["valid_from"].replace(tzinfo=UTC),
            None if r["valid_to"] is None else r["valid_to"].replace(tzinfo=UTC),
            r["loaded_at"].replace(tzinfo=UTC), r["registry_sha256"])
        for r in lake.read(SILVER_SENSORS).collect()
    ]


def load_registry(lake: Lake, registry: Sequence[SensorAttributes], registry_sha256: str,
                  loaded_at: datetime) -> RegistryChanges:
    """Brings `silver.sensors` to `registry`; writes nothing when no sensor changed."""
    lake.hold(SILVER_SENSORS)
    versions, changes = next_versions(read_versions(lake), registry, loaded_at, registry_sha256)
    if not changes.is_empty:
        rows = lake.spark.createDataFrame([v.row() for v in versions], SILVER_SENSORS.schema)
        lake.overwrite(SILVER_SENSORS, rows, user_metadata=json.dumps(
            {"registry_sha256": registry_sha256, "added": changes.added,
             "changed": changes.changed, "removed": changes.removed}))
    return changes
