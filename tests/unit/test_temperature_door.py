"""Unit tests for the temperature API's door: a 200 whose body is a UTF-8 JSON array passes,
whatever its records hold; anything else is refused with a reason."""

from __future__ import annotations

import pytest

from meterlake.sources.temperatures.door import response_rejection
from tests.helpers.paths import FIXTURES

SAMPLE = FIXTURES / "temperature" / "mockaroo_sample_response_2019-04-26.json"


def test_the_captured_response_is_accepted() -> None:
    assert response_rejection(200, SAMPLE.read_bytes()) is None


@pytest.mark.parametrize("body", [
    b"[]",
    # Records are the Spark job's business: bad ones are quarantined there, not here.
    b'[{"id": 1, "lat": 95.0, "temperature": "n/a"}, null, 12, NaN]',
    b'[' + b"9" * 5000 + b"]",
    b'  [{"country": "Fran\xc3\xa7e"}]\n',
])
def test_any_json_array_is_accepted(body: bytes) -> None:
    assert response_rejection(200, body) is None


@pytest.mark.parametrize(("status", "body", "reason"), [
    (500, b'{"error": "internal server error"}', "HTTP 500"),
    (401, b"[]", "HTTP 401"),
    (204, b"", "HTTP 204"),
    (200, b'{"records": []}', "not a JSON array: an object"),
    (200, b'"[]"', "not a JSON array: a string"),
    (200, b"42", "not a JSON array: a number"),
    (200, b"null", "not a JSON array: null"),
    (200, b"true", "not a JSON array: a boolean"),
    (200, b"", "not JSON: Expecting value: line 1 column 1 (char 0)"),
    (200, b"<html>Bad Gateway</html>", "not JSON: Expecting value: line 1 column 1 (char 0)"),
    (200, b'[{"id": "a"},\n {"id": ', "not JSON: Expecting value: line 2 column 9 (char 22)"),
    (200, b"[] []", "not JSON: Extra data: line 1 column 4 (char 3)"),
    (200, b"[" * 100_000, "not JSON: nested too deeply"),
    (200, b'[{"country": "Fran\xe7e"}]',
     "not UTF-8 text: invalid continuation byte at byte 18"),
])
def test_other_responses_are_refused_with_their_reason(
    status: int, body: bytes, reason: str
) -> None:
    assert response_rejection(status, body) == reason
