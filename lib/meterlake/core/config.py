"""Typed settings: conf/<env>.yaml loaded into frozen dataclasses, environment overrides on top.

Without --conf or METERLAKE_CONF the file is the one shipped in the package,
meterlake/conf/local.yaml (the repository's conf/local.yaml links to it), so an installed wheel
works from any directory. Relative paths in a file (local.yaml's `lake_root: var/lake`) are
resolved against the current directory, never against the file's.

Environment variables (they win over the file):
  METERLAKE_CONF      path of the YAML file (default: the packaged local.yaml)
  METERLAKE_LAKE      lake root
  METERLAKE_LANDING   landing root
  METERLAKE_S3_ENDPOINT  the object store's endpoint URL (object_store.endpoint)
  AWS_REGION          the object store's region (object_store.region)
Object-store credentials come only from the environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY; see meterlake.core.object_store), never from a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

# A Traversable, not a Path: inside a --py-files zip it is a member of the archive.
DEFAULT_CONF = files("meterlake") / "conf" / "local.yaml"


class ConfigError(ValueError):
    """The configuration file is missing, malformed or has a value out of range."""


@dataclass(frozen=True)
class SparkSettings:
    master: str | None = "local[2]"
    shuffle_partitions: int = 4
    delta_snapshot_partitions: int = 4
    ui_enabled: bool = False
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RetentionSettings:
    time_travel_days: int = 365


@dataclass(frozen=True)
class QualitySettings:
    max_value_per_unit: Mapping[str, float] = field(
        default_factory=lambda: {"Wh": 1_000_000.0, "kWh": 10_000.0}
    )


@dataclass(frozen=True)
class SmrtSettings:
    # Dev (DV) generation files are test deliveries; production lakes refuse them.
    production_only: bool = True


@dataclass(frozen=True)
class DropzoneSettings:
    # "latest": a timestamp's statistics are those of its newest payload (by arrival);
    # "pooled": every payload of that timestamp pooled exactly from the stored sums.
    statistics: str = "latest"


@dataclass(frozen=True)
class TemperatureSettings:
    # The French regions' contours: La Poste's `laposte/singleGeoJson-<code>.json` and the names
    # in `regions.geojson`. None until configured: only the temperature gold table needs it.
    regions_dir: str | None = None


@dataclass(frozen=True)
class SensorSettings:
    # Messages each sensor is expected to send per second: the reference generator's one a
    # second. Completeness in gold.sensor_quality is measured against it.
    expected_per_second: float = 1.0
    # How far a message's `dt` may be from the moment the broker delivered it before it counts
    # as untimely (a clock running behind, or a message held back).
    skew_tolerance_seconds: float = 60.0


@dataclass(frozen=True)
class DashboardSettings:
    # The zone of the dashboard's time axis until the user picks another: the one place local
    # time appears (the lake is UTC). An IANA name, checked when the configuration loads.
    time_zone: str = "UTC"
    # How long a dashboard sign-in lasts before the browser is sent to sign in again.
    session_hours: int = 8


@dataclass(frozen=True)
class ObjectStoreSettings:
    """Where `s3a://` lake and landing URLs are served. Endpoint None: AWS itself."""

    endpoint: str | None = None
    region: str = "us-east-1"
    # Path-style URLs (http://host/bucket/key): what S3-compatible servers expect.
    path_style: bool = True


@dataclass(frozen=True)
class Settings:
    lake_root: str
    landing_root: str
    spark: SparkSettings = field(default_factory=SparkSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    smrt: SmrtSettings = field(default_factory=SmrtSettings)
    dropzone: DropzoneSettings = field(default_factory=DropzoneSettings)
    temperatures: TemperatureSettings = field(default_factory=TemperatureSettings)
    sensors: SensorSettings = field(default_factory=SensorSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    object_store: ObjectStoreSettings = field(default_factory=ObjectStoreSettings)

    def with_lake(self, lake_root: str) -> Settings:
        """The same settings on another lake; landing follows the lake when it was derived."""
        derived_landing = self.landing_root == _default_landing(self.lake_root)
        landing = _default_landing(lake_root) if derived_landing else self.landing_root
        return replace(self, lake_root=lake_root, landing_root=landing)


def _default_landing(lake_root: str) -> str:
    return f"{lake_root.rstrip('/')}/landing"


def _absolute(location: str) -> str:
    """Local paths become absolute (Spark and receivers may run elsewhere); URIs stay as given."""
    if "://" in location:
        return location
    return str(Path(location).expanduser().resolve())


def _require(section: Mapping[str, Any], key: str, kind: type, where: str, path: str) -> Any:
    """`section[key]` if it is a `kind`; errors name the file and the dotted key."""
    value = section[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: '{path}{key}' must be {kind.__name__}, got {value!r}")
    return value


def _section(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: '{key}' must be a mapping, got {value!r}")
    return value


def _reject_unknown(section: Mapping[str, Any], allowed: set[str], name: str, where: str) -> None:
    unknown = set(section) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown keys in '{name}': {sorted(unknown)}")


def _spark_settings(raw: Mapping[str, Any], where: str) -> SparkSettings:
    defaults = SparkSettings()
    section = _section(raw, "spark", where)
    _reject_unknown(section, {
        "master", "shuffle_partitions", "delta_snapshot_partitions", "ui_enabled", "conf"
    }, "spark", where)
    master = section.get("master", defaults.master)
    if master is not None and not isinstance(master, str):
        raise ConfigError(f"{where}: 'spark.master' must be a string or null, got {master!r}")
    conf = _section(section, "conf", where)
    settings = SparkSettings(
        master=master,
        shuffle_partitions=defaults.shuffle_partitions,
        delta_snapshot_partitions=defaults.delta_snapshot_partitions,
        ui_enabled=(
            _require(section, "ui_enabled", bool, where, "spark.")
            if "ui_enabled" in section else defaults.ui_enabled
        ),
        conf={str(k): str(v) for k, v in conf.items()},
    )
    for key in ("shuffle_partitions", "delta_snapshot_partitions"):
        if key in section:
            value = _require(section, key, int, where, "spark.")
            if value < 1:
                raise ConfigError(f"{where}: 'spark.{key}' must be at least 1, got {value}")
            settings = replace(settings, **{key: value})
    return settings


def _retention_settings(raw: Mapping[str, Any], where: str) -> RetentionSettings:
    section = _section(raw, "retention", where)
    if "time_travel_days" not in section:
        return RetentionSettings()
    days = _require(section, "time_travel_days", int, where, "retention.")
    if days < 7:
        raise ConfigError(f"{where}: 'retention.time_travel_days' must be at least 7, got {days}")
    return RetentionSettings(time_travel_days=days)


def _quality_settings(raw: Mapping[str, Any], where: str) -> QualitySettings:
    section = _section(raw, "quality", where)
    if "max_value_per_unit" not in section:
        return QualitySettings()
    limits = _section(section, "max_value_per_unit", where)
    parsed = {
        str(unit): _require(limits, unit, float, where, "quality.max_value_per_unit.")
        for unit in limits
    }
    return QualitySettings(max_value_per_unit=parsed)


def _smrt_settings(raw: Mapping[str, Any], where: str) -> SmrtSettings:
    section = _section(raw, "smrt", where)
    _reject_unknown(section, {"production_only"}, "smrt", where)
    if "production_only" not in section:
        return SmrtSettings()
    return SmrtSettings(production_only=_require(section, "production_only", bool, where, "smrt."))


def _dropzone_settings(raw: Mapping[str, Any], where: str) -> DropzoneSettings:
    section = _section(raw, "dropzone", where)
    _reject_unknown(section, {"statistics"}, "dropzone", where)
    if "statistics" not in section:
        return DropzoneSettings()
    statistics = _require(section, "statistics", str, where, "dropzone.")
    if statistics not in ("latest", "pooled"):
        raise ConfigError(
            f"{where}: 'dropzone.statistics' must be 'latest' or 'pooled', got {statistics!r}"
        )
    return DropzoneSettings(statistics=statistics)


def _temperature_settings(raw: Mapping[str, Any], where: str) -> TemperatureSettings:
    section = _section(raw, "temperatures", where)
    _reject_unknown(section, {"regions_dir"}, "temperatures", where)
    if section.get("regions_dir") is None:
        return TemperatureSettings()
    regions_dir = _require(section, "regions_dir", str, where, "temperatures.")
    return TemperatureSettings(regions_dir=_absolute(regions_dir))


def _sensor_settings(raw: Mapping[str, Any], where: str) -> SensorSettings:
    section = _section(raw, "sensors", where)
    fields = ("expected_per_second", "skew_tolerance_seconds")
    _reject_unknown(section, set(fields), "sensors", where)
    defaults = SensorSettings()
    values = {}
    for name in fields:
        if name not in section:
            values[name] = getattr(defaults, name)
            continue
        value = section[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{where}: 'sensors.{name}' must be a positive number, "
                              f"got {value!r}")
        values[name] = float(value)
    return SensorSettings(**values)


def _dashboard_settings(raw: Mapping[str, Any], where: str) -> DashboardSettings:
    section = _section(raw, "dashboard", where)
    _reject_unknown(section, {"time_zone", "session_hours"}, "dashboard", where)
    defaults = DashboardSettings()
    zone = (_require(section, "time_zone", str, where, "dashboard.")
            if "time_zone" in section else defaults.time_zone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: 'dashboard.time_zone' is not a known time zone: {zone!r}"
                          ) from None
    hours = (_require(section, "session_hours", int, where, "dashboard.")
             if "session_hours" in section else defaults.session_hours)
    if not 1 <= hours <= 24 * 30:
        raise ConfigError(f"{where}: 'dashboard.session_hours' must be 1 to 720, got {hours}")
    return DashboardSettings(time_zone=zone, session_hours=hours)


def _object_store_settings(raw: Mapping[str, Any], where: str) -> ObjectStoreSettings:
    section = _section(raw, "object_store", where)
    _reject_unknown(section, {"endpoint", "region", "path_style"}, "object_store", where)
    defaults = ObjectStoreSettings()
    endpoint = section.get("endpoint", defaults.endpoint)
    if endpoint is not None:
        endpoint = _require(section, "endpoint", str, where, "object_store.")
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: 'object_store.endpoint' must be an http:// or https:// "
                              f"URL, got {endpoint!r}")
    return ObjectStoreSettings(
        endpoint=endpoint,
        region=(_require(section, "region", str, where, "object_store.")
                if "region" in section else defaults.region),
        path_style=(_require(section, "path_style", bool, where, "object_store.")
                    if "path_style" in section else defaults.path_style),
    )


def settings_from_mapping(raw: Mapping[str, Any], where: str = "<settings>") -> Settings:
    """Validates a parsed YAML document; `where` names it in error messages."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    unknown = set(raw) - {
        "lake_root", "landing_root", "spark", "retention", "quality", "smrt", "dropzone",
        "temperatures", "sensors", "dashboard", "object_store",
    }
    if unknown:
        raise ConfigError(f"{where}: unknown top-level keys {sorted(unknown)}")
    if not raw.get("lake_root"):
        raise ConfigError(f"{where}: 'lake_root' is required")
    lake_root = _absolute(str(raw["lake_root"]))
    landing = raw.get("landing_root")
    return Settings(
        lake_root=lake_root,
        landing_root=_absolute(str(landing)) if landing else _default_landing(lake_root),
        spark=_spark_settings(raw, where),
        retention=_retention_settings(raw, where),
        quality=_quality_settings(raw, where),
        smrt=_smrt_settings(raw, where),
        dropzone=_dropzone_settings(raw, where),
        temperatures=_temperature_settings(raw, where),
        sensors=_sensor_settings(raw, where),
        dashboard=_dashboard_settings(raw, where),
        object_store=_object_store_settings(raw, where),
    )


def read_yaml(path: Path | Traversable, what: str) -> Any:
    """The parsed YAML document at `path`; a missing file or bad YAML is a ConfigError naming
    `what` it should have been and the path."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{what} not found: {path}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Loads `path`, else METERLAKE_CONF, else the packaged local.yaml, and applies the
    environment overrides."""
    env = os.environ if env is None else env
    named = path or env.get("METERLAKE_CONF")
    conf_path = Path(named) if named else DEFAULT_CONF
    settings = settings_from_mapping(read_yaml(conf_path, "configuration file"), str(conf_path))
    if env.get("METERLAKE_LAKE"):
        settings = settings.with_lake(_absolute(env["METERLAKE_LAKE"]))
    if env.get("METERLAKE_LANDING"):
        settings = replace(settings, landing_root=_absolute(env["METERLAKE_LANDING"]))
    if env.get("METERLAKE_S3_ENDPOINT"):
        store = replace(settings.object_store, endpoint=env["METERLAKE_S3_ENDPOINT"])
        settings = replace(settings, object_store=store)
    if env.get("AWS_REGION"):
        settings = replace(settings, object_store=replace(settings.object_store,
                                                          region=env["AWS_REGION"]))
    return settings
