"""The landed batch format of the sensor source, and the payload check at the door. No Spark.

`meterlake receive mqtt` lands one object per batch of MQTT messages, named
`mqtt-<first receive instant, %Y%m%dT%H%M%S + milliseconds>Z-<client id>-<8-digit batch
sequence>.jsonl` (`batch_name`): JSON lines, one per message in delivery order, keys in this
order:

    {"topic": "sensors", "payload_base64": "eyJpZCI6...", "received_at":
     "2025-11-12T08:32:34.162Z", "qos": 1, "mid": 7, "retain": false, "dup": false,
     "payload_problem": null}

`payload_base64` holds the payload bytes exactly as received. `received_at` is the subscriber's
clock when the message reached it (UTC, whole milliseconds): Mosquitto does not stamp messages,
so this is the nearest thing to a broker time there is. `payload_problem` is null, or one
sentence saying why the payload is not a sensor message (`check_payload`); such payloads are
landed and flagged, never dropped. An unknown sensor id is not a payload problem: the sensor
registry decides that downstream.

The message contract: a UTF-8 JSON object with exactly the keys `id` (a non-empty string), `dt`
(an ISO 8601 timestamp WITHOUT offset, at most 6 fraction digits, meant as UTC) and `value` (a
finite number, not a boolean), e.g. `{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162",
"value": 21.5}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from meterlake.core.instants import (
    InstantError,
    InvalidInstantError,
    NaiveInstantError,
    parse_instant,
)
from meterlake.core.json_numbers import NonFinite, loads_keeping_spelling

PAYLOAD_FIELDS = ("id", "dt", "value")
LINE_KEYS = ("topic", "payload_base64", "received_at", "qos", "mid", "retain", "dup",
             "payload_problem")
_RECEIVED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_MAX_MID = 65535  # MQTT packet identifiers are two bytes; 0 is QoS 0's "no identifier"
_SHOWN_CHARS = 40


class LandedBatchError(ValueError):
    """A landed batch breaks the format; the message names the object, the line and the field."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One MQTT message as the subscriber received it: one line of a landed batch."""

    topic: str
    payload: bytes
    received_at: datetime  # aware, a whole millisecond (written in UTC)
    qos: int
    mid: int  # the MQTT packet identifier; 0 for QoS 0
    retain: bool
    dup: bool
    payload_problem: str | None

    def __post_init__(self) -> None:
        if self.received_at.utcoffset() is None or self.received_at.microsecond % 1000:
            raise ValueError(f"received_at must be an aware instant in whole milliseconds, "
                             f"got {self.received_at.isoformat()}")

    @staticmethod
    def checked(topic: str, payload: bytes, received_at: datetime, qos: int, mid: int,
                retain: bool, dup: bool) -> ReceivedMessage:
        """The message with its payload checked (`check_payload`)."""
        return ReceivedMessage(topic, payload, received_at, qos, mid, retain, dup,
                               check_payload(payload))


@dataclass(frozen=True)
class _Object:
    """A JSON object with its members in order, repeated names kept (json.loads keeps the last
    silently, and a repeated `value` would be an ambiguous reading)."""

    pairs: list[tuple[str, Any]]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | NonFinite):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    return "an array" if isinstance(value, list) else "an object"


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "...")


