"""The landing zone on the real object store (SeaweedFS on loopback, started by infra/s3.sh):
the round trip, one object per slot however often and however concurrently it is landed,
multipart uploads, the identities' errors, and the server stopped mid-upload and before an HTTP
ingest request. Each test lands under a prefix of its own, as the receiver identity; what is in
the bucket is looked at as the jobs identity (the receiver may not list)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.object_store import ObjectStoreError, ObjectUrl, boto_client
from meterlake.receive import object_landing
from meterlake.receive.http_auth import parse_api_keys
from meterlake.receive.http_ingest import HttpSettings, ingest_router
from meterlake.receive.landing import (
    META_SUFFIX,
    LandedFile,
    is_landed,
    land_bytes,
    list_landed,
    read_landed_bytes,
    reserve_slot,
)
from meterlake.receive.object_landing import ObjectLanding
from tests.helpers.object_store_server import ObjectStore, run_script

pytestmark = pytest.mark.slow

SOURCE = "dropzone"
DATA = b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.5, -2, 0]}'
# SeaweedFS, like S3, refuses parts under 5 MiB but the last: parts of 5 MiB above 6 MiB.
MIB = 1 << 20
SMALL_PARTS = {"multipart_threshold_bytes": 6 * MIB, "part_bytes": 5 * MIB}
BIG = bytes(range(256)) * (11 * MIB // 256) + b"tail"  # 11 MiB and 4 bytes: three parts
INGEST_KEY = "landing-test-ingest-key"


@dataclass(frozen=True)
class Zone:
    """A landing root of the test's own, its store, and the two identities' environments."""

    root: str
    store: ObjectStoreSettings
    receiver: dict[str, str]
    jobs: dict[str, str]

    @contextmanager
    def as_jobs(self) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.jobs.items():
                patch.setenv(name, value)
            yield

    def keys(self) -> list[str]:
        """Every key under the root (as the jobs identity), in key order."""
        url = ObjectUrl.parse(self.root)
        with self.as_jobs():
            client = boto_client(self.store, max_attempts=2)
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=url.bucket,
                                                                      Prefix=f"{url.key}/")
            return sorted(found["Key"].removeprefix(f"{url.key}/")
                          for page in pages for found in page.get("Contents", []))

    def listed(self, source: str = SOURCE) -> list[LandedFile]:
        with self.as_jobs():
            return list_landed(self.root, source, object_store=self.store)


def s3_script(command: str) -> None:
    """`bash infra/s3.sh stop|start`: the fault tests stop the shared server and always start
    it again (in a `finally`)."""
    result = run_script(command, timeout=180)
    assert result.returncode == 0, f"s3.sh {command} failed:\n{result.stderr}"


@pytest.fixture
def server(object_store: ObjectStore) -> ObjectStore:
    return object_store


@pytest.fixture
def zone(server: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> Zone:
    for name, value in server["receiver"].items():
        monkeypatch.setenv(name, value)
    root = f"{server.landing}/tests/landing-{uuid.uuid4().hex[:12]}"
    return Zone(root, ObjectStoreSettings(endpoint=server.endpoint, region=server.region),
                server["receiver"], server["jobs"])


def _relative(zone: Zone, landed: LandedFile) -> str:
    return landed.landing_path.removeprefix(f"{zone.root}/")


def test_land_list_and_read_back(zone: Zone) -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "meterlake-receiver"  # the receivers' identity
    landed = land_bytes(zone.root, SOURCE, "payload 1.json", DATA, "key:abc",
                        object_store=zone.store)
    day = landed.received_at.strftime("%Y/%m/%d")
    stamp = landed.received_at.strftime("%Y%m%dT%H%M%S.%fZ")
    assert landed.landing_path == (
        f"{zone.root}/{SOURCE}/{day}/{stamp}_{landed.ingest_id}_payload_1.json")
    assert (landed.sha256, landed.byte_size) == (hashlib.sha256(DATA).hexdigest(), len(DATA))
    assert read_landed_bytes(landed.landing_path, object_store=zone.store) == DATA
    assert is_landed(landed.landing_path, object_store=zone.store)
    assert zone.listed() == [landed]
    assert zone.keys() == [_relative(zone, landed), _relative(zone, landed) + META_SUFFIX]


def test_a_second_landing_into_one_slot_leaves_one_object(zone: Zone) -> None:
    slot = reserve_slot(zone.root, SOURCE, "a.json")
    first = land_bytes(zone.root, SOURCE, "a.json", DATA, "key:abc", slot=slot,
                       object_store=zone.store)
    again = land_bytes(zone.root, SOURCE, "a.json", DATA, "key:abc", slot=slot,
                       object_store=zone.store)
    assert again == first
    with pytest.raises(ObjectStoreError) as other:
        land_bytes(zone.root, SOURCE, "a.json", DATA + b" ", slot=slot, object_store=zone.store)
    assert str(other.value) == (f"{slot.landing_path}: already holds other bytes (sha256 "
                                f"{first.sha256}); a landed object is never overwritten")
    assert zone.listed() == [first]
    assert zone.keys() == [_relative(zone, first), _relative(zone, first) + META_SUFFIX]


def test_eight_concurrent_landings_into_one_slot_make_one_object(zone: Zone) -> None:
    slot = reserve_slot(zone.root, SOURCE, "a.json")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: land_bytes(
            zone.root, SOURCE, "a.json", DATA, "key:abc", slot=slot, object_store=zone.store),
            range(8)))
    assert len(set(results)) == 1 and results[0].landing_path == slot.landing_path
    assert zone.listed() == [results[0]]
    assert zone.keys() == [_relative(zone, results[0]), _relative(zone, results[0]) + META_SUFFIX]


def test_large_objects_land_in_parts(zone: Zone) -> None:
    parts: list[int] = []
    original = object_landing._upload_part

    def counting(client: Any, url: ObjectUrl, upload_id: str, number: int, body: bytes) -> str:
        parts.append(len(body))
        return original(client, url, upload_id, number, body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(object_landing, "_upload_part", counting)
        landed = land_bytes(zone.root, SOURCE, "big.bin", BIG,
                            object_store=ObjectLanding(zone.store, **SMALL_PARTS))
    assert parts == [5 * MIB, 5 * MIB, MIB + 4]
    assert (landed.sha256, landed.byte_size) == (hashlib.sha256(BIG).hexdigest(), len(BIG))
    assert read_landed_bytes(landed.landing_path, object_store=zone.store) == BIG
    assert zone.listed() == [landed]


def test_racing_multipart_landings_into_one_slot_complete_once(zone: Zone) -> None:
    """Both uploads pass the existence check and upload every part; the second completion is
    refused by If-None-Match (412), finds the same bytes there and carries on."""
    slot = reserve_slot(zone.root, SOURCE, "big.bin")
    both_uploaded = threading.Barrier(2, timeout=60)
    original = object_landing._upload_part

    def in_step(client: Any, url: ObjectUrl, upload_id: str, number: int, body: bytes) -> str:
        etag = original(client, url, upload_id, number, body)
        if number == 3:
            both_uploaded.wait()
        return etag

    landing = ObjectLanding(zone.store, **SMALL_PARTS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(object_landing, "_upload_part", in_step)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda n: land_bytes(
                zone.root, SOURCE, "big.bin", BIG, slot=slot, object_store=landing), range(2)))
    assert results[0] == results[1] and zone.listed() == [results[0]]
    assert zone.keys() == [_relative(zone, results[0]), _relative(zone, results[0]) + META_SUFFIX]
    assert read_landed_bytes(slot.landing_path, object_store=zone.store) == BIG


def test_wrong_keys_and_foreign_buckets_are_one_line_naming_url_and_key_id(
    zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = zone.receiver["AWS_ACCESS_KEY_ID"]
    elsewhere = f"s3a://meterlake-missing-{uuid.uuid4().hex[:8]}/landing"
    missing_slot = reserve_slot(elsewhere, SOURCE, "a.json")
    with pytest.raises(ObjectStoreError) as missing:
        land_bytes(elsewhere, SOURCE, "a.json", DATA, slot=missing_slot, object_store=zone.store)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    slot = reserve_slot(zone.root, SOURCE, "a.json")
    with pytest.raises(ObjectStoreError) as wrong_secret:
        land_bytes(zone.root, SOURCE, "a.json", DATA, slot=slot, object_store=zone.store)
    # SeaweedFS answers a scoped identity AccessDenied for a bucket it may not see, whether or
    # not the bucket exists: it does not tell who may not look whether it exists.
    assert [str(missing.value), str(wrong_secret.value)] == [
        f"{missing_slot.landing_path}: access denied (no such bucket, or no right to it) as "
        f"{receiver}",
        f"{slot.landing_path}: the secret key is wrong as {receiver}",
    ]
    assert zone.keys() == []


def test_the_store_stopped_mid_upload_lands_nothing_then_the_retry_lands_once(
    zone: Zone
) -> None:
    slot = reserve_slot(zone.root, SOURCE, "big.bin")
    landing = ObjectLanding(zone.store, **SMALL_PARTS)
    original = object_landing._upload_part

    def stopping(client: Any, url: ObjectUrl, upload_id: str, number: int, body: bytes) -> str:
        etag = original(client, url, upload_id, number, body)
        if number == 1:
            s3_script("stop")
        return etag

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(object_landing, "_upload_part", stopping)
            started = time.monotonic()
            with pytest.raises(ObjectStoreError) as stopped:
                land_bytes(zone.root, SOURCE, "big.bin", BIG, slot=slot, object_store=landing)
            failed_after = time.monotonic() - started
    finally:
        s3_script("start")
    assert str(stopped.value).startswith(
        f"{slot.landing_path}: no answer from the object store at {zone.store.endpoint}/")
    assert "\n" not in str(stopped.value) and failed_after < 15
    assert not is_landed(slot.landing_path, object_store=zone.store)
    assert zone.listed() == [] and zone.keys() == []
    landed = land_bytes(zone.root, SOURCE, "big.bin", BIG, slot=slot, object_store=landing)
    assert zone.listed() == [landed]
    assert read_landed_bytes(slot.landing_path, object_store=zone.store) == BIG


def _post(zone: Zone, key: str) -> httpx.Response:
    """POST /v1/dropzone with DATA and `key` to the ingest routes, in process, landing in
    `zone` as the receiver."""
    app = FastAPI()
    keys = parse_api_keys(f"{INGEST_KEY}:ingest")
    app.state.http = HttpSettings("/unused-lake", zone.root, keys, object_store=zone.store)
    app.state.api_keys = keys
    app.include_router(ingest_router())

    # TestClient runs the app on a thread of its own: an event loop another test left running
    # on this thread (the browser tests') cannot get in the way.
    with TestClient(app, base_url="http://meterlake.test") as client:
        return client.post("/v1/dropzone", content=DATA, timeout=30, headers={
            "Authorization": f"Bearer {INGEST_KEY}", "Idempotency-Key": key})


def test_http_ingest_answers_503_while_the_store_is_stopped_then_lands_once(zone: Zone) -> None:
    s3_script("stop")
    try:
        started = time.monotonic()
        refused = _post(zone, "retry-me")
        refused_after = time.monotonic() - started
    finally:
        s3_script("start")
    detail = refused.json()["detail"]
    assert refused.status_code == 503 and refused_after < 15
    assert detail.startswith(f"the landing zone cannot be written: {zone.root}/_idempotency/"
                             f"{SOURCE}/")
    assert f"no answer from the object store at {zone.store.endpoint}/" in detail
    assert zone.listed() == [] and zone.keys() == []
    accepted, replayed = _post(zone, "retry-me"), _post(zone, "retry-me")
    [landed] = zone.listed()
    assert [(r.status_code, r.json()["landing_id"], r.json()["replayed"])
            for r in (accepted, replayed)] == [(202, landed.ingest_id, False),
                                               (202, landed.ingest_id, True)]
    assert read_landed_bytes(landed.landing_path, object_store=zone.store) == DATA
