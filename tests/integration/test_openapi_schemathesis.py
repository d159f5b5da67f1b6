"""A property-based run of /openapi.json against the live server (schemathesis): generated valid
and invalid requests for every operation; no 5xx, and every answer matches the documented
status codes, content types and schemas. Bounded: a few dozen examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import schemathesis
from deltalake import write_deltalake
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.helpers.http_server import ALL_KEY, Server, running_server

_UTC_MICROS = pa.timestamp("us", tz="UTC")
MAX_EXAMPLES = 50


def write_tiny_lake(root: Path) -> None:
    """A few rows in each table the read API serves, written with delta-rs (no Spark needed
    here: the contract of these tables is tested elsewhere)."""
    at = datetime(2020, 6, 1, tzinfo=UTC)
    write_deltalake(str(root / "silver" / "meter_readings"), pa.table({
        "meter_id": ["m1", "m1", "m2"],
        "interval_start": pa.array([at, at.replace(minute=15), at], _UTC_MICROS),
        "interval_date": [date(2020, 6, 1)] * 3,
        "value": [1.5, 2.5, 3.0], "unit": ["Wh"] * 3, "commodity": ["electricity"] * 3,
        "interval_minutes": pa.array([15] * 3, pa.int32()), "source": ["utility_drops"] * 3,
        "version_count": [1, 1, 2],
    }), partition_by=["interval_date"])
    write_deltalake(str(root / "ops" / "ingest_log"), pa.table({
        "received_at": pa.array([at], _UTC_MICROS), "source": ["utility_drops"],
        "original_name": ["a.csv"], "outcome": ["loaded"], "reason": pa.array([None], pa.string()),
        "rows_loaded": [3], "rows_quarantined": [0], "byte_size": [100], "sha256": ["0" * 64],
        "ingest_id": ["1" * 32], "duplicate_of": pa.array([None], pa.string()),
    }))
    write_deltalake(str(root / "silver" / "dropzone_measurements"), pa.table({
        "time_stamp_utc": pa.array([at], _UTC_MICROS), "payload_count": [1], "value_count": [2],
        "mean": [1.0], "std": [float("nan")], "sum": [2.0], "sum_squares": [2.0],
        "_ingest_id": ["2" * 32], "_received_at": pa.array([at], _UTC_MICROS),
    }))


@pytest.fixture(scope="session")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("schemathesis") / "lake"
    write_tiny_lake(root)
    with running_server(root) as started:
        yield started


@pytest.fixture(scope="session")
def api_schema(fuzzed_server: Server) -> schemathesis.BaseSchema:
    # The key goes through the documented security scheme, so schemathesis can also send
    # requests without it and expect a 401. Positive-data acceptance is off: JSON Schema cannot
    # say "a real calendar date" or "start before end", and the server answers those with a
    # 422 that names the problem (tested in test_http_ingest and test_read_api).
    config = SchemathesisConfig.from_dict({
        "auth": {"openapi": {"HTTPBearer": {"bearer": ALL_KEY}}},
        "checks": {"positive_data_acceptance": {"enabled": False}},
    })
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json", config=config)


OPERATIONS = [
    ("POST", "/v1/dropzone"), ("GET", "/healthz"), ("GET", "/v1/meters/count"),
    ("GET", "/v1/meters/{meter_id}/readings"), ("GET", "/v1/files"), ("GET", "/v1/files/last"),
    ("GET", "/v1/dropzone/stats"), ("GET", "/v1/settlements"), ("GET", "/v1/catalog"),
    ("GET", "/v1/sensors"), ("GET", "/v1/sensors/{sensor_id}/readings"),
]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


def test_the_operations_listed_here_are_all_the_documented_ones(
    api_schema: schemathesis.BaseSchema,
) -> None:
    documented = [result.ok() for result in api_schema.get_all_operations()]
    assert sorted((o.method.upper(), o.path) for o in documented) == sorted(OPERATIONS)


# schemathesis's own pytest integration (`schema.parametrize()` on a lazy fixture) reads
# `node._nodeid`, which pytest 9 no longer has; driving each operation's strategy with
# Hypothesis directly runs the same generation and checks.
@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), [
    (method, path, mode) for method, path in OPERATIONS for mode in MODES
    # /healthz takes no input: there is no invalid request to generate for it.
    if (path, mode) != ("/healthz", schemathesis.GenerationMode.NEGATIVE)
])
def test_the_live_api_conforms_to_its_openapi_document(
    api_schema: schemathesis.BaseSchema, method: str, path: str,
    mode: schemathesis.GenerationMode,
) -> None:
    operation = api_schema[path][method]
    statuses: list[int] = []

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        statuses.append(case.call_and_validate().status_code)

    call()
    if mode is schemathesis.GenerationMode.POSITIVE:
        # Valid input must reach the route's logic, not only its error paths.
        assert set(statuses) - {401, 403, 422}, statuses
