"""Unit tests of the HTTP service's pure parts: API keys and downsampling (no server, no lake)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from meterlake.receive.http_auth import SCOPES, ApiKey, find_key, parse_api_keys
from meterlake.receive.http_ingest import http_settings_from_env
from meterlake.serve.delta_reads import bucket_micros, downsample, jsonable


def test_keys_without_scopes_have_all_and_scopes_are_plus_separated() -> None:
    keys = parse_api_keys(" alpha , beta:ingest, gamma:ingest+read,,")
    assert keys == (
        ApiKey(b"alpha", SCOPES),
        ApiKey(b"beta", frozenset({"ingest"})),
        ApiKey(b"gamma", frozenset({"ingest", "read"})),
    )


def test_an_unknown_scope_is_refused_without_showing_the_key() -> None:
    with pytest.raises(ValueError, match=r"unknown scopes \['admin'\]") as raised:
        parse_api_keys("secret-key:ingest+admin")
    assert "secret-key" not in str(raised.value)


def test_find_key_matches_whole_keys_only() -> None:
    keys = parse_api_keys("alpha:read,alphabet:ingest")
    assert find_key(keys, "alphabet") == ApiKey(b"alphabet", frozenset({"ingest"}))
    assert find_key(keys, "alpha") == ApiKey(b"alpha", frozenset({"read"}))
    assert find_key(keys, "alph") is None
    assert find_key(keys, "") is None


def test_the_fingerprint_is_a_short_hash() -> None:
    assert ApiKey(b"alpha", SCOPES).fingerprint == (
        "key:" + hashlib.sha256(b"alpha").hexdigest()[:12])


def test_settings_need_keys_and_default_to_a_one_mib_limit(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text(f"lake_root: {tmp_path / 'lake'}\n", encoding="utf-8")
    env = {"METERLAKE_CONF": str(conf), "METERLAKE_API_KEYS": "k"}
    settings = http_settings_from_env(env)
    assert (settings.max_body_bytes, settings.landing_root) == (
        1048576, str(tmp_path / "lake" / "landing"))
    with pytest.raises(ValueError, match="METERLAKE_API_KEYS is empty"):
        http_settings_from_env({**env, "METERLAKE_API_KEYS": " , "})
    with pytest.raises(ValueError, match="METERLAKE_MAX_BODY_BYTES must be a positive integer"):
        http_settings_from_env({**env, "METERLAKE_MAX_BODY_BYTES": "0"})


@pytest.mark.parametrize(("span_minutes", "points", "bucket_seconds"), [
    (24 * 60, 24, 3600),      # a day in 24 points: hours
    (24 * 60, 1000, 87),      # 86.4 s rounds up to whole seconds: 994 buckets
    (15, 1, 900),
    (0, 5, 1),                # an empty span still has a positive width
])
def test_bucket_width_is_whole_seconds_and_never_more_buckets(
    span_minutes: int, points: int, bucket_seconds: int
) -> None:
    width = bucket_micros(span_minutes * 60_000_000, points)
    assert width == bucket_seconds * 1_000_000
    assert -(-span_minutes * 60_000_000 // width) <= points


def test_downsample_averages_each_bucket_and_skips_empty_ones() -> None:
    start = datetime(2020, 6, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=m) for m in (0, 15, 30, 45, 120, 135)]
    readings = pa.table({
        "interval_start": pa.array(times, pa.timestamp("us", tz="UTC")),
        "value": [1.0, 2.0, 3.0, 6.0, 10.0, 0.5],
    })
    hourly = downsample(readings, start, 3_600_000_000)
    assert hourly.to_pylist() == [
        {"bucket_start": start, "value": 3.0, "readings": 4},
        {"bucket_start": start + timedelta(hours=2), "value": 5.25, "readings": 2},
    ]


def test_jsonable_makes_utc_text_and_nulls_for_non_finite() -> None:
    eastern_daylight = datetime(2019, 5, 1, 6, tzinfo=timezone(timedelta(hours=-4)))
    assert jsonable({"at": eastern_daylight, "x": float("nan"), "y": [float("inf"), 1.5]}) == {
        "at": "2019-05-01T10:00:00Z", "x": None, "y": [None, 1.5]}
