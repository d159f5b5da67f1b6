"""The MQTT receiver: subscribes to the sensors' topic and lands what arrives, in batches, before
acknowledging it. No Spark.

Delivery is at least once, and nothing the broker accepted is lost:
- The subscriber speaks MQTT 5 with a fixed client id, `clean_start=False` and a session expiry
  interval (7 days by default): while it is down, the broker keeps its subscription and queues
  what is published (within the broker's own limits, e.g. Mosquitto's `max_queued_messages`).
- It subscribes with QoS 1 and acknowledges manually: a message's PUBACK is sent only after the
  batch holding it is durable in the landing zone (`land_bytes` returned). A receiver killed
  before that gets the message again from the broker on restart, so a batch may be landed again
  in part: the same message twice, once per landed object (downstream deduplicates by sensor id
  and `dt`). `SessionLedger` keeps redeliveries within one process from being landed twice.
- A batch is flushed every `batch_messages` messages or `batch_seconds` after its first one
  arrived (a timer, whether or not more arrive), and on shutdown. The broker may send up to
  `batch_messages` unacknowledged messages (MQTT 5 Receive Maximum), so a full batch can form.
- When landing fails (the disk, the object store down), the batch is retried with backoff into
  the same slot, unacknowledged, for as long as it takes; meanwhile the broker stops sending
  once the unacknowledged messages reach the Receive Maximum. A stop requested while landing
  fails leaves the batch to the broker, unacknowledged.

Every message is landed, a malformed payload too (flagged by `check_payload`); the format is
`meterlake.sources.sensors.landed`. `received_at` is this process's clock when the message
arrived: Mosquitto does not stamp messages.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from meterlake.core.instants import utc_now_ms
from meterlake.core.object_store import ObjectStoreError
from meterlake.receive.landing import LandedFile, land_bytes, reserve_slot
from meterlake.receive.mqtt_batching import Batcher, Delivery, SessionLedger
from meterlake.receive.mqtt_metrics import ReceiverMetrics
from meterlake.receive.mqtt_settings import MqttSettings
from meterlake.sources.sensors import NAME
from meterlake.sources.sensors.landed import (
    ReceivedMessage,
    batch_name,
    encode_batch,
    format_received_at,
)

if TYPE_CHECKING:
    from meterlake.receive.landing import ObjectStore

log = logging.getLogger(__name__)

MAX_RECEIVE_MAXIMUM = 65535  # MQTT 5 Receive Maximum is two bytes
_POLL_SECONDS = 0.2  # how soon a stop request or a deadline is noticed
_CONNECT_TIMEOUT_SECONDS = 30.0
_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_MAX_SECONDS = 30.0


class BrokerError(RuntimeError):
    """The broker cannot be reached, refuses the credentials or the subscription."""


@dataclass
class ReceiveSummary:
    """What one `run` did."""

    received: int = 0  # new messages from the broker
    redelivered: int = 0  # redeliveries of messages still held: not landed again
    landed: int = 0
    malformed: int = 0  # of those landed, with a payload_problem
    batches: int = 0
    landing_failures: int = 0  # attempts; each was retried
    gave_up: bool = False  # a stop came while a batch could not be landed

    @property
    def not_landed(self) -> int:
        """Received and left to the broker, unacknowledged: it delivers them again."""
        return self.received - self.landed


class MqttReceiver:
    """Receives `settings.topic` into the landing zone under `sensors` (module docstring).

    `run` blocks until `max_messages` were received, `duration_seconds` passed or
    `request_stop` was called (safe from a signal handler), then lands what it holds,
    acknowledges it and disconnects. `pause(seconds)` waits between landing attempts and says
    whether to give up (default: until a stop is requested).
    """

    def __init__(self, settings: MqttSettings, landing_root: str | Path, *,
                 batch_messages: int = 1000, batch_seconds: float = 5.0,
                 object_store: ObjectStore = None, metrics: ReceiverMetrics | None = None,
                 pause: Callable[[float], bool] | None = None) -> None:
        if not 1 <= batch_messages <= MAX_RECEIVE_MAXIMUM:
            raise ValueError(f"batch_messages must be from 1 to {MAX_RECEIVE_MAXIMUM}")
        self.settings = settings
        self.metrics = metrics or ReceiverMetrics.new()
        self._landing_root = str(landing_root)
        self._object_store = object_store
        self._batcher = Batcher(batch_messages, batch_seconds)
        self._ledger = SessionLedger()
        self._arrivals: queue.Queue[Delivery] = queue.Queue()
        self._stop = threading.Event()
        self._pause = pause or self._stop.wait
        self._ready = threading.Event()
        self._disconnected = threading.Event()
        self._fatal: str | None = None
        self._summary = ReceiveSummary()
        self._client = self._new_client()

    def request_stop(self) -> None:
        self._stop.set()

    def wait_until_subscribed(self, timeout_seconds: float) -> bool:
        """Whether `run` got its subscription (or failed to) within the timeout."""
        return self._ready.wait(timeout_seconds)

    def run(self, *, max_messages: int | None = None,
            duration_seconds: float | None = None) -> ReceiveSummary:
        self._connect()
        try:
            self._receive(max_messages, duration_seconds)
        finally:
            self._flush()
            self._disconnect()
        return replace(self._summary)

    # -- the broker side (callbacks run on paho's network thread) --------------------------

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.settings.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        client.username_pw_set(self.settings.user, self.settings.password)
        if self.settings.ca_file:
            client.tls_set(ca_certs=self.settings.ca_file)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.settings.session_expiry_seconds
        properties.ReceiveMaximum = self._batcher.max_messages
        return properties

    def _connect(self) -> None:
        """Connects and subscribes, or raises BrokerError; paho reconnects after that."""
        where = f"{self.settings.url} as {self.settings.user}"
        try:
            self._client.connect(self.settings.host, self.settings.port,
                                 keepalive=self.settings.keepalive_seconds, clean_start=False,
                                 properties=self._connect_properties())
        except (OSError, ValueError) as error:
            raise BrokerError(f"cannot connect to {where}: {error}") from None
        self._client.loop_start()
        if not self._ready.wait(_CONNECT_TIMEOUT_SECONDS) or self._fatal:
            self._client.disconnect()
            self._client.loop_stop()
            raise BrokerError(f"{where}: {self._fatal or 'no answer to CONNECT or SUBSCRIBE'}")
        log.info("receiving %s as %s (client id %s), landing in %s", self.settings.url,
                 self.settings.user, self.settings.client_id, self._landing_root)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: mqtt.ConnectFlags,
                    reason: Any, _properties: Any) -> None:
        if reason.is_failure:
            if not self._ready.is_set():  # the first connection: `run` says it and stops
                self._fatal = f"the broker refused the connection: {reason}"
                self._ready.set()
            else:
                log.error("the broker refused the connection: %s; trying again", reason)
            return
        self._ledger.connected(flags.session_present)
        log.info("connected (session %s)", "resumed" if flags.session_present else "new")
        # Retained messages only when the subscription is new: not again on every reconnect.
        client.subscribe(self.settings.topic, options=SubscribeOptions(
            qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB))

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int,
                      reasons: list[Any], _properties: Any) -> None:
        refused = [reason for reason in reasons if reason.is_failure]
        if refused:
            self._fatal = (f"the broker refused the subscription to {self.settings.topic}: "
                           f"{refused[0]}")
            if self._ready.is_set():  # after a reconnect; on the first, `run` says it
                log.error("%s; stopping", self._fatal)
            self._stop.set()
        self._ready.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        received = ReceivedMessage.checked(message.topic, bytes(message.payload), utc_now_ms(),
                                           message.qos, message.mid, bool(message.retain),
                                           bool(message.dup))
        delivery = self._ledger.receive(received, self._acknowledge)
        if delivery is None:
            self._summary.redelivered += 1
            self.metrics.messages_redelivered.inc()
            return
        self._summary.received += 1
        self.metrics.messages_received.inc()
        self.metrics.messages_held.set(self._ledger.held)
        self._arrivals.put(delivery)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:
        self._ledger.disconnected()
        self._disconnected.set()
        if self._ready.is_set() and not (self._stop.is_set() or self._fatal):
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _acknowledge(self, mid: int, qos: int) -> bool:
        return self._client.ack(mid, qos) == mqtt.MQTT_ERR_SUCCESS

    def _disconnect(self) -> None:
        """Sends the acknowledgements queued so far, then DISCONNECT (written after them)."""
        self._stop.set()
        self._disconnected.clear()
        if self._client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
            self._disconnected.wait(_CONNECT_TIMEOUT_SECONDS)
        self._client.loop_stop()

    # -- the landing side (the thread calling `run`) -------------------------------------

    def _receive(self, max_messages: int | None, duration_seconds: float | None) -> None:
        deadline = None if duration_seconds is None else time.monotonic() + duration_seconds
        taken = 0
        while not self._stop.is_set() and (max_messages is None or taken < max_messages):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            due = self._batcher.seconds_until_due()
            wait = min(_POLL_SECONDS, _POLL_SECONDS if due is None else due,
                       _POLL_SECONDS if deadline is None else deadline - now)
            try:
                self._batcher.add(self._arrivals.get(timeout=max(wait, 0.0)))
                taken += 1
            except queue.Empty:
                pass
            if self._batcher.is_due:
                self._flush()
        if self._fatal:
            raise BrokerError(f"{self.settings.url}: {self._fatal}")

    def _flush(self) -> None:
        deliveries = self._batcher.take()
        if not deliveries:
            return
        messages = [delivery.message for delivery in deliveries]
        landed = self._land(messages)
        if landed is None:
            self._summary.gave_up = True
            return
        durable_at = datetime.now(UTC)
        malformed = sum(message.payload_problem is not None for message in messages)
        for message in messages:
            lag = (durable_at - message.received_at).total_seconds()
            self.metrics.landing_lag_seconds.observe(max(lag, 0.0))
        self._summary.landed += len(messages)
        self._summary.malformed += malformed
        self._summary.batches += 1
        self.metrics.messages_landed.inc(len(messages))
        self.metrics.malformed_payloads.inc(malformed)
        self.metrics.batches_flushed.inc()
        self.metrics.last_flush_timestamp_seconds.set(durable_at.timestamp())
        acknowledged = self._ledger.settle(deliveries, self._acknowledge)
        self.metrics.messages_held.set(self._ledger.held)
        log.info("landed batch %d: %d messages (%d malformed) as %s; %d acknowledged",
                 self._summary.batches, len(messages), malformed, landed.landing_path,
                 acknowledged)

    def _land(self, messages: list[ReceivedMessage]) -> LandedFile | None:
        """Lands the batch, retrying into one slot until it is durable; None when a stop was
        requested while landing failed (the broker keeps the messages)."""
        name = batch_name(messages[0].received_at, self.settings.client_id,
                          self._summary.batches + 1)
        data = encode_batch(messages)
        slot = reserve_slot(self._landing_root, NAME, name)
        context = {"client_id": self.settings.client_id, "broker": self.settings.url,
                   "messages": str(len(messages)),
                   "first_received_at": format_received_at(messages[0].received_at),
                   "last_received_at": format_received_at(messages[-1].received_at)}
        attempt = 0
        while True:
            attempt += 1
            try:
                return land_bytes(self._landing_root, NAME, name, data,
                                  sender=self.settings.client_id, slot=slot, context=context,
                                  object_store=self._object_store)
            except (OSError, ObjectStoreError) as error:
                self._summary.landing_failures += 1
                self.metrics.landing_failures.inc()
                wait = min(_BACKOFF_MAX_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                log.warning("landing %s failed (attempt %d): %s; %d messages stay "
                            "unacknowledged, retrying in %.1f s", name, attempt, error,
                            len(messages), wait)
            if self._pause(wait):
                log.error("stopping: %d messages of %s not landed and not acknowledged; the "
                          "broker delivers them again", len(messages), name)
                return None
