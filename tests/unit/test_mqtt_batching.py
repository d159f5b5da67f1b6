"""Unit tests for the MQTT receiver's decisions, on a hand-driven clock and a recorded
acknowledgement: when a batch is due, which messages are acknowledged when, and which arrivals
are redeliveries. Also its settings from the environment `infra/mosquitto.sh env` prints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterlake.receive.mqtt_batching import Batcher, Delivery, SessionLedger
from meterlake.receive.mqtt_settings import MqttSettings
from meterlake.sources.sensors.landed import ReceivedMessage

AT = datetime(2025, 11, 12, 8, 32, 34, 162000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Acks:
    """Records acknowledgements; `is_sent` False plays a connection that just dropped."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []
        self.is_sent = True

    def __call__(self, mid: int, qos: int) -> bool:
        if self.is_sent:
            self.sent.append((mid, qos))
        return self.is_sent


def _message(mid: int, qos: int = 1, dup: bool = False) -> ReceivedMessage:
    return ReceivedMessage.checked("sensors", b"{}", AT, qos, mid, False, dup)


def _delivery(mid: int) -> Delivery:
    return Delivery(_message(mid), session=1)


def test_a_batch_is_due_when_full() -> None:
    batcher = Batcher(max_messages=3, max_seconds=5.0, clock=Clock())
    assert (len(batcher), batcher.seconds_until_due(), batcher.is_due) == (0, None, False)
    for mid in (1, 2):
        batcher.add(_delivery(mid))
    assert (batcher.seconds_until_due(), batcher.is_due) == (5.0, False)
    batcher.add(_delivery(3))
    assert (batcher.seconds_until_due(), batcher.is_due) == (0.0, True)
    assert [d.message.mid for d in batcher.take()] == [1, 2, 3]
    assert (len(batcher), batcher.seconds_until_due(), batcher.take()) == (0, None, [])


def test_a_batch_is_due_max_seconds_after_its_first_message_without_more_arriving() -> None:
    clock = Clock()
    batcher = Batcher(max_messages=1000, max_seconds=5.0, clock=clock)
    batcher.add(_delivery(1))
    clock.now += 3.5
    batcher.add(_delivery(2))
    assert batcher.seconds_until_due() == 1.5
    clock.now += 1.5
    assert (batcher.seconds_until_due(), batcher.is_due) == (0.0, True)
    clock.now += 60.0  # long overdue stays due, never negative
    assert batcher.seconds_until_due() == 0.0
    batcher.take()
    batcher.add(_delivery(3))  # the next batch's timer starts at its own first message
    assert batcher.seconds_until_due() == 5.0


@pytest.mark.parametrize(("max_messages", "max_seconds"), [(0, 5.0), (1, 0.0)])
def test_a_batcher_needs_a_size_and_a_time(max_messages: int, max_seconds: float) -> None:
    with pytest.raises(ValueError, match="max_messages >= 1 and max_seconds > 0"):
        Batcher(max_messages, max_seconds)


def test_a_message_is_acknowledged_once_its_batch_is_landed() -> None:
    ledger, acks = SessionLedger(), Acks()
    ledger.connected(session_present=False)
    deliveries = [ledger.receive(_message(mid), acks) for mid in (1, 2)]
    qos0 = ledger.receive(_message(0, qos=0), acks)
    assert (acks.sent, ledger.held) == ([], 2)
    assert all(d is not None for d in [*deliveries, qos0])
    landed = [d for d in [*deliveries, qos0] if d is not None]
    assert ledger.settle(landed, acks) == 2
    assert (acks.sent, ledger.held) == ([(1, 1), (2, 1)], 0)


def test_a_redelivery_of_a_message_not_yet_landed_is_not_batched_twice() -> None:
    ledger, acks = SessionLedger(), Acks()
    ledger.connected(session_present=False)
    first = ledger.receive(_message(5), acks)
    ledger.disconnected()
    ledger.connected(session_present=True)  # the broker kept the session: it sends 5 again
    assert ledger.receive(_message(5, dup=True), acks) is None
    assert first is not None and ledger.settle([first], acks) == 1
    assert acks.sent == [(5, 1)]


