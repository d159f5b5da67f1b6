"""infra/mosquitto.sh's broker as the sensor source relies on it: no anonymous or wrong-password
login, each user exactly its part of the `sensors` topic, TLS with the script's own CA, the
environment it prints, and a persistent session's QoS 1 messages kept while the subscriber is
away, across a broker restart too.

A message the broker must not deliver is checked against a later one that it must: the broker
handles one connection's packets in order and routes a message before it acknowledges it, so
once the later message (or the PUBACK of a publish by the same client) has arrived, the
refused one would have arrived before it."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.helpers.mqtt_broker import SCRIPT, BrokerClient, Connack, MqttBroker
from tests.helpers.paths import REPO

SUCCESS = (0, "Success")
NOT_AUTHORIZED = (135, "Not authorized")
GRANTED_QOS_1 = (1, "Granted QoS 1")
SESSION_EXPIRY_S = 300


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def receiver(mqtt_broker: MqttBroker) -> Iterator[BrokerClient]:
    """The receiver's user, subscribed to `sensors` at QoS 1."""
    with BrokerClient(unique("test-receiver")) as client:
        assert client.connect(mqtt_broker, mqtt_broker.subscriber_user,
                              mqtt_broker.subscriber_password) == Connack(SUCCESS, False)
        assert client.subscribe(mqtt_broker.topic, 1) == [GRANTED_QOS_1]
        yield client


@pytest.fixture
def sensor(mqtt_broker: MqttBroker) -> Iterator[BrokerClient]:
    with BrokerClient(unique("test-sensor")) as client:
        assert client.connect(mqtt_broker, mqtt_broker.publisher_user,
                              mqtt_broker.publisher_password) == Connack(SUCCESS, False)
        yield client


def test_env_prints_every_variable_as_shell(mqtt_broker: MqttBroker) -> None:
    names = sorted(mqtt_broker.environment())
    shell = f'set -eu; eval "$(bash {SCRIPT} env)"; ' + "; ".join(
        f'printf "%s\\n" "${name}"' for name in names)
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
    printed = dict(zip(names, result.stdout.splitlines(), strict=True))

    state = os.environ.get("METERLAKE_MOSQUITTO_DIR", str(REPO / "var" / "infra" / "mosquitto"))
    passwords = {printed.pop("MQTT_PUBLISHER_PASSWORD"), printed.pop("MQTT_SUBSCRIBER_PASSWORD")}
    assert printed == {
        "MQTT_HOST": "127.0.0.1", "MQTT_PORT": "18883", "MQTT_TLS_PORT": "18884",
        "MQTT_CA_FILE": f"{state}/tls/ca.crt", "MQTT_TOPIC": "sensors",
        "MQTT_PUBLISHER_USER": "sensor", "MQTT_SUBSCRIBER_USER": "meterlake-receiver",
    }
    assert passwords == {mqtt_broker.publisher_password, mqtt_broker.subscriber_password}
    assert [bool(re.fullmatch("[0-9a-f]{32}", p)) for p in sorted(passwords)] == [True, True]


def test_status_says_whether_it_runs_and_usage_is_refused(mqtt_broker: MqttBroker) -> None:
    assert mqtt_broker.run("status").returncode == 0
    refused = mqtt_broker.run("restart")
    assert (refused.returncode, refused.stderr) == (
        2, f"usage: {SCRIPT} install|start|stop|status|env\n")


def test_anonymous_and_wrong_password_logins_are_refused(mqtt_broker: MqttBroker) -> None:
    with BrokerClient(unique("test-anonymous")) as anonymous:
        assert anonymous.connect(mqtt_broker, None, None) == Connack(NOT_AUTHORIZED, False)
    with BrokerClient(unique("test-wrong")) as wrong:
        assert wrong.connect(mqtt_broker, mqtt_broker.publisher_user,
                             "not-the-password") == Connack(NOT_AUTHORIZED, False)


def test_the_sensor_publishes_and_the_receiver_receives(
        mqtt_broker: MqttBroker, sensor: BrokerClient, receiver: BrokerClient) -> None:
    payload = b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162", "value": 21.5}'
    assert sensor.publish("sensors", payload, 1) == SUCCESS
    assert receiver.receive(1) == [("sensors", payload, 1)]


