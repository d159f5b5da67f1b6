"""POST /v1/dropzone on the real server (uvicorn, two workers, loopback): authentication, the
size limit, every door check with its message, idempotency, and the fixture payloads landed
byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from meterlake.receive.idempotency import IdempotencyRecord, claim, record_path
from meterlake.receive.landing import LandedFile, list_landed, reserve_slot
from tests.helpers.http_server import (
    ALL_KEY,
    INGEST_KEY,
    OTHER_INGEST_KEY,
    READ_KEY,
    Server,
    running_server,
)
from tests.helpers.paths import FIXTURES

DROPZONE = FIXTURES / "dropzone"
FILE_JSON = (DROPZONE / "file.json").read_bytes()
ONE_MIB = 1 << 20
VALID = b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.5, -2, 0]}'
RAW_NAME = re.compile(r"dropzone_\d{8}T\d{6}\.\d{6}Z\.json")


def fingerprint(key: str) -> str:
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("http-ingest") / "lake") as started:
        yield started


@pytest.fixture(scope="session")
def ingest(server: Server) -> Iterator[httpx.Client]:
    with server.client(INGEST_KEY) as client:
        yield client


def landed(server: Server, source: str = "dropzone") -> dict[str, LandedFile]:
    return {f.ingest_id: f for f in list_landed(server.landing_root, source)}


def everything_landed(server: Server) -> set[str]:
    return set(landed(server)) | set(landed(server, "dropzone_rejected"))


def assert_landed_as_sent(found: LandedFile, sent: bytes) -> None:
    assert Path(found.landing_path).read_bytes() == sent
    assert (found.sha256, found.byte_size) == (hashlib.sha256(sent).hexdigest(), len(sent))


# --- authentication

AUTH_CASES = [
    (None, 401, "missing Authorization header: send 'Authorization: Bearer <key>'"),
    (f"Basic {INGEST_KEY}", 401, "Authorization must be 'Bearer <key>'"),
    ("Bearer", 401, "Authorization must be 'Bearer <key>'"),
    ("Bearer not-a-configured-key", 401, "invalid API key"),
    (f"Bearer {INGEST_KEY[:-1]}", 401, "invalid API key"),
    (f"Bearer {INGEST_KEY}x", 401, "invalid API key"),
    (f"Bearer {READ_KEY}", 403, "this API key lacks the 'ingest' scope"),
]


@pytest.mark.parametrize(("authorization", "status", "message"), AUTH_CASES)
def test_ingest_needs_a_valid_key_with_the_ingest_scope(
    server: Server, authorization: str | None, status: int, message: str
) -> None:
    before = everything_landed(server)
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.post(f"{server.url}/v1/dropzone", content=VALID, headers=headers)
    assert (response.status_code, response.json()) == (status, {"detail": message})
    assert response.headers.get("www-authenticate") == ("Bearer" if status == 401 else None)
    assert everything_landed(server) == before


@pytest.mark.parametrize("key", [INGEST_KEY, ALL_KEY])
def test_keys_with_the_ingest_scope_or_no_scopes_are_accepted(server: Server, key: str) -> None:
    with server.client(key) as client:
        response = client.post("/v1/dropzone", content=VALID)
    assert response.status_code == 202
    assert landed(server)[response.json()["landing_id"]].sender == fingerprint(key)


# --- size limit

def padded_payload(size: int) -> bytes:
    """A valid payload of exactly `size` bytes (JSON allows trailing whitespace)."""
    return VALID + b" " * (size - len(VALID))


def test_a_body_of_exactly_the_limit_is_accepted(ingest: httpx.Client, server: Server) -> None:
    response = ingest.post("/v1/dropzone", content=padded_payload(ONE_MIB))
    assert response.status_code == 202
    assert landed(server)[response.json()["landing_id"]].byte_size == ONE_MIB


def test_a_declared_body_over_the_limit_is_413(ingest: httpx.Client, server: Server) -> None:
    before = everything_landed(server)
    response = ingest.post("/v1/dropzone", content=padded_payload(ONE_MIB + 1))
    assert (response.status_code, response.json()) == (
        413, {"detail": "request body larger than the limit of 1048576 bytes"})
    assert everything_landed(server) == before


def test_a_streamed_body_is_cut_off_at_the_limit(ingest: httpx.Client, server: Server) -> None:
    """Chunked transfer, no Content-Length: refused at the chunk that crosses the limit."""
    before = everything_landed(server)

    def chunks() -> Iterator[bytes]:
        yield VALID
        for _ in range(32):
            yield b" " * (64 * 1024)

    response = ingest.post("/v1/dropzone", content=chunks())
    assert (response.status_code, response.json()) == (
        413, {"detail": "request body larger than the limit of 1048576 bytes"})
    assert everything_landed(server) == before


# --- door checks

REJECTIONS = [
    (b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.5,',
     "malformed JSON: Expecting value: line 1 column 58 (char 57)"),
    (b"", "empty body: expected a JSON payload or an array of them"),
    (b"\xff\xfe{}", "body is not UTF-8 text: invalid start byte at byte 0"),
    (b'{"time_stamp": "2019-05-01T06:00:00", "data": [1.5]}',
     "time_stamp: no UTC offset in '2019-05-01T06:00:00'; offsets are required (for example "
     "2019-05-01T06:00:00Z, or 2019-05-01T06:00:00-04:00 for US/Eastern daylight time)"),
    (b'{"time_stamp": "2019-05-01 06:00", "data": [1.5]}',
     "time_stamp: not an ISO 8601 timestamp like 2019-05-01T06:00:00-04:00: '2019-05-01 06:00'"),
    (b'{"time_stamp": "2019-02-30T06:00:00Z", "data": [1.5]}',
     "time_stamp: not a valid date and time (day is out of range for month): "
     "'2019-02-30T06:00:00Z'"),
    (b'{"time_stamp": 1556704800, "data": [1.5]}', "time_stamp: expected a string, got a number"),
    (b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": []}',
     "data: empty array; a payload needs at least one value"),
    (b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": 1.5}',
     "data: expected an array of numbers, got a number"),
    (b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1.5, "2.5", null, true, [1]]}',
     "data[1]: not a number: '2.5'; data[2]: not a number: null; data[3]: not a number: true; "
     "data[4]: not a number: [1]"),
    (b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [NaN, Infinity, -Infinity, 1e400]}',
     "data[0]: not a finite number: NaN; data[1]: not a finite number: Infinity; "
     "data[2]: not a finite number: -Infinity; data[3]: not a finite number: 1e400"),
    (b"{}", "time_stamp: missing; data: missing"),
    (b"[]", "empty array: expected at least one payload"),
    (b"42", 'expected a payload {"time_stamp": ..., "data": [...]} or an array of them, '
            "got a number"),
    (b'[{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [1]}, '
     b'{"time_stamp": "2019-05-01T06:00:00-04:00", "data": [2, NaN]}, 7]',
     "item 1: data[1]: not a finite number: NaN; "
     'item 2: expected an object {"time_stamp": ..., "data": [...]}, got a number'),
]


@pytest.mark.parametrize(("body", "message"), REJECTIONS)
def test_a_rejected_body_gets_422_and_is_kept_raw_with_its_reason(
    ingest: httpx.Client, server: Server, body: bytes, message: str
) -> None:
    accepted_before = set(landed(server))
    response = ingest.post("/v1/dropzone", content=body)
    assert response.status_code == 422
    assert response.json()["detail"] == message
    kept = landed(server, "dropzone_rejected")[response.json()["rejected_landing_id"]]
    assert_landed_as_sent(kept, body)
    assert (kept.rejection, kept.sender) == (message, fingerprint(INGEST_KEY))
    assert set(landed(server)) == accepted_before


def test_a_multipart_body_without_the_upload_field_is_rejected(
    ingest: httpx.Client, server: Server
) -> None:
    response = ingest.post("/v1/dropzone", files={"other": ("file.json", FILE_JSON)})
    message = "multipart body without a 'file_upload' file field"
    assert (response.status_code, response.json()["detail"]) == (422, message)
    kept = landed(server, "dropzone_rejected")[response.json()["rejected_landing_id"]]
    assert kept.rejection == message
    assert re.fullmatch(r"dropzone_\d{8}T\d{6}\.\d{6}Z\.multipart", kept.original_name)
    # The whole multipart body is kept: the uploaded file is inside it.
    assert FILE_JSON in Path(kept.landing_path).read_bytes()


# --- the fixture payloads, end to end

def expected_receipts(sent: bytes) -> list[dict]:
    """What the 202 must say about each payload, read with the json module."""
    document = json.loads(sent)
    payloads = document if isinstance(document, list) else [document]
    return [{"time_stamp_utc": datetime.fromisoformat(p["time_stamp"]).astimezone(UTC)
             .strftime("%Y-%m-%dT%H:%M:%SZ"), "value_count": len(p["data"])} for p in payloads]


def curl(server: Server, *arguments: str) -> dict:
    result = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-H", f"Authorization: Bearer {INGEST_KEY}",
         "-w", "\n%{http_code}", *arguments, f"{server.url}/v1/dropzone"],
        cwd=DROPZONE, capture_output=True, check=True, text=True,
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "202", body
    return json.loads(body)


def test_curl_data_at_file_lands_the_raw_body(server: Server) -> None:
    answer = curl(server, "-d", "@file.json")
    found = landed(server)[answer["landing_id"]]
    assert_landed_as_sent(found, FILE_JSON)
    assert RAW_NAME.fullmatch(found.original_name)
    assert (found.source, found.sender, found.rejection) == (
        "dropzone", fingerprint(INGEST_KEY), None)
    assert answer["payloads"] == [{"time_stamp_utc": "2019-05-01T10:00:00Z", "value_count": 100}]
    assert answer["sha256"] == hashlib.sha256(FILE_JSON).hexdigest()
    assert (answer["byte_size"], answer["replayed"]) == (len(FILE_JSON), False)
    assert answer["received_at"] == found.received_at.isoformat().replace("+00:00", "Z")


def test_curl_form_upload_lands_the_file_under_its_name(server: Server) -> None:
    answer = curl(server, "-F", "file_upload=@file.json")
    found = landed(server)[answer["landing_id"]]
    assert_landed_as_sent(found, FILE_JSON)
    assert found.original_name == "file.json"
    assert answer["payloads"] == expected_receipts(FILE_JSON)


def test_an_array_lands_once_and_reports_each_payload(
    ingest: httpx.Client, server: Server
) -> None:
    sent = (DROPZONE / "ArrayOfObjects.json").read_bytes()
    response = ingest.post("/v1/dropzone", content=sent,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 202
    assert response.json()["payloads"] == [
        {"time_stamp_utc": "2019-05-04T10:00:00Z", "value_count": 100},
        {"time_stamp_utc": "2019-05-04T10:00:00Z", "value_count": 100},
    ]
    assert_landed_as_sent(landed(server)[response.json()["landing_id"]], sent)


@pytest.mark.parametrize("name", [f"file_{n}.json" for n in range(10)])
def test_every_fixture_payload_is_accepted_and_landed_as_sent(
    ingest: httpx.Client, server: Server, name: str
) -> None:
    sent = (DROPZONE / name).read_bytes()
    response = ingest.post("/v1/dropzone", files={"file_upload": (name, sent)})
    assert response.status_code == 202
    assert response.json()["payloads"] == expected_receipts(sent)
    found = landed(server)[response.json()["landing_id"]]
    assert_landed_as_sent(found, sent)
    assert found.original_name == name


# --- idempotency

def post_with_key(client: httpx.Client, body: bytes, key: str) -> httpx.Response:
    return client.post("/v1/dropzone", content=body, headers={"Idempotency-Key": key})


def test_a_retry_with_the_same_key_is_stored_once(ingest: httpx.Client, server: Server) -> None:
    before = set(landed(server))
    first = post_with_key(ingest, FILE_JSON, "retry-1")
    second = post_with_key(ingest, FILE_JSON, "retry-1")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {**first.json(), "replayed": True}
    assert (first.headers.get("idempotent-replayed"), second.headers["idempotent-replayed"]) == (
        None, "true")
    assert set(landed(server)) - before == {first.json()["landing_id"]}


def test_concurrent_retries_land_one_object(ingest: httpx.Client, server: Server) -> None:
    before = set(landed(server))
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: post_with_key(ingest, VALID, "race-1"), range(16)))
    ids = {r.json()["landing_id"] for r in responses}
    assert [r.status_code for r in responses] == [202] * 16
    assert len(ids) == 1
    assert set(landed(server)) - before == ids
    assert sum(not r.json()["replayed"] for r in responses) == 1


def test_the_same_key_with_another_body_is_refused(ingest: httpx.Client, server: Server) -> None:
    first = post_with_key(ingest, VALID, "reused-1")
    other = VALID.replace(b"1.5", b"2.5")
    second = post_with_key(ingest, other, "reused-1")
    assert (first.status_code, second.status_code) == (202, 422)
    message = (f"Idempotency-Key 'reused-1' was first used with another body (sha256 "
               f"{hashlib.sha256(VALID).hexdigest()}); use a new key for new content")
    assert second.json()["detail"] == message
    assert landed(server, "dropzone_rejected")[second.json()["rejected_landing_id"]].rejection \
        == message


def test_keys_are_scoped_per_api_key(server: Server) -> None:
    with server.client(INGEST_KEY) as one, server.client(OTHER_INGEST_KEY) as two:
        first = post_with_key(one, VALID, "shared-1")
        second = post_with_key(two, VALID, "shared-1")
    assert first.json()["landing_id"] != second.json()["landing_id"]
    assert second.json()["replayed"] is False


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "caf\u00e9"])
def test_an_invalid_idempotency_key_is_refused(ingest: httpx.Client, key: str) -> None:
    response = ingest.post("/v1/dropzone", content=VALID,
                           headers={"Idempotency-Key": key.encode("utf-8")})
    assert (response.status_code, response.json()["detail"]) == (
        422, "Idempotency-Key must be 1 to 255 visible ASCII characters")


def test_a_retry_completes_an_attempt_that_crashed_before_landing(
    ingest: httpx.Client, server: Server
) -> None:
    """The record is written before the bytes: a crash between the two leaves a record whose
    object is missing; the retry lands into the recorded slot and answers with its id."""
    slot = reserve_slot(server.landing_root, "dropzone", "dropzone_crashed.json")
    sender = fingerprint(INGEST_KEY)
    claim(record_path(server.landing_root, "dropzone", sender, "crashed-1"), IdempotencyRecord(
        hashlib.sha256(VALID).hexdigest(), slot.ingest_id, slot.received_at,
        str(slot.landing_path), "dropzone_crashed.json", sender))
    response = post_with_key(ingest, VALID, "crashed-1")
    assert (response.status_code, response.json()["landing_id"]) == (202, slot.ingest_id)
    found = landed(server)[slot.ingest_id]
    assert (found.landing_path, found.received_at) == (str(slot.landing_path), slot.received_at)
    assert_landed_as_sent(found, VALID)


def test_idempotency_survives_a_restart(server: Server) -> None:
    with server.client(INGEST_KEY) as client:
        first = post_with_key(client, VALID, "restart-1")
    with running_server(server.lake_root, workers=1) as restarted, \
            restarted.client(INGEST_KEY) as client:
        again = post_with_key(client, VALID, "restart-1")
    assert again.json() == {**first.json(), "replayed": True}


def test_an_unknown_query_parameter_is_refused_before_the_body_is_read(
    ingest: httpx.Client, server: Server
) -> None:
    before = everything_landed(server)
    response = ingest.post("/v1/dropzone", params={"source": "x"}, content=VALID)
    assert (response.status_code, response.json()) == (
        422, {"detail": "unknown query parameters ['source']; this route takes: none"})
    assert everything_landed(server) == before


def test_every_202_is_landed_even_when_the_server_is_killed_mid_load(tmp_path: Path) -> None:
    """SIGKILL of the (single-process) server while eight clients post: each 202 received
    before the kill names a complete object holding the bytes sent."""
    acknowledged: list[str] = []
    failures: list[str] = []

    def post_until_refused(client: httpx.Client) -> None:
        for _ in range(2000):
            try:
                response = client.post("/v1/dropzone", content=FILE_JSON)
            except httpx.TransportError as error:
                failures.append(type(error).__name__)
                return
            acknowledged.append(response.json()["landing_id"])

    with running_server(tmp_path / "lake", workers=1) as victim:
        clients = [victim.client(INGEST_KEY) for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            running = [pool.submit(post_until_refused, client) for client in clients]
            while len(acknowledged) < 200:
                time.sleep(0.01)
            os.kill(victim.pid, signal.SIGKILL)
            for future in running:
                future.result()
        for client in clients:
            client.close()
        kept = landed(victim)
    assert len(failures) == 8
    assert set(acknowledged) <= set(kept)
    for landing_id in acknowledged:
        assert_landed_as_sent(kept[landing_id], FILE_JSON)


def test_serve_refuses_to_start_without_api_keys(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text(f"lake_root: {tmp_path / 'lake'}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "METERLAKE_API_KEYS"}
    result = subprocess.run(
        [sys.executable, "-m", "meterlake.cli", "serve", "--conf", str(conf)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert (result.returncode, result.stderr) == (2, (
        "meterlake: error: METERLAKE_API_KEYS is empty: set comma-separated keys "
        "(key[:scope+...])\n"))
