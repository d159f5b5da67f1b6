"""Unit tests for landing bytes received over the network, and idempotency records."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from meterlake.receive.idempotency import IdempotencyRecord, claim, record_path
from meterlake.receive.landing import META_SUFFIX, LandedFile, land_bytes, list_landed, reserve_slot

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
    path = record_path(tmp_path, "dropzone", "key:abc", "k-1")
    proposals = [_record(tmp_path, f"{n:064x}") for n in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        held = list(pool.map(lambda proposal: claim(path, proposal), proposals))
    assert len(set(held)) == 1
    assert held[0] in proposals
    assert IdempotencyRecord.from_json(path.read_text(encoding="utf-8")) == held[0]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_records_are_scoped_by_sender_and_hashed(tmp_path: Path) -> None:
    one = record_path(tmp_path, "dropzone", "key:abc", "../../etc/passwd")
    two = record_path(tmp_path, "dropzone", "key:def", "../../etc/passwd")
    assert one != two
    assert one.parent.parent == tmp_path / "_idempotency" / "dropzone"
    assert len(one.stem) == 64 and one.parent.name == one.stem[:2]
