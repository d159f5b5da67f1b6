"""The tests' MQTT broker: Mosquitto on loopback, started by the project's own
infra/mosquitto.sh (see the `mqtt_broker` fixture in conftest), and `BrokerClient`, a paho
client (MQTT 5) whose every answer from the broker (CONNACK, SUBACK, PUBACK, messages) a test
can wait for and assert on."""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.helpers.paths import REPO

SCRIPT = REPO / "infra" / "mosquitto.sh"
# Long enough for a broker under a loaded machine; a wait that ends in a timeout fails the test.
ANSWER_TIMEOUT_S = 20
# The first start may install Debian's mosquitto package (`make test` does it before).
START_TIMEOUT_S = 600


def run_script(command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True,
                          timeout=timeout, check=False)


def script_environment() -> dict[str, str]:
    """The `export NAME=value` lines of `infra/mosquitto.sh env`, as a dict."""
    result = run_script("env")
    assert result.returncode == 0, f"mosquitto.sh env failed:\n{result.stderr}"
    return dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())


@dataclass(frozen=True)
class MqttBroker:
    """Where the running broker is and who may use it, as `infra/mosquitto.sh env` prints it."""

    host: str
    port: int
    tls_port: int
    ca_file: Path
    topic: str
    publisher_user: str
    publisher_password: str
    subscriber_user: str
    subscriber_password: str

    @classmethod
    def from_environment(cls, env: dict[str, str]) -> MqttBroker:
        return cls(host=env["MQTT_HOST"], port=int(env["MQTT_PORT"]),
                   tls_port=int(env["MQTT_TLS_PORT"]), ca_file=Path(env["MQTT_CA_FILE"]),
                   topic=env["MQTT_TOPIC"], publisher_user=env["MQTT_PUBLISHER_USER"],
                   publisher_password=env["MQTT_PUBLISHER_PASSWORD"],
                   subscriber_user=env["MQTT_SUBSCRIBER_USER"],
                   subscriber_password=env["MQTT_SUBSCRIBER_PASSWORD"])

    def environment(self) -> dict[str, str]:
        """The MQTT_* variables, as `infra/mosquitto.sh env` exports them."""
        return {"MQTT_HOST": self.host, "MQTT_PORT": str(self.port),
                "MQTT_TLS_PORT": str(self.tls_port), "MQTT_CA_FILE": str(self.ca_file),
                "MQTT_TOPIC": self.topic, "MQTT_PUBLISHER_USER": self.publisher_user,
                "MQTT_PUBLISHER_PASSWORD": self.publisher_password,
                "MQTT_SUBSCRIBER_USER": self.subscriber_user,
                "MQTT_SUBSCRIBER_PASSWORD": self.subscriber_password}

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        """`infra/mosquitto.sh COMMAND` (start, stop, status), its exit code and output."""
        return run_script(command, timeout=START_TIMEOUT_S)

    def restart(self) -> None:
        """Stops the broker (it writes its persistence file) and starts it again."""
        for command in ("stop", "start"):
            result = self.run(command)
            assert result.returncode == 0, f"mosquitto.sh {command} failed:\n{result.stderr}"


@contextmanager
def running_mqtt_broker() -> Iterator[MqttBroker]:
    """The broker running; yields where it is and its users; stops it at the end only when it
    was not running before."""
    was_running = run_script("status").returncode == 0
    try:
        result = run_script("start", timeout=START_TIMEOUT_S)
        assert result.returncode == 0, f"mosquitto.sh start failed:\n{result.stderr[-3000:]}"
        yield MqttBroker.from_environment(script_environment())
    finally:
        if not was_running:
            run_script("stop")


@dataclass(frozen=True)
class Connack:
    reason: tuple[int, str]
    session_present: bool


def reason(code: ReasonCode) -> tuple[int, str]:
    """(value, name) of an MQTT 5 reason code: (0, 'Success'), (135, 'Not authorized')."""
    return code.value, str(code)


class BrokerClient:
    """One MQTT 5 client, its network loop on a thread of its own. Each call waits for the
    broker's answer; received messages wait in `messages`."""

    def __init__(self, client_id: str = "") -> None:
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=MQTTProtocolVersion.MQTTv5)
        self.messages: queue.Queue[MQTTMessage] = queue.Queue()
        self._connacks: queue.Queue[Connack] = queue.Queue()
        self._answers: dict[int, Any] = {}
        self._answered = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _client, _userdata, message: self.messages.put(message)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, *_exception: object) -> None:
        self.close()

    def connect(self, broker: MqttBroker, user: str | None, password: str | None, *,
                tls: bool = False, ca_file: Path | None = None, clean_start: bool = True,
                session_expiry_s: int = 0) -> Connack:
        """Connects and waits for the CONNACK. With `tls`, trusts `ca_file` (None: the system's
        CAs). A refused connection is closed, so that paho does not try again."""
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(ca_certs=str(ca_file) if ca_file else None)
        properties = Properties(PacketTypes.CONNECT)
        if session_expiry_s:
            properties.SessionExpiryInterval = session_expiry_s
        self.client.connect(broker.host, broker.tls_port if tls else broker.port,
                            clean_start=clean_start, properties=properties)
        self.client.loop_start()
        connack = self._connacks.get(timeout=ANSWER_TIMEOUT_S)
        if connack.reason[0] != 0:
            self.close()
        return connack

    def subscribe(self, topic: str, qos: int) -> list[tuple[int, str]]:
        """The SUBACK's reason codes: the granted QoS, or why not."""
        _, mid = self.client.subscribe(topic, qos)
        return [reason(code) for code in self._answer(mid)]

    def publish(self, topic: str, payload: bytes, qos: int) -> tuple[int, str] | None:
        """Publishes; for QoS 1 waits for the PUBACK and returns its reason code, for QoS 0
        waits until the message is written to the socket and returns None."""
        info = self.client.publish(topic, payload, qos)
        if qos == 0:
            info.wait_for_publish(ANSWER_TIMEOUT_S)
            return None
        return reason(self._answer(info.mid))

    def receive(self, count: int) -> list[tuple[str, bytes, int]]:
        """The next `count` messages: (topic, payload, QoS)."""
        received = [self.messages.get(timeout=ANSWER_TIMEOUT_S) for _ in range(count)]
        return [(message.topic, message.payload, message.qos) for message in received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, _client: Client, _userdata: Any, flags: ConnectFlags,
                    code: ReasonCode, _properties: Properties | None) -> None:
        self._connacks.put(Connack(reason(code), flags.session_present))

    def _on_subscribe(self, _client: Client, _userdata: Any, mid: int,
                      codes: list[ReasonCode], _properties: Properties | None) -> None:
        self._record(mid, codes)

    def _on_publish(self, _client: Client, _userdata: Any, mid: int, code: ReasonCode,
                    _properties: Properties | None) -> None:
        self._record(mid, code)

    def _record(self, mid: int, answer: Any) -> None:
        with self._answered:
            self._answers[mid] = answer
            self._answered.notify_all()

    def _answer(self, mid: int) -> Any:
        with self._answered:
            if not self._answered.wait_for(lambda: mid in self._answers, ANSWER_TIMEOUT_S):
                raise TimeoutError(f"no answer from the broker to packet {mid} "
                                   f"in {ANSWER_TIMEOUT_S} s")
            return self._answers.pop(mid)
