"""Object storage: the one place that maps lake and landing URLs between the forms each client
wants, and hands each client the endpoint and the credentials.

A location on object storage is written `s3a://bucket/key` in settings and in the lake (that is
the form Spark's Hadoop S3A filesystem reads, and the form `landing_path` records). boto3 (the
receivers) takes a bucket and a key; delta-rs (the read API) takes `s3://bucket/key` with
storage options; Trino (`meterlake trino register`) takes `s3://bucket/key` too, and a local
table as `local:///absolute/path`; Spark takes `spark.hadoop.fs.s3a.*` settings. Credentials
come only from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), and an error names
the URL and the identity (the access key id, never the secret).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meterlake.core.config import ObjectStoreSettings

_SCHEMES = ("s3a://", "s3://", "s3n://")
# Retries with backoff on 5xx, throttling and dropped connections (botocore's standard mode).
_MAX_ATTEMPTS = 8


class ObjectStoreError(RuntimeError):
    """A request to the object store failed: wrong credentials, no such bucket, no server."""


def is_object_store(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(_SCHEMES)


@dataclass(frozen=True)
class ObjectUrl:
    bucket: str
    key: str

    @staticmethod
    def parse(location: str) -> ObjectUrl:
        for scheme in _SCHEMES:
            if location.startswith(scheme):
                bucket, _, key = location[len(scheme):].partition("/")
                if not bucket:
                    raise ObjectStoreError(f"{location}: no bucket in the URL")
                return ObjectUrl(bucket, key.lstrip("/"))
        raise ObjectStoreError(f"{location}: not an s3a:// or s3:// URL")

    def child(self, *parts: str) -> ObjectUrl:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return ObjectUrl(self.bucket, key)

    @property
    def spark(self) -> str:
        """`s3a://bucket/key`: Spark's form, and the form meterlake records."""
        return f"s3a://{self.bucket}/{self.key}".rstrip("/")

    @property
    def delta_rs(self) -> str:
        """`s3://bucket/key`: delta-rs's form."""
        return f"s3://{self.bucket}/{self.key}".rstrip("/")

    @property
    def trino(self) -> str:
        """`s3://bucket/key`: the form Trino's native S3 file system reads."""
        return f"s3://{self.bucket}/{self.key}".rstrip("/")


def trino_location(location: str | os.PathLike[str]) -> str:
    """Where Trino finds a lake location: `s3://bucket/key` on object storage; a local path
    made absolute, as `local:///path` (the catalogs of infra/trino.sh root Trino's local file
    system at `/`)."""
    if is_object_store(location):
        return ObjectUrl.parse(str(location)).trino
    return "local://" + os.path.abspath(location).rstrip("/")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @property
    def identity(self) -> str:
        """How errors name who asked: the access key id."""
        return self.access_key_id


def environment_credentials(env: Mapping[str, str] | None = None) -> Credentials | None:
    """The keys in the environment, or None when there are none."""
    env = os.environ if env is None else env
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    """The keys in the environment; ObjectStoreError saying what to set when there are none."""
    credentials = environment_credentials(env)
    if credentials is None:
        raise ObjectStoreError(
            "object storage needs credentials in the environment: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (for the local server: eval \"$(bash infra/s3.sh env)\")")
    return credentials


def credentials_for(store: ObjectStoreSettings) -> Credentials | None:
    """The keys to use with `store`: a server of our own needs ours (an error says what to set
    when there are none); AWS itself may find its own (instance roles) when none are set."""
    return credentials_from_env() if store.endpoint else environment_credentials()


def _uses_tls(store: ObjectStoreSettings) -> bool:
    return store.endpoint is None or store.endpoint.startswith("https://")


