"""What the MQTT receiver decides without a network: when a batch is due (`Batcher`), and which
messages may be acknowledged and which arrivals are redeliveries (`SessionLedger`). Pure; the
clock and the acknowledgement are passed in, so both are unit-tested without a broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from meterlake.sources.sensors.landed import ReceivedMessage

# Sends the acknowledgement of (mid, qos); whether it was handed to the connection.
Acknowledge = Callable[[int, int], bool]


@dataclass(frozen=True)
class Delivery:
    """A received message and the broker session that delivered it (`SessionLedger`)."""

    message: ReceivedMessage
    session: int

    @property
    def needs_ack(self) -> bool:
        return self.message.qos > 0


class Batcher:
    """Collects deliveries into batches. A batch is due once it holds `max_messages`, or
    `max_seconds` after its first delivery arrived, whether or not more arrive: a quiet topic
    must not keep messages unlanded (and unacknowledged) indefinitely."""

    def __init__(self, max_messages: int, max_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_messages < 1 or max_seconds <= 0:
            raise ValueError("a batch needs max_messages >= 1 and max_seconds > 0")
        self.max_messages = max_messages
        self.max_seconds = max_seconds
        self._clock = clock
        self._deliveries: list[Delivery] = []
        self._started = 0.0

    def __len__(self) -> int:
        return len(self._deliveries)

    def add(self, delivery: Delivery) -> None:
        if not self._deliveries:
            self._started = self._clock()
        self._deliveries.append(delivery)

    def seconds_until_due(self) -> float | None:
        """None while empty; 0 once due."""
        if not self._deliveries:
            return None
        if len(self._deliveries) >= self.max_messages:
            return 0.0
        return max(0.0, self._started + self.max_seconds - self._clock())

    @property
    def is_due(self) -> bool:
        return self.seconds_until_due() == 0.0

    def take(self) -> list[Delivery]:
        """The batch so far, in arrival order; the batcher starts empty again."""
        taken, self._deliveries = self._deliveries, []
        return taken


class SessionLedger:
    """Which QoS 1 deliveries may be acknowledged, and which arrivals are redeliveries.

    A message is acknowledged only once its batch is durable, only while connected, and only in
    the broker session that delivered it. When the receiver reconnects to the session the broker
    kept, the broker sends every unacknowledged message again under the same packet id (`mid`),
    which it cannot give to another message meanwhile: an id still held here is a redelivery.
    One whose batch is not landed yet is not added again; one already landed (its acknowledgement
    could not be sent) is acknowledged at once. When the receiver gets a new session instead (the
    old one expired, or the broker lost it), the old ids mean nothing, and acknowledging one could
    acknowledge an unrelated new message before it is landed: they are never sent.

    Callbacks of the network thread (`connected`, `disconnected`, `receive`) and the landing
    thread (`settle`) meet under one lock, so an acknowledgement is never sent across a change of
    session.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session = 0
        self._is_connected = False
        self._held: dict[int, bool] = {}  # mid -> whether its batch is landed

    def connected(self, session_present: bool) -> None:
        with self._lock:
            if not session_present:
                self._session += 1
                self._held.clear()
            self._is_connected = True

    def disconnected(self) -> None:
        with self._lock:
            self._is_connected = False

    def receive(self, message: ReceivedMessage, acknowledge: Acknowledge) -> Delivery | None:
        """The delivery to batch, or None for a redelivery of a held message."""
        with self._lock:
            if message.qos == 0:
                return Delivery(message, self._session)
            is_landed = self._held.get(message.mid)
            if is_landed is None:
                self._held[message.mid] = False
                return Delivery(message, self._session)
            if is_landed and acknowledge(message.mid, message.qos):
                del self._held[message.mid]
            return None

    def settle(self, landed: list[Delivery], acknowledge: Acknowledge) -> int:
        """Acknowledges what can be of a landed batch; the number acknowledged. The rest waits
        for its redelivery (same session) or is never acknowledged (an older one)."""
        sent = 0
        with self._lock:
            for delivery in landed:
                mid = delivery.message.mid
                if not delivery.needs_ack or delivery.session != self._session:
                    continue
                if self._is_connected and acknowledge(mid, delivery.message.qos):
                    self._held.pop(mid, None)
                    sent += 1
                else:
                    self._held[mid] = True
        return sent

    @property
    def held(self) -> int:
        """Messages received in this session and not acknowledged yet."""
        with self._lock:
            return len(self._held)
