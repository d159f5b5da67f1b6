"""`meterlake generate sensors` against infra/mosquitto.sh's broker: a subscriber receives
exactly the messages the plan holds for the run's start and seed, in order, and nothing else;
the summary counts each fault."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from meterlake.sources.sensors.faults import parse_faults
from meterlake.sources.sensors.generate import Schedule, plan_messages
from meterlake.sources.sensors.registry import load_registry
from tests.helpers.mqtt_broker import BrokerClient, Connack, MqttBroker
from tests.helpers.paths import BIN, FIXTURES

REGISTRY = FIXTURES / "iot" / "sensors.json"
FAULTS = ["duplicate=0.1", "malformed=0.1", "late=0.1:0.5", "gap=0.05:0.6",
          "clock_behind=Sensor 3:120"]
FIRST_LINE = re.compile(r"published (\d+) messages to 'sensors' at (\S+) \(QoS (\d)\) from "
                        r"(\S+)Z with seed (\d+)")


@pytest.fixture
def receiver(mqtt_broker: MqttBroker) -> Iterator[BrokerClient]:
    with BrokerClient(f"test-generator-receiver-{uuid.uuid4().hex[:12]}") as client:
        assert client.connect(mqtt_broker, mqtt_broker.subscriber_user,
                              mqtt_broker.subscriber_password) == Connack((0, "Success"), False)
        assert client.subscribe("sensors", 1) == [(1, "Granted QoS 1")]
        yield client


def generate(broker: MqttBroker, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "meterlake"), "generate", "sensors", "--registry",
                           str(REGISTRY), *options], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **broker.environment()}, check=False)


def planned_payloads(schedule: Schedule, seed: int, start_text: str) -> list[bytes]:
    start = datetime.fromisoformat(start_text).replace(tzinfo=UTC)
    return [m.payload for m in plan_messages(load_registry(REGISTRY), schedule, seed, start)
            if m.payload is not None]


def assert_nothing_else_arrives(broker: MqttBroker, receiver: BrokerClient) -> None:
    """A message published after the run is the next one the receiver gets."""
    marker = f"after-the-run-{uuid.uuid4().hex}".encode()
    with BrokerClient() as sensor:
        sensor.connect(broker, broker.publisher_user, broker.publisher_password)
        assert sensor.publish("sensors", marker, 1) == (0, "Success")
    assert receiver.receive(1) == [("sensors", marker, 1)]


def test_the_subscriber_receives_exactly_the_planned_messages(
        mqtt_broker: MqttBroker, receiver: BrokerClient) -> None:
    result = generate(mqtt_broker, "--rate", "5", "--duration", "2", "--jitter", "20",
                      "--seed", "11", "--qos", "1", "--faults", *FAULTS)
    assert result.returncode == 0, result.stderr
    first, *counts = result.stdout.splitlines()
    matched = FIRST_LINE.fullmatch(first)
    assert matched is not None, first
    expected = planned_payloads(Schedule(5, 2, 20, parse_faults(FAULTS)), 11, matched[4])
    assert (matched[1], matched[2], matched[3], matched[5]) == (
        str(len(expected)), "mqtt://127.0.0.1:18883", "1", "11")
    assert receiver.receive(len(expected)) == [("sensors", p, 1) for p in expected]
    assert_nothing_else_arrives(mqtt_broker, receiver)
    assert counts == [
        "  clean               28",
        "  gap                  9 withheld",
        "  duplicate            3",
        "  late                 2",
        "  clock_behind        11",
        "  malformed            2",
    ]


def test_the_generator_publishes_over_tls(mqtt_broker: MqttBroker,
                                          receiver: BrokerClient) -> None:
    result = generate(mqtt_broker, "--rate", "5", "--duration", "0.4", "--seed", "5", "--tls")
    assert result.returncode == 0, result.stderr
    matched = FIRST_LINE.fullmatch(result.stdout.splitlines()[0])
    assert matched is not None, result.stdout
    assert (matched[1], matched[2], matched[3]) == ("10", "mqtts://127.0.0.1:18884", "0")
    expected = planned_payloads(Schedule(5, 0.4), 5, matched[4])
    # The receiver subscribed at QoS 1; the broker delivers at the lower of the two.
    assert receiver.receive(10) == [("sensors", p, 0) for p in expected]
    assert_nothing_else_arrives(mqtt_broker, receiver)