def test_the_sensor_reads_nothing(
        mqtt_broker: MqttBroker, sensor: BrokerClient, receiver: BrokerClient) -> None:
    # Mosquitto 2.0's ACL file does not refuse the SUBSCRIBE; it checks `read` on every
    # message it would deliver.
    assert sensor.subscribe("sensors", 1) == [GRANTED_QOS_1]
    payload = unique("published-by-the-sensor").encode()
    assert sensor.publish("sensors", payload, 1) == SUCCESS
    assert receiver.receive(1) == [("sensors", payload, 1)]
    assert sensor.messages.empty()


def test_the_receiver_may_not_publish(
        mqtt_broker: MqttBroker, sensor: BrokerClient, receiver: BrokerClient) -> None:
    with BrokerClient(unique("test-publishing-receiver")) as publishing_receiver:
        publishing_receiver.connect(mqtt_broker, mqtt_broker.subscriber_user,
                                    mqtt_broker.subscriber_password)
        refused = unique("published-by-the-receiver").encode()
        assert publishing_receiver.publish("sensors", refused, 1) == NOT_AUTHORIZED
    allowed = unique("published-by-the-sensor").encode()
    assert sensor.publish("sensors", allowed, 1) == SUCCESS
    assert receiver.receive(1) == [("sensors", allowed, 1)]


def test_tls_with_the_ca_file(mqtt_broker: MqttBroker, receiver: BrokerClient) -> None:
    with BrokerClient(unique("test-tls")) as client:
        assert client.connect(mqtt_broker, mqtt_broker.publisher_user,
                              mqtt_broker.publisher_password, tls=True,
                              ca_file=mqtt_broker.ca_file) == Connack(SUCCESS, False)
        payload = unique("over-tls").encode()
        assert client.publish("sensors", payload, 1) == SUCCESS
    assert receiver.receive(1) == [("sensors", payload, 1)]


def test_tls_refuses_a_client_that_does_not_trust_the_ca(mqtt_broker: MqttBroker) -> None:
    with BrokerClient(unique("test-untrusting")) as client, \
            pytest.raises(ssl.SSLCertVerificationError) as refused:
        client.connect(mqtt_broker, mqtt_broker.publisher_user, mqtt_broker.publisher_password,
                       tls=True, ca_file=None)
    assert (refused.value.verify_code, refused.value.verify_message) == (
        19, "self-signed certificate in certificate chain")


def connect_persistent(broker: MqttBroker, client_id: str) -> tuple[BrokerClient, Connack]:
    client = BrokerClient(client_id)
    connack = client.connect(broker, broker.subscriber_user, broker.subscriber_password,
                             clean_start=False, session_expiry_s=SESSION_EXPIRY_S)
    return client, connack


def forget_session(broker: MqttBroker, client_id: str) -> None:
    with BrokerClient(client_id) as client:
        client.connect(broker, broker.subscriber_user, broker.subscriber_password)


@pytest.mark.parametrize("restart", [False, True], ids=["reconnect", "broker-restart"])
def test_a_persistent_session_gets_what_was_published_while_away(
        mqtt_broker: MqttBroker, sensor: BrokerClient, restart: bool) -> None:
    client_id = unique("test-persistent")
    try:
        subscriber, connack = connect_persistent(mqtt_broker, client_id)
        with subscriber:
            assert connack == Connack(SUCCESS, False)
            assert subscriber.subscribe("sensors", 1) == [GRANTED_QOS_1]
        payloads = [unique(f"while-away-{n}").encode() for n in range(3)]
        assert [sensor.publish("sensors", p, 1) for p in payloads] == [SUCCESS] * 3
        if restart:
            sensor.close()
            assert mqtt_broker.run("stop").returncode == 0
            assert mqtt_broker.run("status").returncode == 1
            assert mqtt_broker.run("start").returncode == 0
            assert mqtt_broker.run("status").returncode == 0
        subscriber, connack = connect_persistent(mqtt_broker, client_id)
        with subscriber:
            assert connack == Connack(SUCCESS, True)
            assert subscriber.receive(3) == [("sensors", p, 1) for p in payloads]
    finally:
        forget_session(mqtt_broker, client_id)