def _plural(names: list[str]) -> str:
    return f"field{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _parse(payload: bytes) -> tuple[Any, str | None]:
    """(the JSON document, None), or (None, why the payload is not UTF-8 JSON)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"payload is not UTF-8 text: {error.reason} at byte {error.start}"
    try:
        return loads_keeping_spelling(text, object_pairs_hook=_Object), None
    except json.JSONDecodeError as error:
        return None, f"payload is not JSON: {error}"
    except RecursionError:
        return None, "payload is not JSON: nested too deeply"


def _shape_problem(document: Any) -> str | None:
    """Why `document` is not an object with exactly the contract's fields, or None."""
    if not isinstance(document, _Object):
        return f"payload is not a JSON object but {_kind(document)}"
    names = [name for name, _ in document.pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return f"payload repeats the {_plural(repeated)}"
    missing = [name for name in PAYLOAD_FIELDS if name not in names]
    extra = [name for name in names if name not in PAYLOAD_FIELDS]
    parts = ([f"misses the {_plural(missing)}"] if missing else []) + (
        [f"has the unexpected {_plural(extra)}"] if extra else [])
    return f"payload {' and '.join(parts)}" if parts else None


def _id_problem(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return None
    return f"id: expected a non-empty string, got {_kind(value)}"


def _dt_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"dt: expected a string, got {_kind(value)}"
    try:
        parse_instant(value)
    except NaiveInstantError:
        # The contract's shape; the same text read as UTC must name a real date and time.
        try:
            parse_instant(f"{value}Z")
        except InvalidInstantError as error:
            return f"dt: not a valid date and time ({error.reason}): {_shown(value)}"
        return None
    except InstantError:
        return ("dt: not an ISO 8601 timestamp without offset like 2025-11-12T08:32:34.162: "
                f"{_shown(value)}")
    return ("dt: has a UTC offset, but the contract is a timestamp without offset meant as "
            f"UTC: {_shown(value)}")


def _value_problem(value: Any) -> str | None:
    if isinstance(value, NonFinite):
        return f"value: not a finite number: {value.text}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"value: expected a number, got {_kind(value)}"
    return None


def check_payload(payload: bytes) -> str | None:
    """None when `payload` is a sensor message by the contract (module docstring), else one
    sentence saying why not: the first of not UTF-8, not JSON, not an object, repeated, missing
    or unexpected fields; or every field's problem, `; `-separated."""
    document, problem = _parse(payload)
    if problem is None:
        problem = _shape_problem(document)
    if problem is not None:
        return problem
    fields = dict(document.pairs)
    problems = [found for found in (_id_problem(fields["id"]), _dt_problem(fields["dt"]),
                                    _value_problem(fields["value"])) if found]
    return "; ".join(problems) or None


def format_received_at(instant: datetime) -> str:
    """`2025-11-12T08:32:34.162Z`: UTC with exactly three fraction digits."""
    utc = instant.astimezone(UTC)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}Z"


def batch_name(first_received_at: datetime, client_id: str, sequence: int) -> str:
    """The original name of a landed batch:
    `mqtt-20251112T083234162Z-<client id>-00000001.jsonl`."""
    stamp = first_received_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"mqtt-{stamp}Z-{client_id}-{sequence:08d}.jsonl"


def _line(message: ReceivedMessage) -> str:
    record = {
        "topic": message.topic,
        "payload_base64": base64.b64encode(message.payload).decode("ascii"),
        "received_at": format_received_at(message.received_at),
        "qos": message.qos,
        "mid": message.mid,
        "retain": message.retain,
        "dup": message.dup,
        "payload_problem": message.payload_problem,
    }
    return json.dumps(record) + "\n"


def encode_batch(messages: list[ReceivedMessage]) -> bytes:
    """The landed object of a batch: one JSON line per message, in the order given."""
    if not messages:
        raise ValueError("a batch holds at least one message")
    return "".join(_line(message) for message in messages).encode("utf-8")


def _field(record: dict[str, Any], name: str, expected: type, what: str) -> Any:
    value = record[name]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{name}: expected {what}, got {_kind(value)}")
    return value


def _payload(text: str) -> bytes:
    try:
        payload = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"payload_base64: not base64: {error}") from None
    if base64.b64encode(payload).decode("ascii") != text:
        raise ValueError("payload_base64: not in canonical base64 (padding or trailing bits)")
    return payload


def _received_at(text: str) -> datetime:
    if _RECEIVED_AT.fullmatch(text) is None:
        raise ValueError("received_at: not a UTC timestamp with three fraction digits like "
                         f"2025-11-12T08:32:34.162Z: {_shown(text)}")
    try:
        return parse_instant(text)
    except InstantError as error:
        raise ValueError(f"received_at: {error}") from None


def _qos_and_mid(record: dict[str, Any]) -> tuple[int, int]:
    qos = _field(record, "qos", int, "0, 1 or 2")
    mid = _field(record, "mid", int, "an integer")
    if qos not in (0, 1, 2):
        raise ValueError(f"qos: expected 0, 1 or 2, got {qos}")
    if (qos == 0 and mid != 0) or (qos > 0 and not 1 <= mid <= _MAX_MID):
        expected = "0 for QoS 0" if qos == 0 else f"1 to {_MAX_MID} for QoS {qos}"
        raise ValueError(f"mid: expected {expected}, got {mid}")
    return qos, mid


def _message(record: Any) -> ReceivedMessage:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {_kind(record)}")
    missing = [key for key in LINE_KEYS if key not in record]
    extra = [key for key in record if key not in LINE_KEYS]
    if missing or extra:
        raise ValueError("; ".join(([f"missing {_plural(missing)}"] if missing else [])
                                   + ([f"unexpected {_plural(extra)}"] if extra else [])))
    topic = _field(record, "topic", str, "a string")
    if not topic:
        raise ValueError("topic: expected a non-empty string, got an empty string")
    payload = _payload(_field(record, "payload_base64", str, "a string"))
    received_at = _received_at(_field(record, "received_at", str, "a string"))
    qos, mid = _qos_and_mid(record)
    problem = record["payload_problem"]
    if problem is not None and not (isinstance(problem, str) and problem):
        raise ValueError(f"payload_problem: expected null or a sentence, got {_kind(problem)}")
    return ReceivedMessage(topic, payload, received_at, qos, mid,
                           _field(record, "retain", bool, "a boolean"),
                           _field(record, "dup", bool, "a boolean"), problem)


def decode_batch(data: bytes, source_name: str) -> list[ReceivedMessage]:
    """The messages of a landed batch, in order. Strict: anything but the format above (not
    UTF-8, a blank or unterminated line, a missing, extra or mistyped key) raises
    LandedBatchError naming `source_name`, the 1-based line and the field."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LandedBatchError(f"{source_name}: not UTF-8 text: {error.reason} at byte "
                               f"{error.start}") from None
    if not text:
        raise LandedBatchError(f"{source_name}: empty; a batch holds at least one message")
    if not text.endswith("\n"):
        raise LandedBatchError(f"{source_name}: the last line has no line break; the object "
                               "is incomplete")
    messages = []
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        if not line:
            raise LandedBatchError(f"{source_name} line {number}: blank line")
        try:
            messages.append(_message(json.loads(line)))
        except json.JSONDecodeError as error:
            raise LandedBatchError(f"{source_name} line {number}: not JSON: {error}") from None
        except ValueError as error:
            raise LandedBatchError(f"{source_name} line {number}: {error}") from None
    return messages