def test_a_landed_message_whose_ack_could_not_be_sent_is_acknowledged_on_redelivery() -> None:
    ledger, acks = SessionLedger(), Acks()
    ledger.connected(session_present=False)
    first, second = ledger.receive(_message(1), acks), ledger.receive(_message(2), acks)
    assert first is not None and second is not None
    ledger.disconnected()
    assert (ledger.settle([first], acks), acks.sent, ledger.held) == (0, [], 2)
    ledger.connected(session_present=True)
    acks.is_sent = False  # dropped again while acknowledging: still held
    assert ledger.settle([second], acks) == 0
    acks.is_sent = True
    assert ledger.receive(_message(1, dup=True), acks) is None
    assert ledger.receive(_message(2, dup=True), acks) is None
    assert (acks.sent, ledger.held) == ([(1, 1), (2, 1)], 0)
    # The broker may give id 1 to a new message once the old one is acknowledged.
    assert ledger.receive(_message(1), acks) is not None


def test_messages_of_a_lost_session_are_never_acknowledged() -> None:
    """A new session (the old one expired, or the broker lost it) reuses packet ids:
    acknowledging an old id could acknowledge a new message before it is landed."""
    ledger, acks = SessionLedger(), Acks()
    ledger.connected(session_present=False)
    old = ledger.receive(_message(1), acks)
    ledger.disconnected()
    ledger.connected(session_present=False)
    new = ledger.receive(_message(1), acks)  # not a redelivery: another message
    assert old is not None and new is not None and new.session == old.session + 1
    assert ledger.settle([old], acks) == 0 and acks.sent == []
    assert ledger.settle([new], acks) == 1 and acks.sent == [(1, 1)]


def test_a_resumed_session_keeps_what_the_previous_process_left() -> None:
    ledger, acks = SessionLedger(), Acks()
    ledger.connected(session_present=True)  # a restart: unacknowledged messages come again
    redelivered = ledger.receive(_message(3, dup=True), acks)
    assert redelivered is not None and ledger.settle([redelivered], acks) == 1


ENV = {"MQTT_HOST": "127.0.0.1", "MQTT_PORT": "18883", "MQTT_TLS_PORT": "18884",
       "MQTT_CA_FILE": "/state/tls/ca.crt", "MQTT_TOPIC": "sensors",
       "MQTT_PUBLISHER_USER": "sensor", "MQTT_PUBLISHER_PASSWORD": "p",
       "MQTT_SUBSCRIBER_USER": "meterlake-receiver", "MQTT_SUBSCRIBER_PASSWORD": "secret"}


def test_settings_come_from_the_environment() -> None:
    plain = MqttSettings.from_environment(ENV)
    assert plain == MqttSettings("127.0.0.1", 18883, "sensors", "meterlake-receiver", "secret")
    assert (plain.url, plain.client_id, plain.session_expiry_seconds) == (
        "mqtt://127.0.0.1:18883/sensors", "meterlake-receiver", 604800)
    assert "secret" not in repr(plain)
    tls = MqttSettings.from_environment(ENV, tls=True, client_id="r2", host="localhost")
    assert (tls.url, tls.ca_file, tls.client_id) == (
        "mqtts://localhost:18884/sensors", "/state/tls/ca.crt", "r2")


def test_an_override_stands_in_for_a_missing_variable() -> None:
    env = {key: value for key, value in ENV.items() if key != "MQTT_PORT"}
    assert MqttSettings.from_environment(env, port=1883).port == 1883


@pytest.mark.parametrize(("missing", "tls"), [
    ("MQTT_HOST", False), ("MQTT_PORT", False), ("MQTT_TLS_PORT", True),
    ("MQTT_CA_FILE", True), ("MQTT_TOPIC", False), ("MQTT_SUBSCRIBER_USER", False),
    ("MQTT_SUBSCRIBER_PASSWORD", False),
])
def test_a_missing_variable_is_named(missing: str, tls: bool) -> None:
    env = {key: value for key, value in ENV.items() if key != missing}
    with pytest.raises(LookupError) as raised:
        MqttSettings.from_environment(env, tls=tls)
    assert str(raised.value) == (f"{missing} is not set: the MQTT settings come from the "
                                 'environment (eval "$(bash infra/mosquitto.sh env)")')


def test_a_port_must_be_a_port() -> None:
    with pytest.raises(ValueError, match="the MQTT port must be a number from 1 to 65535, "
                                         "got '70000'"):
        MqttSettings.from_environment({**ENV, "MQTT_PORT": "70000"})
