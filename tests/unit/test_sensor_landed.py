"""Unit tests for the sensor source's landed batch format and its payload check: the captured
messages pass, every way a payload breaks the contract has its sentence, a batch encodes to
exact bytes and decodes back, and a damaged batch is an error naming the object, line and
field."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from meterlake.sources.sensors.landed import (
    LandedBatchError,
    ReceivedMessage,
    batch_name,
    check_payload,
    decode_batch,
    encode_batch,
)
from tests.helpers.paths import FIXTURES

CAPTURED = sorted((FIXTURES / "iot").glob("2025-11-12_Sensor_*.jsonl"))
AT = datetime(2025, 11, 12, 8, 32, 34, 162000, tzinfo=UTC)
VALID = b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162", "value": 21.5}'


def _message(payload: bytes = VALID, **changes: object) -> ReceivedMessage:
    fields: dict[str, object] = {"topic": "sensors", "payload": payload, "received_at": AT,
                                 "qos": 1, "mid": 7, "retain": False, "dup": False}
    fields.update(changes)
    return ReceivedMessage.checked(**fields)  # type: ignore[arg-type]


def test_every_captured_message_is_valid() -> None:
    lines = [line for path in CAPTURED for line in path.read_bytes().splitlines()]
    assert (len(CAPTURED), len(lines)) == (2, 62820)
    assert {check_payload(line) for line in lines} == {None}


@pytest.mark.parametrize("payload", [
    b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162205", "value": 2}',
    b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": -0.5}',
    b'{"value": 1e300, "dt": "2025-11-12T08:32:34.1", "id": "S"}',
    b' {"id": "x", "dt": "2024-02-29T23:59:59.999999", "value": 0}\n',
    b'{"id": "Sensor 99", "dt": "2025-11-12T08:32:34.162", "value": 12345678901234567890}',
])
def test_valid_payloads_have_no_problem(payload: bytes) -> None:
    # An unknown sensor id ("Sensor 99") is the registry's business downstream, not the door's.
    assert check_payload(payload) is None


@pytest.mark.parametrize(("payload", "problem"), [
    (b'{"id": "Sensor \xff", "dt": "2025-11-12T08:32:34", "value": 1}',
     "payload is not UTF-8 text: invalid start byte at byte 15"),
    (b"", "payload is not JSON: Expecting value: line 1 column 1 (char 0)"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": 1',
     "payload is not JSON: Expecting ',' delimiter: line 1 column 59 (char 58)"),
    (b"{}{}", "payload is not JSON: Extra data: line 1 column 3 (char 2)"),
    (b"[" * 100_000, "payload is not JSON: nested too deeply"),
    (b'[{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": 1}]',
     "payload is not a JSON object but an array"),
    (b'"Sensor 1"', "payload is not a JSON object but a string"),
    (b"21.5", "payload is not a JSON object but a number"),
    (b"null", "payload is not a JSON object but null"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34"}', "payload misses the field value"),
    (b'{"sensor": "Sensor 1", "value": 1}',
     "payload misses the fields id, dt and has the unexpected field sensor"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": 1, "unit": "C"}',
     "payload has the unexpected field unit"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": 1, "value": 2}',
     "payload repeats the field value"),
    (b'{"id": "", "dt": "2025-11-12T08:32:34", "value": 1}',
     "id: expected a non-empty string, got an empty string"),
    (b'{"id": 1, "dt": "2025-11-12T08:32:34", "value": 1}',
     "id: expected a non-empty string, got a number"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34+01:00", "value": 1}',
     "dt: has a UTC offset, but the contract is a timestamp without offset meant as UTC: "
     "'2025-11-12T08:32:34+01:00'"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162Z", "value": 1}',
     "dt: has a UTC offset, but the contract is a timestamp without offset meant as UTC: "
     "'2025-11-12T08:32:34.162Z'"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12 08:32:34", "value": 1}',
     "dt: not an ISO 8601 timestamp without offset like 2025-11-12T08:32:34.162: "
     "'2025-11-12 08:32:34'"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.1622051", "value": 1}',
     "dt: not an ISO 8601 timestamp without offset like 2025-11-12T08:32:34.162: "
     "'2025-11-12T08:32:34.1622051'"),
    (b'{"id": "Sensor 1", "dt": "2025-02-29T08:32:34", "value": 1}',
     "dt: not a valid date and time (day is out of range for month): '2025-02-29T08:32:34'"),
    (b'{"id": "Sensor 1", "dt": 1762936354, "value": 1}', "dt: expected a string, got a number"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": true}',
     "value: expected a number, got a boolean"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": "21.5"}',
     "value: expected a number, got a string"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": null}',
     "value: expected a number, got null"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": NaN}',
     "value: not a finite number: NaN"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": -Infinity}',
     "value: not a finite number: -Infinity"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": 1e400}',
     "value: not a finite number: 1e400"),
    (b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34", "value": ' + b"9" * 400 + b"}",
     f"value: not a finite number: {'9' * 400}"),
    (b'{"id": null, "dt": "2025-11-12T08:32:34Z", "value": [1]}',
     "id: expected a non-empty string, got null; dt: has a UTC offset, but the contract is a "
     "timestamp without offset meant as UTC: '2025-11-12T08:32:34Z'; value: expected a number, "
     "got an array"),
])
def test_each_broken_payload_says_why(payload: bytes, problem: str) -> None:
    assert check_payload(payload) == problem


def test_a_batch_encodes_to_json_lines_with_the_keys_in_order() -> None:
    valid = _message()
    malformed = _message(b"\x00\xff", received_at=AT + timedelta(milliseconds=1), qos=0, mid=0,
                         retain=True, dup=True)
    assert malformed.payload_problem == "payload is not UTF-8 text: invalid start byte at byte 1"
    valid_b64 = base64.b64encode(VALID).decode()
    assert encode_batch([valid, malformed]) == (
        f'{{"topic": "sensors", "payload_base64": "{valid_b64}", "received_at": '
        '"2025-11-12T08:32:34.162Z", "qos": 1, "mid": 7, "retain": false, "dup": false, '
        '"payload_problem": null}\n'
        '{"topic": "sensors", "payload_base64": "AP8=", "received_at": '
        '"2025-11-12T08:32:34.163Z", "qos": 0, "mid": 0, "retain": true, "dup": true, '
        '"payload_problem": "payload is not UTF-8 text: invalid start byte at byte 1"}\n'
    ).encode()


def test_a_batch_decodes_to_the_messages_it_was_made_of() -> None:
    captured = CAPTURED[0].read_bytes().splitlines()[:3]
    messages = [_message(payload, mid=number, received_at=AT + timedelta(seconds=number))
                for number, payload in enumerate(captured, start=1)]
    messages.append(_message(b'{"id": "Sensor 1", "dt": "x", "value": 1}', mid=4))
    assert decode_batch(encode_batch(messages), "batch.jsonl") == messages
    assert [message.payload_problem for message in messages] == [
        None, None, None,
        "dt: not an ISO 8601 timestamp without offset like 2025-11-12T08:32:34.162: 'x'"]


def test_received_at_in_another_zone_is_written_in_utc() -> None:
    berlin = AT.astimezone(timezone(timedelta(hours=1)))
    [decoded] = decode_batch(encode_batch([_message(received_at=berlin)]), "b")
    assert decoded.received_at == AT and decoded.received_at.tzinfo == UTC


@pytest.mark.parametrize("received_at", [
    datetime(2025, 11, 12, 8, 32, 34, 162000),
    datetime(2025, 11, 12, 8, 32, 34, 162001, tzinfo=UTC),
])
def test_a_message_needs_an_aware_whole_millisecond(received_at: datetime) -> None:
    with pytest.raises(ValueError, match="received_at must be an aware instant in whole "
                                         "milliseconds"):
        _message(received_at=received_at)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="a batch holds at least one message"):
        encode_batch([])


def test_the_batch_name_is_first_instant_client_and_sequence() -> None:
    at = datetime(2025, 11, 12, 9, 32, 34, 162999, tzinfo=timezone(timedelta(hours=1)))
    assert batch_name(at, "meterlake-receiver", 12) == (
        "mqtt-20251112T083234162Z-meterlake-receiver-00000012.jsonl")


_LINE = ('{"topic": "sensors", "payload_base64": "AP8=", "received_at": '
         '"2025-11-12T08:32:34.163Z", "qos": 1, "mid": 9, "retain": false, "dup": false, '
         '"payload_problem": null}')


def _broken(old: str, new: str) -> bytes:
    assert old in _LINE
    return f"{_LINE}\n{_LINE.replace(old, new)}\n".encode()


@pytest.mark.parametrize(("data", "error"), [
    (b"", "b.jsonl: empty; a batch holds at least one message"),
    (b"\xff\n", "b.jsonl: not UTF-8 text: invalid start byte at byte 0"),
    (_LINE.encode(), "b.jsonl: the last line has no line break; the object is incomplete"),
    (f"{_LINE}\n\n{_LINE}\n".encode(), "b.jsonl line 2: blank line"),
    (_broken(_LINE, "{"), "b.jsonl line 2: not JSON: Expecting property name enclosed in "
                          "double quotes: line 1 column 2 (char 1)"),
    (_broken(_LINE, "[]"), "b.jsonl line 2: expected a JSON object, got an array"),
    (_broken(', "dup": false', ""), "b.jsonl line 2: missing field dup"),
    (_broken('"mid"', '"message_id"'),
     "b.jsonl line 2: missing field mid; unexpected field message_id"),
    (_broken('"sensors"', '""'), "b.jsonl line 2: topic: expected a non-empty string, "
                                 "got an empty string"),
    (_broken('"AP8="', "null"), "b.jsonl line 2: payload_base64: expected a string, got null"),
    (_broken('"AP8="', '"AP8"'), "b.jsonl line 2: payload_base64: not base64: Incorrect "
                                 "padding"),
    (_broken('"AP8="', '"AP9="'), "b.jsonl line 2: payload_base64: not in canonical base64 "
                                  "(padding or trailing bits)"),
    (_broken(".163Z", ".163"), "b.jsonl line 2: received_at: not a UTC timestamp with three "
                               "fraction digits like 2025-11-12T08:32:34.162Z: "
                               "'2025-11-12T08:32:34.163'"),
    (_broken(".163Z", ".163000Z"), "b.jsonl line 2: received_at: not a UTC timestamp with "
                                   "three fraction digits like 2025-11-12T08:32:34.162Z: "
                                   "'2025-11-12T08:32:34.163000Z'"),
    (_broken("-11-12T", "-11-31T"), "b.jsonl line 2: received_at: not a valid date and time "
                                    "(day is out of range for month): "
                                    "'2025-11-31T08:32:34.163Z'"),
    (_broken('"qos": 1', '"qos": true'), "b.jsonl line 2: qos: expected 0, 1 or 2, got a "
                                         "boolean"),
    (_broken('"qos": 1', '"qos": 3'), "b.jsonl line 2: qos: expected 0, 1 or 2, got 3"),
    (_broken('"qos": 1', '"qos": 0'), "b.jsonl line 2: mid: expected 0 for QoS 0, got 9"),
    (_broken('"mid": 9', '"mid": 0'), "b.jsonl line 2: mid: expected 1 to 65535 for QoS 1, "
                                      "got 0"),
    (_broken('"mid": 9', '"mid": 9.0'), "b.jsonl line 2: mid: expected an integer, got a "
                                        "number"),
    (_broken('"retain": false', '"retain": 0'), "b.jsonl line 2: retain: expected a boolean, "
                                                "got a number"),
    (_broken('"dup": false', '"dup": "false"'), "b.jsonl line 2: dup: expected a boolean, got "
                                                "a string"),
    (_broken('"payload_problem": null', '"payload_problem": ""'),
     "b.jsonl line 2: payload_problem: expected null or a sentence, got an empty string"),
])
def test_a_damaged_batch_names_object_line_and_field(data: bytes, error: str) -> None:
    with pytest.raises(LandedBatchError) as raised:
        decode_batch(data, "b.jsonl")
    assert str(raised.value) == error
