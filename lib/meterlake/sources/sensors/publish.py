"""Sends a generator plan (`generate.plan_messages`) to an MQTT broker, each message at its
planned instant, as the sensors' user. The broker and the user come from the options, else from
the environment `infra/mosquitto.sh env` prints (`eval "$(bash infra/mosquitto.sh env)"`):

    MQTT_HOST, MQTT_PORT (MQTT_TLS_PORT with TLS), MQTT_TOPIC, MQTT_CA_FILE (with TLS),
    MQTT_PUBLISHER_USER, and MQTT_PUBLISHER_PASSWORD (only ever from the environment)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from meterlake.sources.sensors import TOPIC
from meterlake.sources.sensors.generate import PlannedMessage, labels_of

PASSWORD_VARIABLE = "MQTT_PUBLISHER_PASSWORD"
# Without the environment: the MQTT defaults, as the reference generator's generator.env has.
DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TLS_PORT, DEFAULT_USER = "localhost", 1883, 8883, "sensor"
CONNECT_TIMEOUT_S = 30
# How long the last messages may take to be written (QoS 0) or acknowledged (QoS 1).
DRAIN_TIMEOUT_S = 60


class BrokerError(ConnectionError):
    """The broker cannot be reached, refused us, or did not take every message."""


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    user: str
    password: str
    topic: str
    qos: int
    ca_file: str | None  # TLS, trusting this CA, when set
    client_id: str

    @property
    def address(self) -> str:
        return f"{'mqtts' if self.ca_file else 'mqtt'}://{self.host}:{self.port}"


def broker_settings(environ: Mapping[str, str], *, client_id: str, qos: int = 0,
                    tls: bool = False, host: str | None = None, port: int | None = None,
                    user: str | None = None, topic: str | None = None,
                    ca_file: str | None = None) -> BrokerSettings:
    """The options given, else the environment's MQTT_* variables, else the MQTT defaults."""
    password = environ.get(PASSWORD_VARIABLE, "")
    if not password:
        raise LookupError(f"the publisher's password is read from the environment variable "
                          f"{PASSWORD_VARIABLE}, which is not set or empty (for the local "
                          "broker: eval \"$(bash infra/mosquitto.sh env)\")")
    if qos not in (0, 1):
        raise ValueError(f"the QoS must be 0 or 1, got {qos}")
    port_variable, default_port = ("MQTT_TLS_PORT", DEFAULT_TLS_PORT) if tls else (
        "MQTT_PORT", DEFAULT_PORT)
    ca_file = ca_file or (environ.get("MQTT_CA_FILE") if tls else None)
    if tls and not ca_file:
        raise LookupError("TLS needs the CA to trust: --ca-file, or MQTT_CA_FILE")
    return BrokerSettings(
        host=host or environ.get("MQTT_HOST", DEFAULT_HOST),
        port=port or int(environ.get(port_variable, default_port)),
        user=user or environ.get("MQTT_PUBLISHER_USER", DEFAULT_USER), password=password,
        topic=topic or environ.get("MQTT_TOPIC", TOPIC), qos=qos,
        ca_file=ca_file if tls else None, client_id=client_id)


class Publisher:
    """A connected MQTT 5 client, its network loop on a thread of its own; `with` connects
    (BrokerError if refused) and, at the end, disconnects."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set(settings.user, settings.password)
        if settings.ca_file:
            self.client.tls_set(ca_certs=settings.ca_file)
        self._connack: ReasonCode | None = None
        self._connected = threading.Event()
        self.client.on_connect = self._on_connect

    def __enter__(self) -> Publisher:
        try:
            self.client.connect(self.settings.host, self.settings.port)
        except OSError as error:  # refused, unreachable, or a TLS handshake that failed
            raise BrokerError(f"cannot connect to {self.settings.address}: {error}") from None
        self.client.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self._close()
            raise BrokerError(f"no answer from {self.settings.address} in {CONNECT_TIMEOUT_S} s")
        if self._connack is None or self._connack.is_failure:
            self._close()
            raise BrokerError(f"{self.settings.address} refused {self.settings.user!r}: "
                              f"{self._connack}")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._close()

    def publish_on_time(self, messages: Iterable[PlannedMessage],
                        start: datetime) -> Counter[str]:
        """Publishes each message when its `publish_at` comes (`start` is now), skipping those
        a gap withheld; waits until the last is written (QoS 0) or acknowledged (QoS 1).
        Returns the messages' tally (`generate.tally`) plus `undelivered`: the publishes that
        failed (the connection was lost) or were not written or acknowledged in time."""
        started = time.monotonic()
        counts: Counter[str] = Counter()
        in_flight: deque[MQTTMessageInfo] = deque()
        for message in messages:
            counts.update(labels_of(message))
            if message.payload is None:
                continue
            delay_s = (message.publish_at - start).total_seconds() - (time.monotonic() - started)
            if delay_s > 0:
                time.sleep(delay_s)
            in_flight.append(self.client.publish(self.settings.topic, message.payload,
                                                 self.settings.qos))
            counts["published"] += 1
            counts["undelivered"] += _forget_finished(in_flight)
        counts["undelivered"] += self._drain(in_flight)
        return counts

    def _drain(self, in_flight: deque[MQTTMessageInfo]) -> int:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        undelivered = 0
        while in_flight:
            info = in_flight.popleft()
            if _outcome(info) is None:
                # A failure raises here; _outcome says so next.
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            undelivered += _outcome(info) is not True
        return undelivered

    def _on_connect(self, _client: Client, _userdata: Any, _flags: ConnectFlags,
                    reason: ReasonCode, _properties: Properties | None) -> None:
        self._connack = reason
        self._connected.set()

    def _close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _outcome(info: MQTTMessageInfo) -> bool | None:
    """True once the publish is written (QoS 0) or acknowledged (QoS 1), False if it failed
    (the client had lost the connection), None while it is under way."""
    if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
        return False
    try:
        return True if info.is_published() else None
    except (RuntimeError, ValueError):
        return False


def _forget_finished(in_flight: deque[MQTTMessageInfo]) -> int:
    """Drops the finished publishes from the front of `in_flight` (a long run must not keep
    them all); returns how many of them failed."""
    failed = 0
    while in_flight and (outcome := _outcome(in_flight[0])) is not None:
        in_flight.popleft()
        failed += not outcome
    return failed
