"""The dashboard's pure parts: session tokens, the bucket ladder and alignment, the assembly of
buckets into chart series, its configuration and the charting library's integrity check."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from meterlake.core.config import ConfigError, DashboardSettings, settings_from_mapping
from meterlake.receive.http_auth import parse_api_keys
from meterlake.serve import sessions
from meterlake.serve.assets import tarball_integrity
from meterlake.serve.usage_series import aligned_range, assemble, bucket_minutes

KEYS = parse_api_keys("reader:read,feeder:ingest,both")
SECRET = b"unit-test-secret"
NOW = 1_800_000_000.0


def test_a_session_of_a_read_key_verifies_until_it_expires() -> None:
    token = sessions.issue(SECRET, KEYS[0], 3600, now=NOW)
    assert sessions.verify(SECRET, token, KEYS, now=NOW + 3599) == sessions.Session(
        KEYS[0].fingerprint, int(NOW) + 3600)
    assert sessions.verify(SECRET, token, KEYS, now=NOW + 3600) is None


@pytest.mark.parametrize("case", ["other secret", "tampered", "key removed", "ingest only",
                                  "no dot", "empty"])
def test_a_session_is_refused(case: str) -> None:
    reader, feeder = KEYS[0], KEYS[1]
    token = sessions.issue(SECRET, feeder if case == "ingest only" else reader, 3600, now=NOW)
    secret, keys = SECRET, KEYS
    if case == "other secret":
        secret = b"another"
    elif case == "tampered":
        payload, signature = token.split(".")
        token = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    elif case == "key removed":
        keys = KEYS[1:]
    elif case == "no dot":
        token = token.replace(".", "")
    elif case == "empty":
        token = ""
    assert sessions.verify(secret, token, keys, now=NOW) is None


def test_session_secret_comes_from_the_environment_or_is_random() -> None:
    assert sessions.session_secret({sessions.SECRET_VARIABLE: "pinned"}) == b"pinned"
    assert sessions.session_secret({}) != sessions.session_secret({})


@pytest.mark.parametrize(("span", "points", "minutes"), [
    (timedelta(days=1), 1000, 15),         # 96 readings: drawn as they are
    (timedelta(days=1), 50, 30),
    (timedelta(days=30), 1000, 60),        # 2,880 quarter-hours -> 720 hours
    (timedelta(days=365), 1000, 720),      # 35,040 -> 730 buckets of 12 h
    (timedelta(days=365), 390, 1440),      # a phone: one bucket a day
    (timedelta(days=365 * 30), 1000, 20160),  # past the ladder: whole weeks
])
def test_the_bucket_is_the_narrowest_that_fits_the_pixels(
    span: timedelta, points: int, minutes: int
) -> None:
    assert bucket_minutes(span, points) == minutes
    assert span / timedelta(minutes=minutes) <= points


def test_ranges_widen_to_whole_buckets_from_the_epoch() -> None:
    start = datetime(2020, 6, 3, 13, 7, tzinfo=UTC)
    end = datetime(2020, 6, 4, 0, 0, 1, tzinfo=UTC)
    assert aligned_range(start, end, 720) == (datetime(2020, 6, 3, 12, tzinfo=UTC),
                                              datetime(2020, 6, 4, 12, tzinfo=UTC))
    assert aligned_range(start, end, 15) == (datetime(2020, 6, 3, 13, tzinfo=UTC),
                                             datetime(2020, 6, 4, 0, 15, tzinfo=UTC))


def test_assemble_fills_every_bucket_and_leaves_gaps_null() -> None:
    first = datetime(2020, 6, 3, tzinfo=UTC)
    summary = pa.table({
        "meter_id": ["A", "A", "B"], "bucket": [0, 2, 1], "intervals": [4, 4, 4],
        "missing": [1, 4, 0], "sum": [30.0, None, 8.0], "min": [5.0, None, 1.0],
        "max": [15.0, None, 3.0]})
    found = assemble(summary, ["B", "A"], first, first + timedelta(hours=3), 60, "test")
    assert found.times == [first, first + timedelta(hours=1), first + timedelta(hours=2)]
    b, a = found.meters
    assert (a.meter_id, a.mean, a.low, a.high, a.intervals, a.missing) == (
        "A", [10.0, None, None], [5.0, None, None], [15.0, None, None], [4, 0, 4], [1, 0, 4])
    assert (b.meter_id, b.mean, b.low, b.high) == ("B", [None, 2.0, None], [None, 1.0, None],
                                                   [None, 3.0, None])


def test_dashboard_settings_default_and_validate() -> None:
    assert settings_from_mapping({"lake_root": "/l"}).dashboard == DashboardSettings("UTC", 8)
    chosen = settings_from_mapping({"lake_root": "/l", "dashboard": {
        "time_zone": "Europe/Paris", "session_hours": 12}})
    assert chosen.dashboard == DashboardSettings("Europe/Paris", 12)
    with pytest.raises(ConfigError, match="'dashboard.time_zone' is not a known time zone: "
                                          "'Mars/Base'"):
        settings_from_mapping({"lake_root": "/l", "dashboard": {"time_zone": "Mars/Base"}})
    with pytest.raises(ConfigError, match="'dashboard.session_hours' must be 1 to 720, got 0"):
        settings_from_mapping({"lake_root": "/l", "dashboard": {"session_hours": 0}})


def test_tarball_integrity_is_npms_sha512_in_base64(tmp_path: Path) -> None:
    tarball = tmp_path / "x.tgz"
    tarball.write_bytes(b"abc")
    # FIPS 180-2's test vector for SHA-512("abc"); npm writes the digest base64-encoded.
    digest = bytes.fromhex(
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    assert tarball_integrity(tarball) == "sha512-" + base64.b64encode(digest).decode()


def test_the_dashboards_table_names_and_bronze_columns_match_the_contracts() -> None:
    from meterlake.gold.meter_intervals import GOLD_METER_INTERVALS_15MIN
    from meterlake.gold.meter_usage_hourly import GOLD_METER_USAGE_HOURLY
    from meterlake.gold.settlement.tables import GOLD_SETTLEMENT_LINES, GOLD_SETTLEMENT_SUMMARY
    from meterlake.quality.expectations import DQ_RESULTS
    from meterlake.quality.quarantine import QUARANTINE
    from meterlake.serve import dashboard_reads as dreads
    from meterlake.sources.registry import METER_SOURCES

    for ref, contract in ((dreads.GOLD_METER_INTERVALS, GOLD_METER_INTERVALS_15MIN),
                          (dreads.GOLD_METER_USAGE_HOURLY, GOLD_METER_USAGE_HOURLY),
                          (dreads.GOLD_SETTLEMENT_LINES, GOLD_SETTLEMENT_LINES),
                          (dreads.GOLD_SETTLEMENT_SUMMARY, GOLD_SETTLEMENT_SUMMARY),
                          (dreads.QUARANTINE, QUARANTINE), (dreads.DQ_RESULTS, DQ_RESULTS)):
        assert ref.path("/lake") == contract.path("/lake")
    assert [(b.source, b.ref.path("/lake"), b.value_column, b.ordering)
            for b in dreads.BRONZE_METER_TABLES] == [
        (s.name, s.bronze.path("/lake"), s.value_column, s.bronze.ordering)
        for s in METER_SOURCES]
