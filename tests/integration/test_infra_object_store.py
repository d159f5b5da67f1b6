"""infra/s3.sh's object store (SeaweedFS on loopback) as the lakehouse relies on it: each role's
identity may do exactly its part of the bucket, and a conditional put (If-None-Match: *) is
atomic, so that one writer wins a key. Every test works under prefixes of its own in the lake
and in the landing zone, seeded and emptied by the jobs identity."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.object_store_server import Credentials, ObjectStore

pytestmark = pytest.mark.slow

SEEDED = b'{"seeded_by": "jobs"}'
WRITTEN = b'{"written_by": "the role"}'


@pytest.fixture
def store(object_store: ObjectStore) -> ObjectStore:
    return object_store


def client(store: ObjectStore, credentials: Credentials | None = None, **config: Any) -> Any:
    """An S3 client of `credentials` (unsigned requests without), with no retries: a refused
    request must show its own status, not a retry's."""
    signing = {} if credentials else {"signature_version": UNSIGNED}
    return boto3.client(
        "s3", endpoint_url=store.endpoint, region_name=store.region,
        aws_access_key_id=credentials.access_key_id if credentials else None,
        aws_secret_access_key=credentials.secret_access_key if credentials else None,
        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"},
                      **signing, **config))


@dataclass(frozen=True)
class Area:
    """One of the two areas of the bucket, under a prefix of the test's own."""

    bucket: str
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


@pytest.fixture
def areas(store: ObjectStore) -> Iterator[dict[str, Area]]:
    """The test's lake and landing areas, each holding seeded.json; emptied after the test."""
    test_prefix = f"tests/infra-{uuid.uuid4().hex[:12]}/"
    made = {"lake": Area(store.lake_bucket, store.lake_prefix + test_prefix),
            "landing": Area(store.landing_bucket, store.landing_prefix + test_prefix)}
    jobs = client(store, store.credentials("jobs"))
    for area in made.values():
        jobs.put_object(Bucket=area.bucket, Key=area.key("seeded.json"), Body=SEEDED)
    yield made
    for area in made.values():
        listed = jobs.list_objects_v2(Bucket=area.bucket, Prefix=area.prefix)
        for found in listed.get("Contents", []):
            jobs.delete_object(Bucket=area.bucket, Key=found["Key"])


def status_and_error(call: Callable[[], Any]) -> tuple[int, Any]:
    """(HTTP status, the response) or, refused, (HTTP status, the S3 error code)."""
    try:
        response = call()
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    return response["ResponseMetadata"]["HTTPStatusCode"], response


def stored(store: ObjectStore, area: Area, name: str) -> bytes | None:
    """What the jobs identity reads at `name`, None when there is no such object."""
    status, response = status_and_error(lambda: client(store, store.credentials("jobs"))
                                        .get_object(Bucket=area.bucket, Key=area.key(name)))
    return response["Body"].read() if status == 200 else None


def attempt(s3: Any, operation: str, area: Area) -> tuple[int, Any]:
    """(status, what came back: the body read, the names listed, or the error code)."""
    status, response = status_and_error({
        "put": lambda: s3.put_object(Bucket=area.bucket, Key=area.key("new.json"), Body=WRITTEN),
        "get": lambda: s3.get_object(Bucket=area.bucket, Key=area.key("seeded.json")),
        "list": lambda: s3.list_objects_v2(Bucket=area.bucket, Prefix=area.prefix),
        "delete": lambda: s3.delete_object(Bucket=area.bucket, Key=area.key("seeded.json")),
    }[operation])
    if status >= 300:
        return status, response
    if operation == "get":
        return status, response["Body"].read()
    if operation == "list":
        return status, [found["Key"].removeprefix(area.prefix) for found in response["Contents"]]
    return status, None


