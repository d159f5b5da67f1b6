"""Unit tests for landing bytes received over the network, idempotency records, and the 503 of
HTTP ingest when the landing zone cannot be written."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from fastapi import FastAPI
from fastapi.testclient import TestClient

from meterlake.receive.http_auth import parse_api_keys
from meterlake.receive.http_ingest import HttpSettings, ingest_router
from meterlake.receive.idempotency import IdempotencyRecord, claim, record_path
from meterlake.receive.landing import META_SUFFIX, LandedFile, land_bytes, list_landed, reserve_slot
from tests.helpers.s3_stub import KEY_ID, STORE, stubbed_landing_client

DATA = b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.5]}'


def test_land_bytes_keeps_the_bytes_and_the_rejection(tmp_path: Path) -> None:
    landed = land_bytes(tmp_path, "dropzone_rejected", "dropzone_x.json", DATA, "key:abc",
                        rejection="data: missing")
    assert Path(landed.landing_path).read_bytes() == DATA
    assert (landed.sha256, landed.byte_size) == (hashlib.sha256(DATA).hexdigest(), len(DATA))
    assert (landed.source, landed.original_name, landed.sender, landed.rejection) == (
        "dropzone_rejected", "dropzone_x.json", "key:abc", "data: missing")
    meta = Path(landed.landing_path + META_SUFFIX).read_text(encoding="utf-8")
    assert LandedFile.from_json(meta) == landed
    assert list_landed(tmp_path, "dropzone_rejected") == [landed]


def test_metadata_written_before_the_rejection_field_still_loads(tmp_path: Path) -> None:
    landed = land_bytes(tmp_path, "dropzone", "a.json", DATA)
    old = json.loads(landed.to_json())
    del old["rejection"]
    assert LandedFile.from_json(json.dumps(old)) == landed
    assert landed.rejection is None


def test_everything_is_fsynced_before_land_bytes_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    landed = land_bytes(tmp_path, "dropzone", "a.json", DATA)
    final = Path(landed.landing_path)
    day = final.parent
    # New directories (source, year, month, day) are made durable in their parents first.
    assert synced[:4] == [str(tmp_path), str(tmp_path / "dropzone"), str(day.parent.parent),
                          str(day.parent)]
    data_tmp, meta_tmp, directory = synced[4:]
    assert Path(data_tmp).name.startswith(f".{final.name}.") and data_tmp.endswith(".tmp")
    assert Path(meta_tmp).name.startswith(f".{final.name}{META_SUFFIX}.")
    assert directory == str(day)
    assert sorted(p.name for p in day.iterdir()) == [final.name, final.name + META_SUFFIX]


def test_landing_the_same_bytes_into_one_slot_twice_makes_one_object(tmp_path: Path) -> None:
    slot = reserve_slot(tmp_path, "dropzone", "a.json")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(
            lambda _: land_bytes(tmp_path, "dropzone", "a.json", DATA, "key:abc", slot=slot),
            range(8)))
    assert len(set(results)) == 1
    assert list_landed(tmp_path, "dropzone") == [results[0]]
    assert (results[0].ingest_id, results[0].landing_path) == (
        slot.ingest_id, str(slot.landing_path))


def _record(tmp_path: Path, body_sha256: str) -> IdempotencyRecord:
    slot = reserve_slot(tmp_path, "dropzone", "a.json")
    return IdempotencyRecord(body_sha256, slot.ingest_id, slot.received_at,
                             str(slot.landing_path), "a.json", "key:abc")


def test_the_first_claim_of_a_key_holds(tmp_path: Path) -> None:
    path = Path(record_path(tmp_path, "dropzone", "key:abc", "k-1"))
    proposals = [_record(tmp_path, f"{n:064x}") for n in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        held = list(pool.map(lambda proposal: claim(path, proposal), proposals))
    assert len(set(held)) == 1
    assert held[0] in proposals
    assert IdempotencyRecord.from_json(path.read_text(encoding="utf-8")) == held[0]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_records_are_scoped_by_sender_and_hashed(tmp_path: Path) -> None:
    one = Path(record_path(tmp_path, "dropzone", "key:abc", "../../etc/passwd"))
    two = Path(record_path(tmp_path, "dropzone", "key:def", "../../etc/passwd"))
    assert one != two
    assert one.parent.parent == tmp_path / "_idempotency" / "dropzone"
    assert len(one.stem) == 64 and one.parent.name == one.stem[:2]


def test_other_bytes_into_a_landed_slot_are_refused(tmp_path: Path) -> None:
    slot = reserve_slot(tmp_path, "dropzone", "a.json")
    first = land_bytes(tmp_path, "dropzone", "a.json", DATA, slot=slot)
    with pytest.raises(FileExistsError, match=re.escape(
            f"{slot.landing_path}: already holds other bytes (sha256 {first.sha256})")):
        land_bytes(tmp_path, "dropzone", "a.json", DATA + b" ", slot=slot)
    assert Path(slot.landing_path).read_bytes() == DATA
    assert list_landed(tmp_path, "dropzone") == [first]


# --- on object storage: the claim is a conditional put, and HTTP ingest answers 503 when the
# landing zone cannot be written (botocore's Stubber: the exact requests, no server)

ROOT = "s3a://bucket/landing"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    with stubbed_landing_client(monkeypatch) as stubber:
        yield stubber


def test_a_claim_on_object_storage_is_a_conditional_put(s3: Stubber) -> None:
    path = record_path(ROOT, "dropzone", "key:abc", "k-1")
    digest = hashlib.sha256(b"key:abc\nk-1").hexdigest()
    assert path == f"{ROOT}/_idempotency/dropzone/{digest[:2]}/{digest}.json"
    where = {"Bucket": "bucket", "Key": path.removeprefix("s3a://bucket/")}
    first, second = _record(Path("/unused"), "1" * 64), _record(Path("/unused"), "2" * 64)
    s3.add_response("put_object", {}, {**where, "Body": first.to_json().encode(),
                                       "IfNoneMatch": "*", "Metadata": {}})
    s3.add_client_error("put_object", "PreconditionFailed", http_status_code=412)
    held = first.to_json().encode()
    s3.add_response("get_object", {"Body": StreamingBody(io.BytesIO(held), len(held))}, where)
    assert [claim(path, first, object_store=STORE), claim(path, second, object_store=STORE)
            ] == [first, first]


def _post(landing_root: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """POSTs DATA to the ingest route of an app landing under `landing_root`, in process."""
    app = FastAPI()
    keys = parse_api_keys("ingest-secret:ingest")
    app.state.http = HttpSettings("/unused-lake", landing_root, keys, object_store=STORE)
    app.state.api_keys = keys
    app.include_router(ingest_router())

    # TestClient runs the app on a thread of its own: an event loop another test left running
    # on this thread (the browser tests') cannot get in the way.
    with TestClient(app, base_url="http://meterlake.test") as client:
        return client.post("/v1/dropzone", content=DATA, headers={
            "Authorization": "Bearer ingest-secret", **(headers or {})})


def test_http_ingest_answers_503_when_the_landing_zone_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "landing").write_text("a file where the landing directory should be")
    answer = _post(str(tmp_path / "landing"))
    assert (answer.status_code, answer.json()) == (
        503, {"detail": "the landing zone cannot be written: File exists"})


def test_http_ingest_answers_503_naming_the_object_store_url_and_key_id(s3: Stubber) -> None:
    s3.add_client_error("put_object", "AccessDenied", http_status_code=403)
    answer = _post(ROOT, {"Idempotency-Key": "k-9"})
    sender = "key:" + hashlib.sha256(b"ingest-secret").hexdigest()[:12]
    record = record_path(ROOT, "dropzone", sender, "k-9")
    assert (answer.status_code, answer.json()) == (503, {
        "detail": f"the landing zone cannot be written: {record}: access denied (no such bucket, "
                  f"or no right to it) as {KEY_ID}"})
