"""Unit tests for meterlake.receive.landing: bytes kept exactly, metadata, order, path expansion,
and the same interface on object storage (the exact S3 requests, stubbed)."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from meterlake.core.object_store import ObjectStoreError
from meterlake.receive.landing import (
    ARRIVAL_CLOCK,
    META_SUFFIX,
    ArrivalClock,
    LandedFile,
    expand_paths,
    is_landed,
    land_bytes,
    land_file,
    list_landed,
    read_landed,
    read_landed_bytes,
    reserve_slot,
)
from meterlake.receive.object_landing import ObjectLanding
from tests.helpers.s3_stub import KEY_ID, STORE, stubbed_landing_client

SOURCE = "utility_drops"
# CRLF, a BOM, a NUL and a non-UTF-8 byte: landing must not touch any of them.
RAW = b"\xef\xbb\xbf,meter_id,interval_date_time,energy_wh\r\n0,m\x00,x,\xff\n"
LANDED_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z_[0-9a-f]{32}_(?P<name>.+)$")


def _original(tmp_path: Path, name: str, content: bytes = RAW) -> Path:
    path = tmp_path / "outbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_land_file_copies_bytes_and_records_hash_and_size(tmp_path: Path) -> None:
    landed = land_file(tmp_path / "landing", SOURCE, _original(tmp_path, "drop.csv"), "ftp")
    assert Path(landed.landing_path).read_bytes() == RAW
    assert landed.sha256 == hashlib.sha256(RAW).hexdigest()
    assert landed.byte_size == len(RAW)
    assert (landed.source, landed.original_name, landed.sender) == (SOURCE, "drop.csv", "ftp")


def test_land_file_lays_out_by_received_date(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landed = land_file(landing, SOURCE, _original(tmp_path, "drop 1 (copy).csv"))
    path = Path(landed.landing_path)
    stamp = landed.received_at.strftime("%Y%m%dT%H%M%S.%fZ")
    assert path.parent == landing / SOURCE / landed.received_at.strftime("%Y/%m/%d")
    assert path.name == f"{stamp}_{landed.ingest_id}_drop_1__copy_.csv"
    assert LANDED_NAME.fullmatch(path.name)
    assert landed.original_name == "drop 1 (copy).csv"


def test_metadata_beside_the_file_round_trips(tmp_path: Path) -> None:
    landed = land_file(tmp_path / "landing", SOURCE, _original(tmp_path, "drop.csv"))
    meta = Path(landed.landing_path + META_SUFFIX)
    assert LandedFile.from_json(meta.read_text(encoding="utf-8")) == landed
    assert LandedFile.from_json(landed.to_json()) == landed


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    landed = land_file(tmp_path / "landing", SOURCE, _original(tmp_path, "drop.csv"))
    directory = Path(landed.landing_path).parent
    name = Path(landed.landing_path).name
    assert sorted(p.name for p in directory.iterdir()) == [name, name + META_SUFFIX]


def test_empty_file_lands_with_the_empty_hash(tmp_path: Path) -> None:
    landed = land_file(tmp_path / "landing", SOURCE, _original(tmp_path, "empty.csv", b""))
    assert Path(landed.landing_path).read_bytes() == b""
    assert (landed.sha256, landed.byte_size) == (hashlib.sha256(b"").hexdigest(), 0)


def test_received_at_strictly_increases_in_utc_whole_milliseconds(tmp_path: Path) -> None:
    original = _original(tmp_path, "drop.csv")
    received = [land_file(tmp_path / "landing", SOURCE, original).received_at for _ in range(5)]
    assert all(earlier < later for earlier, later in zip(received, received[1:], strict=False))
    assert all(r.utcoffset() == timedelta(0) for r in received)
    assert all(r.tzinfo is UTC for r in received)
    assert [r.microsecond % 1000 for r in received] == [0] * 5


def test_the_arrival_clock_rounds_up_to_the_millisecond_and_never_repeats() -> None:
    walls = iter([
        datetime(2020, 6, 1, 12, 0, 0, 123_400, tzinfo=UTC),  # -> .124: never before it began
        datetime(2020, 6, 1, 12, 0, 0, 123_900, tzinfo=UTC),  # same millisecond -> .125
        datetime(2020, 6, 1, 12, 0, 0, 200_000, tzinfo=UTC),  # a whole millisecond stays
        datetime(2020, 6, 1, 11, 59, 59, tzinfo=UTC),  # the wall clock stepped back -> .201
    ])
    clock = ArrivalClock(wall=lambda: next(walls))
    assert [clock.now().microsecond for _ in range(4)] == [124_000, 125_000, 200_000, 201_000]


def test_arrivals_in_one_millisecond_are_a_millisecond_apart() -> None:
    # Far faster than the wall clock's milliseconds: each arrival still gets its own, later
    # one (the clock runs a few milliseconds ahead, then the wall clock catches up).
    arrivals = [ARRIVAL_CLOCK.now() for _ in range(20)]
    steps = {later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)}
    assert min(steps) >= timedelta(milliseconds=1)
    assert all(a.microsecond % 1000 == 0 and a.tzinfo is UTC for a in arrivals)


def test_list_landed_returns_arrival_order_and_skips_unfinished(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landed = [land_file(landing, SOURCE, _original(tmp_path, name)) for name in ("c", "a", "b")]
    directory = Path(landed[0].landing_path).parent
    # A crash between the data rename and the metadata rename leaves a data file alone.
    (directory / "20000101T000000.000000Z_deadbeef_crashed.csv").write_bytes(RAW)
    (directory / f".half{META_SUFFIX}").write_text(landed[0].to_json(), encoding="utf-8")
    assert list_landed(landing, SOURCE) == landed


def test_list_landed_of_an_unknown_source_is_empty(tmp_path: Path) -> None:
    land_file(tmp_path / "landing", SOURCE, _original(tmp_path, "drop.csv"))
    assert list_landed(tmp_path / "landing", "other_source") == []
    assert list_landed(tmp_path / "nowhere", SOURCE) == []


def test_expand_paths_keeps_the_order_of_files(tmp_path: Path) -> None:
    b, a = _original(tmp_path, "b.csv"), _original(tmp_path, "a.csv")
    assert expand_paths([b, a]) == [b, a]


def test_expand_paths_lists_a_directory_in_name_order(tmp_path: Path) -> None:
    directory = tmp_path / "drops"
    (directory / "sub").mkdir(parents=True)
    for name in ("2.csv", "10.csv", ".hidden.csv", "a.csv"):
        (directory / name).write_bytes(b"x")
    single = _original(tmp_path, "z.csv")
    assert expand_paths([single, directory]) == [
        single, directory / "10.csv", directory / "2.csv", directory / "a.csv"
    ]


def test_expand_paths_names_a_missing_path(tmp_path: Path) -> None:
    present = _original(tmp_path, "a.csv")
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        expand_paths([present, missing])


# --- the same interface on object storage (botocore's Stubber: the exact requests, no server)

BUCKET_ROOT = "s3a://bucket/landing"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    with stubbed_landing_client(monkeypatch) as stubber:
        yield stubber


def _key(url: str) -> str:
    return url.removeprefix("s3a://bucket/")


def _expect_put(s3: Stubber, key: str, body: Any, metadata: dict[str, str]) -> None:
    s3.add_response("put_object", {}, {"Bucket": "bucket", "Key": key, "Body": body,
                                       "IfNoneMatch": "*", "Metadata": metadata})


def _expect_412(s3: Stubber, method: str = "put_object") -> None:
    s3.add_client_error(method, "PreconditionFailed", http_status_code=412)


def test_landing_on_object_storage_puts_data_then_metadata_conditionally(s3: Stubber) -> None:
    slot = reserve_slot(BUCKET_ROOT, SOURCE, "drop 1.csv")
    day = slot.received_at.strftime("%Y/%m/%d")
    assert slot.landing_path == (f"{BUCKET_ROOT}/{SOURCE}/{day}/"
                                 f"{slot.received_at:%Y%m%dT%H%M%S.%fZ}_{slot.ingest_id}_drop_1.csv")
    sha256 = hashlib.sha256(RAW).hexdigest()
    _expect_put(s3, _key(slot.landing_path), RAW, {"sha256": sha256})
    _expect_put(s3, _key(slot.landing_path) + META_SUFFIX, ANY, {})
    landed = land_bytes(BUCKET_ROOT, SOURCE, "drop 1.csv", RAW, "ftp", slot=slot,
                        object_store=STORE)
    assert landed == LandedFile(slot.ingest_id, SOURCE, "drop 1.csv", slot.landing_path,
                                slot.received_at, sha256, len(RAW), "ftp")


def test_a_second_landing_into_a_slot_keeps_the_first_objects(s3: Stubber) -> None:
    slot = reserve_slot(BUCKET_ROOT, SOURCE, "a.csv")
    first = LandedFile(slot.ingest_id, SOURCE, "a.csv", slot.landing_path, slot.received_at,
                       hashlib.sha256(RAW).hexdigest(), len(RAW), "first sender")
    _expect_412(s3)
    s3.add_response("head_object", {"Metadata": {"sha256": first.sha256}},
                    {"Bucket": "bucket", "Key": _key(slot.landing_path)})
    _expect_412(s3)
    s3.add_response("get_object", {"Body": StreamingBody(io.BytesIO(first.to_json().encode()),
                                                         len(first.to_json()))},
                    {"Bucket": "bucket", "Key": _key(slot.landing_path) + META_SUFFIX})
    again = land_bytes(BUCKET_ROOT, SOURCE, "a.csv", RAW, "second sender", slot=slot,
                       object_store=STORE)
    assert again == first


def test_other_bytes_into_a_landed_slot_are_refused(s3: Stubber) -> None:
    slot = reserve_slot(BUCKET_ROOT, SOURCE, "a.csv")
    _expect_412(s3)
    s3.add_response("head_object", {"Metadata": {"sha256": "0" * 64}},
                    {"Bucket": "bucket", "Key": _key(slot.landing_path)})
    with pytest.raises(ObjectStoreError) as refused:
        land_bytes(BUCKET_ROOT, SOURCE, "a.csv", RAW, slot=slot, object_store=STORE)
    assert str(refused.value) == (f"{slot.landing_path}: already holds other bytes (sha256 "
                                  f"{'0' * 64}); a landed object is never overwritten")


def _multipart(threshold: int, part: int) -> ObjectLanding:
    return ObjectLanding(STORE, multipart_threshold_bytes=threshold, part_bytes=part)


def test_large_objects_go_up_in_parts_completed_conditionally(
    s3: Stubber, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes: parts of 4096, 4096 and 2048
    slot = reserve_slot(BUCKET_ROOT, SOURCE, "big.csv")
    key = _key(slot.landing_path)
    where = {"Bucket": "bucket", "Key": key}
    s3.add_client_error("head_object", "404", http_status_code=404, expected_params=where)
    s3.add_response("create_multipart_upload", {"UploadId": "u-1"},
                    {**where, "Metadata": {"sha256": hashlib.sha256(data).hexdigest()}})
    for number, start in enumerate((0, 4096, 8192), start=1):
        s3.add_response("upload_part", {"ETag": f'"e{number}"'},
                        {**where, "UploadId": "u-1", "PartNumber": number,
                         "Body": data[start:start + 4096]})
    parts = [{"ETag": f'"e{n}"', "PartNumber": n} for n in (1, 2, 3)]
    s3.add_response("complete_multipart_upload", {},
                    {**where, "UploadId": "u-1", "MultipartUpload": {"Parts": parts},
                     "IfNoneMatch": "*"})
    _expect_put(s3, key + META_SUFFIX, ANY, {})
    landed = land_bytes(BUCKET_ROOT, SOURCE, "big.csv", data, slot=slot,
                        object_store=_multipart(8192, 4096))
    assert (landed.byte_size, landed.sha256) == (10240, hashlib.sha256(data).hexdigest())


def test_a_failed_part_aborts_the_upload_and_lands_nothing(s3: Stubber) -> None:
    data = b"x" * 10
    slot = reserve_slot(BUCKET_ROOT, SOURCE, "big.csv")
    where = {"Bucket": "bucket", "Key": _key(slot.landing_path)}
    s3.add_client_error("head_object", "404", http_status_code=404)
    s3.add_response("create_multipart_upload", {"UploadId": "u-2"})
    s3.add_response("upload_part", {"ETag": '"e1"'})
    s3.add_client_error("upload_part", "InternalError", http_status_code=500)
    s3.add_response("abort_multipart_upload", {}, {**where, "UploadId": "u-2"})
    with pytest.raises(ObjectStoreError) as failed:
        land_bytes(BUCKET_ROOT, SOURCE, "big.csv", data, slot=slot,
                   object_store=_multipart(4, 6))
    assert str(failed.value) == f"{slot.landing_path}: InternalError (HTTP 500) as {KEY_ID}"


def test_an_object_is_landed_once_its_metadata_exists(s3: Stubber) -> None:
    path = f"{BUCKET_ROOT}/{SOURCE}/2026/01/02/x.csv"
    s3.add_client_error("head_object", "404", http_status_code=404,
                        expected_params={"Bucket": "bucket", "Key": _key(path) + META_SUFFIX})
    s3.add_response("head_object", {}, {"Bucket": "bucket", "Key": _key(path) + META_SUFFIX})
    assert [is_landed(path, object_store=STORE), is_landed(path, object_store=STORE)] == [
        False, True]


def _landed_at(second: int, name: str) -> LandedFile:
    received = datetime(2026, 1, 2, 3, 4, second, tzinfo=UTC)
    return LandedFile(f"{second:032x}", SOURCE, name, f"{BUCKET_ROOT}/{SOURCE}/2026/01/02/{name}",
                      received, "0" * 64, 1, None)


def test_list_landed_on_object_storage_reads_only_metadata_in_arrival_order(
    s3: Stubber
) -> None:
    late, early = _landed_at(9, "late.csv"), _landed_at(1, "early.csv")
    keys = [_key(f.landing_path) for f in (late, early)]
    contents = [{"Key": key} for key in
                (keys[0], keys[0] + META_SUFFIX, keys[1] + META_SUFFIX,
                 f"landing/{SOURCE}/2026/01/02/.half{META_SUFFIX}")]
    s3.add_response("list_objects_v2", {"Contents": contents, "IsTruncated": False},
                    {"Bucket": "bucket", "Prefix": f"landing/{SOURCE}/"})
    for landed in (late, early):
        text = landed.to_json().encode()
        s3.add_response("get_object", {"Body": StreamingBody(io.BytesIO(text), len(text))})
    assert list_landed(BUCKET_ROOT, SOURCE, object_store=STORE) == [early, late]


def test_object_store_errors_name_the_url_and_the_key_id(s3: Stubber) -> None:
    s3.add_client_error("list_objects_v2", "NoSuchBucket", http_status_code=404)
    s3.add_client_error("get_object", "SignatureDoesNotMatch", http_status_code=403)
    with pytest.raises(ObjectStoreError) as missing:
        list_landed(BUCKET_ROOT, SOURCE, object_store=STORE)
    with pytest.raises(ObjectStoreError) as wrong_secret:
        read_landed_bytes(f"{BUCKET_ROOT}/x.csv", object_store=STORE)
    assert [str(missing.value), str(wrong_secret.value)] == [
        f"{BUCKET_ROOT}/{SOURCE}: the bucket does not exist as {KEY_ID}",
        f"{BUCKET_ROOT}/x.csv: the secret key is wrong as {KEY_ID}",
    ]


def test_an_object_store_landing_root_needs_its_settings() -> None:
    with pytest.raises(ObjectStoreError, match=re.escape(
            f"{BUCKET_ROOT}/{SOURCE}: no object store settings were given")):
        list_landed(BUCKET_ROOT, SOURCE)


def test_read_landed_reads_back_bytes_and_metadata_locally(tmp_path: Path) -> None:
    landed = land_file(tmp_path / "landing", SOURCE, _original(tmp_path, "drop.csv"))
    assert read_landed_bytes(landed.landing_path) == RAW
    assert read_landed(landed.landing_path) == landed
    assert is_landed(landed.landing_path) and not is_landed(landed.landing_path + ".x")