DENIED = (403, "AccessDenied")
# (role, operation, area) -> (status, what came back), then what the jobs identity finds at the
# operation's key afterwards: new.json for a put, seeded.json for the others.
GRANTS = {
    ("jobs", "put", "lake"): ((200, None), WRITTEN),
    ("jobs", "get", "lake"): ((200, SEEDED), SEEDED),
    ("jobs", "list", "lake"): ((200, ["seeded.json"]), SEEDED),
    ("jobs", "delete", "lake"): ((204, None), None),
    ("jobs", "put", "landing"): ((200, None), WRITTEN),
    ("jobs", "get", "landing"): ((200, SEEDED), SEEDED),
    ("jobs", "list", "landing"): ((200, ["seeded.json"]), SEEDED),
    ("receiver", "put", "landing"): ((200, None), WRITTEN),
    ("receiver", "get", "landing"): ((200, SEEDED), SEEDED),
    ("receiver", "list", "landing"): (DENIED, SEEDED),
    ("receiver", "put", "lake"): (DENIED, None),
    ("receiver", "get", "lake"): (DENIED, SEEDED),
    ("receiver", "list", "lake"): (DENIED, SEEDED),
    ("receiver", "delete", "lake"): (DENIED, SEEDED),
    ("analyst", "get", "lake"): ((200, SEEDED), SEEDED),
    ("analyst", "list", "lake"): ((200, ["seeded.json"]), SEEDED),
    ("analyst", "put", "lake"): (DENIED, None),
    ("analyst", "delete", "lake"): (DENIED, SEEDED),
    ("analyst", "put", "landing"): (DENIED, None),
    ("analyst", "get", "landing"): (DENIED, SEEDED),
    ("analyst", "list", "landing"): (DENIED, SEEDED),
}


@pytest.mark.parametrize(("role", "operation", "area_name"), list(GRANTS),
                         ids=["-".join(case) for case in GRANTS])
def test_each_role_may_do_exactly_its_part(store: ObjectStore, areas: dict[str, Area],
                                           role: str, operation: str, area_name: str) -> None:
    area = areas[area_name]
    outcome = attempt(client(store, store.credentials(role)), operation, area)
    after = stored(store, area, "new.json" if operation == "put" else "seeded.json")
    assert (outcome, after) == GRANTS[role, operation, area_name]


def test_strangers_are_refused(store: ObjectStore, areas: dict[str, Area]) -> None:
    lake = areas["lake"]
    wrong_secret = Credentials(store.credentials("jobs").access_key_id, "not-the-secret")
    assert attempt(client(store, wrong_secret), "get", lake) == (403, "SignatureDoesNotMatch")
    assert attempt(client(store), "get", lake) == DENIED
    assert attempt(client(store), "put", lake) == DENIED
    assert stored(store, lake, "new.json") is None


def test_env_prints_each_roles_environment(store: ObjectStore) -> None:
    assert store["receiver"] == {
        "AWS_ACCESS_KEY_ID": "meterlake-receiver",
        "AWS_SECRET_ACCESS_KEY": "meterlake-receiver-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:18333",
        "METERLAKE_S3_ENDPOINT": "http://127.0.0.1:18333",
        "METERLAKE_LAKE": "s3a://meterlake/lake",
        "METERLAKE_LANDING": "s3a://meterlake/landing",
    }
    assert [store.credentials(role).access_key_id for role in ("jobs", "analyst")] == \
        ["meterlake-jobs", "meterlake-analyst"]
    assert (store.lake_bucket, store.lake_prefix, store.landing_bucket, store.landing_prefix) == \
        ("meterlake", "lake/", "meterlake", "landing/")


def test_a_conditional_put_of_an_existing_key_fails_with_412(store: ObjectStore,
                                                             areas: dict[str, Area]) -> None:
    lake, jobs = areas["lake"], client(store, store.credentials("jobs"))
    key = lake.key("once.json")
    first, _ = status_and_error(
        lambda: jobs.put_object(Bucket=lake.bucket, Key=key, Body=b"first", IfNoneMatch="*"))
    second = status_and_error(
        lambda: jobs.put_object(Bucket=lake.bucket, Key=key, Body=b"second", IfNoneMatch="*"))
    assert (first, second, stored(store, lake, "once.json")) == \
        (200, (412, "PreconditionFailed"), b"first")


def test_exactly_one_of_eight_concurrent_conditional_puts_wins(store: ObjectStore,
                                                               areas: dict[str, Area]) -> None:
    lake = areas["lake"]
    jobs = client(store, store.credentials("jobs"), max_pool_connections=8)
    start_together = threading.Barrier(8)

    def put(writer: int) -> int:
        start_together.wait()
        status, _ = status_and_error(lambda: jobs.put_object(
            Bucket=lake.bucket, Key=lake.key("race.json"), Body=f"writer {writer}".encode(),
            IfNoneMatch="*"))
        return status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(put, range(8)))
    winners = [writer for writer, status in enumerate(statuses) if status == 200]
    assert sorted(statuses) == [200] + [412] * 7
    assert stored(store, lake, "race.json") == f"writer {winners[0]}".encode()
