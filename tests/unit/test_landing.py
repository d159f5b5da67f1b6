"""Unit tests for meterlake.receive.landing: bytes kept exactly, metadata, order, path expansion."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from meterlake.receive.landing import META_SUFFIX, LandedFile, expand_paths, land_file, list_landed

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


def test_received_at_strictly_increases_in_utc(tmp_path: Path) -> None:
    original = _original(tmp_path, "drop.csv")
    received = [land_file(tmp_path / "landing", SOURCE, original).received_at for _ in range(5)]
    assert all(earlier < later for earlier, later in zip(received, received[1:], strict=False))
    assert all(r.utcoffset() == timedelta(0) for r in received)
    assert all(r.tzinfo is UTC for r in received)


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