def hadoop_options(
    store: ObjectStoreSettings, credentials: Credentials | None
) -> dict[str, str]:
    """The Hadoop S3A settings (without the `spark.hadoop.` prefix) for `store`. Without
    `credentials` S3A's own chain finds them (an instance profile on EMR, for example)."""
    options = {
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint.region": store.region,
        "fs.s3a.path.style.access": str(store.path_style).lower(),
        "fs.s3a.connection.ssl.enabled": str(_uses_tls(store)).lower(),
        # Fail in seconds, not after S3A's default of minutes of retries, when the server is
        # gone: a job on a stopped store should say so.
        "fs.s3a.attempts.maximum": "3",
        "fs.s3a.retry.limit": "3",
        "fs.s3a.connection.establish.timeout": "5s",
    }
    if store.endpoint is not None:
        options["fs.s3a.endpoint"] = store.endpoint
    if credentials is not None:
        temporary = credentials.session_token is not None
        options["fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider" if temporary
            else "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        options["fs.s3a.access.key"] = credentials.access_key_id
        options["fs.s3a.secret.key"] = credentials.secret_access_key
        if temporary:
            options["fs.s3a.session.token"] = str(credentials.session_token)
    return options


def delta_rs_options(store: ObjectStoreSettings, credentials: Credentials) -> dict[str, str]:
    """delta-rs storage options for `store`."""
    options = {
        "AWS_REGION": store.region,
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": str(not store.path_style).lower(),
    }
    if store.endpoint is not None:
        options["AWS_ENDPOINT_URL"] = store.endpoint
        options["AWS_ALLOW_HTTP"] = str(not _uses_tls(store)).lower()
    if credentials.session_token is not None:
        options["AWS_SESSION_TOKEN"] = credentials.session_token
    return options


def delta_rs_location(
    location: str, store: ObjectStoreSettings
) -> tuple[str, dict[str, str] | None]:
    """What delta-rs opens for a lake table location: the URL and its storage options
    (None for a local path)."""
    if not is_object_store(location):
        return location, None
    return ObjectUrl.parse(location).delta_rs, delta_rs_options(store, credentials_from_env())


def boto_client(
    store: ObjectStoreSettings,
    credentials: Credentials | None = None,
    max_attempts: int = _MAX_ATTEMPTS,
) -> Any:
    """A boto3 S3 client for `store`, retrying 5xx and throttling with backoff. Without
    `credentials`, boto3's own chain finds them (only where `store` is AWS itself)."""
    import boto3
    from botocore.config import Config

    if credentials is None:
        credentials = credentials_for(store)
    config = Config(
        region_name=store.region,
        retries={"mode": "standard", "max_attempts": max_attempts},
        s3={"addressing_style": "path" if store.path_style else "virtual"},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client(
        "s3",
        endpoint_url=store.endpoint,
        aws_access_key_id=credentials.access_key_id if credentials else None,
        aws_secret_access_key=credentials.secret_access_key if credentials else None,
        aws_session_token=credentials.session_token if credentials else None,
        config=config,
    )


def explain(error: Exception, location: str, credentials: Credentials | None = None) -> str:
    """One line for a failed request: what failed, on which URL, as whom."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    who = f" as {credentials.identity}" if credentials else ""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        meaning = {
            "NoSuchBucket": "the bucket does not exist",
            "InvalidAccessKeyId": "the access key is not known to the server",
            "SignatureDoesNotMatch": "the secret key is wrong",
            # S3 servers answer AccessDenied, not NoSuchBucket, to an identity whose rights do
            # not cover the bucket: both causes are named.
            "AccessDenied": "access denied (no such bucket, or no right to it)",
            "403": "access denied (no such bucket, or no right to it)",
            "404": "not found",
        }.get(code, f"{code or 'error'} (HTTP {status})")
        return f"{location}: {meaning}{who}"
    if isinstance(error, EndpointConnectionError):
        return (f"{location}: no answer from the object store at "
                f"{error.kwargs.get('endpoint_url')}{who}")
    if isinstance(error, NoCredentialsError):
        return f"{location}: no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    return f"{location}: {type(error).__name__}: {error}{who}"


def arrow_filesystem(store: ObjectStoreSettings, credentials: Credentials | None = None) -> Any:
    """A pyarrow S3 filesystem for `store` (paths are `bucket/key`)."""
    import pyarrow.fs as pafs

    credentials = credentials or credentials_from_env()
    options: dict[str, Any] = {
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "session_token": credentials.session_token,
        "region": store.region,
        "force_virtual_addressing": not store.path_style,
    }
    if store.endpoint is not None:
        scheme, _, host = store.endpoint.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    return pafs.S3FileSystem(**options)


def check_reachable(store: ObjectStoreSettings, locations: list[str]) -> None:
    """Lists one key under each object-store location, so a wrong key, a missing bucket or a
    stopped server is one clear ObjectStoreError before a job starts, not a JVM stack trace
    from its first read."""
    remote = [location for location in locations if is_object_store(location)]
    if not remote:
        return
    credentials = credentials_for(store)
    client = boto_client(store, credentials, max_attempts=2)
    for location in remote:
        url = ObjectUrl.parse(location)
        try:
            client.list_objects_v2(Bucket=url.bucket, Prefix=url.key, MaxKeys=1)
        except Exception as error:  # botocore's errors share no useful base class
            raise ObjectStoreError(explain(error, location, credentials)) from None
