"""Unit tests for meterlake.config: the shipped files, environment overrides and errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meterlake.core.config import ConfigError, load_settings
from tests.helpers.paths import REPO


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """conf/local.yaml holds relative paths, resolved against the repository root."""
    monkeypatch.chdir(REPO)
    return REPO


def _conf(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_local_yaml_resolves_lake_and_derived_landing(in_repo: Path) -> None:
    settings = load_settings("conf/local.yaml", env={})
    lake = str(in_repo / "var" / "lake")
    assert settings.lake_root == lake
    assert Path(settings.lake_root).is_absolute()
    assert settings.landing_root == f"{lake}/landing"
    assert settings.retention.time_travel_days == 365
    assert settings.spark.master == "local[2]"
    assert settings.spark.shuffle_partitions == 4
    assert dict(settings.quality.max_value_per_unit) == {"Wh": 1_000_000.0, "kWh": 10_000.0}


def test_env_lake_overrides_and_landing_follows(in_repo: Path, tmp_path: Path) -> None:
    settings = load_settings("conf/local.yaml", env={"METERLAKE_LAKE": str(tmp_path / "other")})
    assert settings.lake_root == str(tmp_path / "other")
    assert settings.landing_root == f"{tmp_path}/other/landing"


def test_env_landing_overrides_landing_only(in_repo: Path, tmp_path: Path) -> None:
    env = {"METERLAKE_LAKE": str(tmp_path / "lake"), "METERLAKE_LANDING": str(tmp_path / "in")}
    settings = load_settings("conf/local.yaml", env=env)
    assert settings.lake_root == str(tmp_path / "lake")
    assert settings.landing_root == str(tmp_path / "in")


def test_env_conf_names_the_file_when_no_path_is_given(tmp_path: Path) -> None:
    conf = _conf(tmp_path, f"lake_root: {tmp_path}/l\n")
    settings = load_settings(env={"METERLAKE_CONF": str(conf)})
    assert (settings.lake_root, settings.landing_root) == (f"{tmp_path}/l", f"{tmp_path}/l/landing")


def test_cluster_example_keeps_uris(in_repo: Path) -> None:
    settings = load_settings("conf/cluster.example.yaml", env={})
    assert settings.lake_root == "s3a://example-meterlake/lake"
    assert settings.landing_root == "s3a://example-meterlake/landing"
    assert settings.spark.master is None
    assert settings.spark.shuffle_partitions == 200
    assert settings.spark.delta_snapshot_partitions == 50
    assert settings.spark.ui_enabled is True


def test_explicit_landing_stays_when_env_moves_the_lake(in_repo: Path) -> None:
    env = {"METERLAKE_LAKE": "s3a://other/lake"}
    settings = load_settings("conf/cluster.example.yaml", env=env)
    assert settings.lake_root == "s3a://other/lake"
    assert settings.landing_root == "s3a://example-meterlake/landing"


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=re.escape(f"configuration file not found: {missing}")):
        load_settings(missing, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lake_root: [unclosed\n", ": not valid YAML"),
        ("lake_root: /l\nbogus: 1\n", ": unknown top-level keys ['bogus']"),
        ("landing_root: /in\n", ": 'lake_root' is required"),
        ("- just\n- a list\n", ": expected a mapping at the top level"),
        ("lake_root: /l\nretention:\n  time_travel_days: 3\n",
         ": 'retention.time_travel_days' must be at least 7, got 3"),
        ("lake_root: /l\nspark:\n  shuffle_partitions: 0\n",
         ": 'spark.shuffle_partitions' must be at least 1, got 0"),
        ("lake_root: /l\nspark:\n  shuffle_partitions: four\n",
         ": 'spark.shuffle_partitions' must be int, got 'four'"),
        ("lake_root: /l\nspark:\n  delta_snapshot_partitions: true\n",
         ": 'spark.delta_snapshot_partitions' must be int, got True"),
        ("lake_root: /l\nretention:\n  time_travel_days: '30'\n",
         ": 'retention.time_travel_days' must be int, got '30'"),
        ("lake_root: /l\nspark:\n  executors: 2\n", ": unknown keys in 'spark': ['executors']"),
        ("lake_root: /l\nquality: [Wh]\n", ": 'quality' must be a mapping, got ['Wh']"),
    ],
    ids=["invalid-yaml", "unknown-key", "no-lake-root", "not-a-mapping", "retention-3",
         "shuffle-0", "string-for-int", "bool-for-int", "quoted-int", "unknown-spark-key",
         "list-for-section"],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    conf = _conf(tmp_path, text)
    with pytest.raises(ConfigError, match="^" + re.escape(f"{conf}{message}")):
        load_settings(conf, env={})


def test_quoted_boolean_is_rejected(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "lake_root: /l\nspark:\n  ui_enabled: 'false'\n")
    with pytest.raises(ConfigError, match=re.escape(f"{conf}") + ".*ui_enabled"):
        load_settings(conf, env={})


def test_smrt_and_dropzone_sections(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "lake_root: /l\nsmrt:\n  production_only: false\n"
                           "dropzone:\n  statistics: pooled\n")
    settings = load_settings(conf, env={})
    assert (settings.smrt.production_only, settings.dropzone.statistics) == (False, "pooled")
    bad = _conf(tmp_path, "lake_root: /l\ndropzone:\n  statistics: median\n")
    with pytest.raises(ConfigError, match=re.escape(
        f"{bad}: 'dropzone.statistics' must be 'latest' or 'pooled', got 'median'"
    )):
        load_settings(bad, env={})
