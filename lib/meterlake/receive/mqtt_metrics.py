"""The MQTT receiver's counters, served for Prometheus on `http://127.0.0.1:<port>/metrics`.

Each receiver has a registry of its own (not prometheus_client's global one), so two receivers
in one process (the tests) count apart. Names start with `meterlake_mqtt_`; counters get
Prometheus' `_total` suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# From a batch flushed on its size at a high rate to one that waited out a long timer, and
# landing retried through an object-store outage.
LAG_BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass(frozen=True)
class ReceiverMetrics:
    registry: CollectorRegistry
    messages_received: Counter
    messages_redelivered: Counter
    messages_landed: Counter
    malformed_payloads: Counter
    batches_flushed: Counter
    landing_failures: Counter
    landing_lag_seconds: Histogram
    last_flush_timestamp_seconds: Gauge
    messages_held: Gauge

    @staticmethod
    def new() -> ReceiverMetrics:
        registry = CollectorRegistry()

        def counter(name: str, text: str) -> Counter:
            return Counter(f"meterlake_mqtt_{name}", text, registry=registry)

        return ReceiverMetrics(
            registry=registry,
            messages_received=counter(
                "messages_received", "MQTT messages received (redeliveries of messages still "
                "held not counted again)"),
            messages_redelivered=counter(
                "messages_redelivered", "Redeliveries of messages received and not yet "
                "acknowledged: not landed again"),
            messages_landed=counter("messages_landed", "Messages in batches durably landed"),
            malformed_payloads=counter(
                "malformed_payloads", "Messages landed with a payload_problem (not a sensor "
                "message by the contract)"),
            batches_flushed=counter("batches_flushed", "Batches durably landed"),
            landing_failures=counter(
                "landing_failures", "Failed attempts to land a batch (each is retried; its "
                "messages stay unacknowledged)"),
            landing_lag_seconds=Histogram(
                "meterlake_mqtt_landing_lag_seconds", "Seconds from a message's receipt to its "
                "batch being durable", buckets=LAG_BUCKETS_SECONDS, registry=registry),
            last_flush_timestamp_seconds=Gauge(
                "meterlake_mqtt_last_flush_timestamp_seconds", "Unix time of the last batch "
                "durably landed", registry=registry),
            messages_held=Gauge(
                "meterlake_mqtt_messages_held", "QoS 1 messages received and not acknowledged "
                "yet (waiting for their batch to land)", registry=registry),
        )


@contextmanager
def serving_metrics(metrics: ReceiverMetrics, port: int) -> Iterator[int]:
    """Serves `/metrics` on 127.0.0.1:`port` (0: any free port) while inside; yields the port."""
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
