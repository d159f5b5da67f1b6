"""The one place URL forms and credentials are mapped for Spark, delta-rs, pyarrow, boto3 and
Trino."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlake.core.config import ObjectStoreSettings, load_settings
from meterlake.core.object_store import (
    Credentials,
    ObjectStoreError,
    ObjectUrl,
    credentials_from_env,
    delta_rs_location,
    delta_rs_options,
    hadoop_options,
    is_object_store,
    trino_location,
)
from meterlake.core.spark import session_conf
from tests.helpers.paths import REPO

LOCAL_SERVER = ObjectStoreSettings(endpoint="http://127.0.0.1:18333", region="us-east-1")
KEYS = Credentials("jobs-key", "jobs-secret")


@pytest.mark.parametrize(("location", "bucket", "key"), [
    ("s3a://meterlake/lake/silver/meter_readings", "meterlake", "lake/silver/meter_readings"),
    ("s3://meterlake/lake/", "meterlake", "lake/"),
    ("s3a://meterlake", "meterlake", ""),
])
def test_an_object_url_names_its_bucket_and_key(location: str, bucket: str, key: str) -> None:
    assert ObjectUrl.parse(location) == ObjectUrl(bucket, key)


def test_each_client_gets_its_own_url_form() -> None:
    url = ObjectUrl.parse("s3a://meterlake/lake").child("silver", "meter_readings/")
    assert url.spark == "s3a://meterlake/lake/silver/meter_readings"
    assert url.delta_rs == "s3://meterlake/lake/silver/meter_readings"
    assert url.trino == "s3://meterlake/lake/silver/meter_readings"


@pytest.mark.parametrize(("location", "expected"), [
    ("s3a://meterlake/lake/silver/meter_readings/", "s3://meterlake/lake/silver/meter_readings"),
    ("/var/lake/silver/meter_readings", "local:///var/lake/silver/meter_readings"),
    ("/var/lake/../lake/gold/", "local:///var/lake/gold"),
])
def test_trino_reads_object_storage_as_s3_and_disk_as_absolute_local_uris(
    location: str, expected: str,
) -> None:
    assert trino_location(location) == expected


def test_trino_reads_a_relative_lake_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert trino_location("var/lake/ops/ingest_log") == f"local://{tmp_path}/var/lake/ops/ingest_log"


@pytest.mark.parametrize("location", ["/var/lake", "var/lake", "file:///var/lake", "s3a:///x"])
def test_only_s3_urls_with_a_bucket_are_object_store_urls(location: str) -> None:
    if is_object_store(location):
        with pytest.raises(ObjectStoreError, match="no bucket in the URL"):
            ObjectUrl.parse(location)
    else:
        with pytest.raises(ObjectStoreError, match="not an s3a:// or s3:// URL"):
            ObjectUrl.parse(location)


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(ObjectStoreError, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        credentials_from_env({"AWS_ACCESS_KEY_ID": "only-the-key"})
    assert credentials_from_env({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}) == (
        Credentials("k", "s"))


def test_hadoop_options_for_a_plain_http_server_with_keys() -> None:
    options = hadoop_options(LOCAL_SERVER, KEYS)
    assert options["fs.s3a.endpoint"] == "http://127.0.0.1:18333"
    assert options["fs.s3a.endpoint.region"] == "us-east-1"
    assert options["fs.s3a.path.style.access"] == "true"
    assert options["fs.s3a.connection.ssl.enabled"] == "false"
    assert options["fs.s3a.aws.credentials.provider"] == (
        "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
    assert (options["fs.s3a.access.key"], options["fs.s3a.secret.key"]) == (
        "jobs-key", "jobs-secret")


def test_on_aws_without_keys_s3a_finds_its_own() -> None:
    options = hadoop_options(ObjectStoreSettings(region="eu-west-1"), None)
    assert "fs.s3a.endpoint" not in options
    assert "fs.s3a.access.key" not in options
    assert "fs.s3a.aws.credentials.provider" not in options
    assert options["fs.s3a.connection.ssl.enabled"] == "true"


def test_delta_rs_gets_the_s3_url_and_the_same_server() -> None:
    options = delta_rs_options(LOCAL_SERVER, KEYS)
    assert options == {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "jobs-key",
        "AWS_SECRET_ACCESS_KEY": "jobs-secret",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:18333",
        "AWS_ALLOW_HTTP": "true",
    }
    assert delta_rs_location("/var/lake/silver/x", LOCAL_SERVER) == ("/var/lake/silver/x", None)


def test_an_s3_lake_puts_the_s3a_settings_into_the_session(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "jobs-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "jobs-secret")
    settings = load_settings(REPO / "conf" / "s3-local.yaml", env={})
    conf = session_conf(settings)
    assert settings.lake_root.startswith("s3a://")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == settings.object_store.endpoint
    assert conf["spark.hadoop.fs.s3a.access.key"] == "jobs-key"
    local = session_conf(load_settings(env={}))
    assert not [key for key in local if key.startswith("spark.hadoop.fs.s3a")]


def test_a_local_server_without_keys_is_refused_before_spark_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    settings = load_settings(REPO / "conf" / "s3-local.yaml", env={})
    with pytest.raises(ObjectStoreError, match="infra/s3.sh env"):
        session_conf(settings)
