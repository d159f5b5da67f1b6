"""The MQTT receiver against the real broker (Mosquitto on loopback, infra/mosquitto.sh) and a
real landing zone: every published message lands once, byte for byte, malformed ones flagged;
nothing is lost while the receiver is stopped or after it crashed before landing (the broker
delivers again what was not acknowledged); landing failures are retried and counted; /metrics
counts exactly; `meterlake receive mqtt` end to end, over TLS, and on the object store.

Each test uses a client id of its own and removes its broker session at the end, so no session
keeps collecting the other tests' messages."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from meterlake.core.config import ObjectStoreSettings
from meterlake.receive.landing import (
    META_SUFFIX,
    LandedFile,
    is_landed,
    list_landed,
    read_landed_bytes,
)
from meterlake.receive.mqtt_metrics import serving_metrics
from meterlake.receive.mqtt_receiver import MqttReceiver, ReceiveSummary
from meterlake.receive.mqtt_settings import MqttSettings
from meterlake.serve.local_process import free_port
from meterlake.sources.sensors import NAME
from meterlake.sources.sensors.landed import (
    ReceivedMessage,
    check_payload,
    decode_batch,
    format_received_at,
)
from tests.helpers.mqtt_broker import BrokerClient, MqttBroker
from tests.helpers.object_store_server import ObjectStore
from tests.helpers.paths import BIN, FIXTURES, REPO

CAPTURED = (FIXTURES / "iot" / "2025-11-12_Sensor_1.jsonl").read_bytes().splitlines()
MALFORMED = [b"not json", b'{"id": "Sensor 1", "dt": "2025-11-12T08:32:34+01:00", "value": 2}',
             b"\xff\xfe"]
WAIT_S = 60
METRICS_LINE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")


@pytest.fixture
def client_id(mqtt_broker: MqttBroker) -> Iterator[str]:
    """A client id of the test's own; its session is removed at the end (a clean start with
    no expiry replaces it, and ends with the connection)."""
    client_id = f"test-receiver-{uuid.uuid4().hex[:8]}"
    yield client_id
    with BrokerClient(client_id) as cleaner:
        cleaner.connect(mqtt_broker, mqtt_broker.subscriber_user,
                        mqtt_broker.subscriber_password, clean_start=True)


def _settings(broker: MqttBroker, client_id: str, *, tls: bool = False) -> MqttSettings:
    return MqttSettings.from_environment(broker.environment(), tls=tls, client_id=client_id)


def _open_session(broker: MqttBroker, client_id: str) -> None:
    """Creates `client_id`'s persistent session subscribed to the topic, then goes away: what is
    published from now on waits for that client, however late its receiver starts."""
    with BrokerClient(client_id) as client:
        client.connect(broker, broker.subscriber_user, broker.subscriber_password,
                       clean_start=False, session_expiry_s=600)
        assert client.subscribe(broker.topic, 1) == [(1, "Granted QoS 1")]


def _publish(broker: MqttBroker, payloads: list[bytes]) -> None:
    """Publishes as the sensors' user with QoS 1, each acknowledged by the broker."""
    with BrokerClient() as sensor:
        sensor.connect(broker, broker.publisher_user, broker.publisher_password)
        for payload in payloads:
            assert sensor.publish(broker.topic, payload, 1) == (0, "Success")


@contextmanager
def _running(receiver: MqttReceiver,
             max_messages: int | None = None) -> Iterator[Future[ReceiveSummary]]:
    """`receiver.run(max_messages=...)` on a thread, subscribed before the body runs."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = pool.submit(receiver.run, max_messages=max_messages)
        assert receiver.wait_until_subscribed(WAIT_S)
        try:
            yield run
        finally:
            receiver.request_stop()


def _landed(root: Path | str, **store: ObjectStoreSettings) -> list[tuple[LandedFile,
                                                                        list[ReceivedMessage]]]:
    return [(file, decode_batch(read_landed_bytes(file.landing_path, **store),
                                file.original_name))
            for file in list_landed(root, NAME, **store)]


def _lines(root: Path | str) -> list[ReceivedMessage]:
    return [message for _, messages in _landed(root) for message in messages]


def _scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {sample.name.removeprefix("meterlake_mqtt_"): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name.startswith("meterlake_mqtt_") and not sample.name.endswith("_created")}


def test_every_message_lands_once_with_its_bytes_malformed_ones_flagged(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    payloads = [*CAPTURED[:3], MALFORMED[0], *CAPTURED[3:6], MALFORMED[1], CAPTURED[6],
                MALFORMED[2]]
    _open_session(mqtt_broker, client_id)
    _publish(mqtt_broker, payloads)
    receiver = MqttReceiver(_settings(mqtt_broker, client_id), tmp_path / "landing",
                            batch_messages=4, batch_seconds=3600)
    with serving_metrics(receiver.metrics, 0) as port:
        summary = receiver.run(max_messages=10)
        metrics = _scrape(port)

    assert summary == ReceiveSummary(received=10, landed=10, malformed=3, batches=3)
    batches = _landed(tmp_path / "landing")
    assert [len(messages) for _, messages in batches] == [4, 4, 2]
    lines = [message for _, messages in batches for message in messages]
    assert [line.payload for line in lines] == payloads
    assert [line.payload_problem for line in lines] == [check_payload(p) for p in payloads]
    assert [line.payload_problem is not None for line in lines] == [
        False, False, False, True, False, False, False, True, False, True]
    assert {(line.topic, line.qos, line.retain, line.dup) for line in lines} == {
        ("sensors", 1, False, False)}
    assert len({line.mid for line in lines}) == 10
    assert [line.received_at for line in lines] == sorted(line.received_at for line in lines)
    for sequence, (file, messages) in enumerate(batches, start=1):
        stamp = messages[0].received_at.strftime("%Y%m%dT%H%M%S%f")[:-3]
        assert file.original_name == f"mqtt-{stamp}Z-{client_id}-{sequence:08d}.jsonl"
        assert (file.sender, file.context) == (client_id, {
            "client_id": client_id, "messages": str(len(messages)),
            "broker": f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/sensors",
            "first_received_at": format_received_at(messages[0].received_at),
            "last_received_at": format_received_at(messages[-1].received_at)})
        assert is_landed(file.landing_path) and Path(file.landing_path + META_SUFFIX).is_file()
    assert {name: metrics[name] for name in (
        "messages_received_total", "messages_landed_total", "malformed_payloads_total",
        "batches_flushed_total", "landing_failures_total", "messages_redelivered_total",
        "landing_lag_seconds_count", "messages_held")} == {
        "messages_received_total": 10, "messages_landed_total": 10,
        "malformed_payloads_total": 3, "batches_flushed_total": 3, "landing_failures_total": 0,
        "messages_redelivered_total": 0, "landing_lag_seconds_count": 10, "messages_held": 0}
    assert metrics["last_flush_timestamp_seconds"] >= lines[-1].received_at.timestamp()


def test_qos_0_messages_land_without_a_packet_id(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    """The reference generator publishes at QoS 0: delivered at QoS 0, nothing to acknowledge
    (and nothing the broker keeps for an absent receiver)."""
    receiver = MqttReceiver(_settings(mqtt_broker, client_id), tmp_path / "landing",
                            batch_messages=2, batch_seconds=3600)
    with _running(receiver, max_messages=2) as run, BrokerClient() as sensor:
        sensor.connect(mqtt_broker, mqtt_broker.publisher_user, mqtt_broker.publisher_password)
        for payload in CAPTURED[:2]:
            assert sensor.publish(mqtt_broker.topic, payload, 0) is None
        assert run.result(WAIT_S) == ReceiveSummary(received=2, landed=2, batches=1)
    assert [(line.payload, line.qos, line.mid) for line in _lines(tmp_path / "landing")] == [
        (payload, 0, 0) for payload in CAPTURED[:2]]


def test_a_full_batch_forms_beyond_the_brokers_default_in_flight_window(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    """Mosquitto sends a client 20 unacknowledged messages unless it asks for more (Receive
    Maximum): a batch of 25 would otherwise only ever be flushed by its timer."""
    _open_session(mqtt_broker, client_id)
    _publish(mqtt_broker, CAPTURED[:50])
    receiver = MqttReceiver(_settings(mqtt_broker, client_id), tmp_path / "landing",
                            batch_messages=25, batch_seconds=3600)
    with _running(receiver, max_messages=50) as run:
        assert run.result(WAIT_S) == ReceiveSummary(received=50, landed=50, batches=2)
    batches = _landed(tmp_path / "landing")
    assert [[line.payload for line in lines] for _, lines in batches] == [CAPTURED[:25],
                                                                          CAPTURED[25:50]]


def test_what_is_published_while_the_receiver_is_stopped_lands_after_it_restarts(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    first = MqttReceiver(_settings(mqtt_broker, client_id), landing, batch_messages=1)
    with _running(first, max_messages=1) as run:
        _publish(mqtt_broker, [CAPTURED[0]])
        assert run.result(WAIT_S).landed == 1
    _publish(mqtt_broker, CAPTURED[1:6])  # nobody connected as client_id
    again = MqttReceiver(_settings(mqtt_broker, client_id), landing, batch_messages=5)
    assert again.run(max_messages=5) == ReceiveSummary(received=5, landed=5, batches=1)
    assert [line.payload for line in _lines(landing)] == CAPTURED[:6]


def _start_cli(broker: MqttBroker, client_id: str, landing: Path,
               *options: str) -> tuple[subprocess.Popen[str], int]:
    """`meterlake receive mqtt` in its own process; it and its metrics port."""
    env = {**os.environ, **broker.environment()}
    process = subprocess.Popen(
        [str(BIN / "meterlake"), "receive", "mqtt", "--client-id", client_id, "--landing",
         str(landing), "--metrics-port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    assert process.stdout is not None
    found = METRICS_LINE.fullmatch(process.stdout.readline().strip())
    assert found, process.stderr.read() if process.stderr else ""
    return process, int(found[1])


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {WAIT_S} s"
        time.sleep(0.1)


def test_a_batch_not_landed_before_a_crash_is_delivered_again_and_landed(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    """The receiver is killed (SIGKILL) holding three messages in a batch whose timer is an hour
    away: nothing was landed or acknowledged, so the broker sends them again to the restarted
    receiver (DUP set). Killed between landing and acknowledging, it would land them twice:
    at least once, and downstream deduplicates by (sensor id, dt)."""
    landing = tmp_path / "landing"
    _open_session(mqtt_broker, client_id)
    process, port = _start_cli(mqtt_broker, client_id, landing, "--batch-seconds", "3600")
    try:
        _publish(mqtt_broker, CAPTURED[:3])
        _wait_for(lambda: _scrape(port)["messages_received_total"] == 3, "3 messages received")
    finally:
        process.kill()
        process.communicate(timeout=WAIT_S)
    assert list_landed(landing, NAME) == []

    again = MqttReceiver(_settings(mqtt_broker, client_id), landing, batch_messages=3)
    assert again.run(max_messages=3) == ReceiveSummary(received=3, landed=3, batches=1)
    lines = _lines(landing)
    assert [(line.payload, line.dup) for line in lines] == [(p, True) for p in CAPTURED[:3]]


def test_sigterm_lands_and_acknowledges_the_batch_in_hand(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    _open_session(mqtt_broker, client_id)
    process, port = _start_cli(mqtt_broker, client_id, landing, "--batch-seconds", "3600")
    _publish(mqtt_broker, [*CAPTURED[:2], MALFORMED[0]])
    _wait_for(lambda: _scrape(port)["messages_received_total"] == 3, "3 messages received")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=WAIT_S)
    assert (process.returncode, stdout) == (0, (
        "received 3 messages, landed 3 (1 malformed) in 1 batches; 0 redeliveries skipped, "
        "0 failed landing attempts\n")), stderr
    assert "SIGTERM: landing what is in hand, then stopping" in stderr

    # Had an acknowledgement been lost, the broker would send that message again before this.
    _publish(mqtt_broker, [CAPTURED[3]])
    after = MqttReceiver(_settings(mqtt_broker, client_id), landing, batch_messages=1)
    assert after.run(max_messages=1).landed == 1
    assert [line.payload for line in _lines(landing)] == [*CAPTURED[:2], MALFORMED[0],
                                                          CAPTURED[3]]


def test_a_failed_landing_is_retried_unacknowledged_and_counted(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    """A file where the landing directory should be fails every write (OSError); the backoff
    wait replaces it by a directory, and the retry lands the batch."""
    landing = tmp_path / "landing"
    landing.write_text("in the way")
    waits: list[float] = []

    def pause(seconds: float) -> bool:
        waits.append(seconds)
        landing.unlink()
        landing.mkdir()
        return False

    _open_session(mqtt_broker, client_id)
    _publish(mqtt_broker, CAPTURED[:2])
    receiver = MqttReceiver(_settings(mqtt_broker, client_id), landing, batch_messages=2,
                            pause=pause)
    summary = receiver.run(max_messages=2)
    assert summary == ReceiveSummary(received=2, landed=2, batches=1, landing_failures=1)
    assert waits == [0.5]
    assert [line.payload for line in _lines(landing)] == CAPTURED[:2]
    # Acknowledged only after that: nothing comes again to the same client id.
    _publish(mqtt_broker, [CAPTURED[2]])
    after = MqttReceiver(_settings(mqtt_broker, client_id), landing, batch_messages=1)
    assert after.run(max_messages=1).landed == 1
    assert [line.payload for line in _lines(landing)] == CAPTURED[:3]


def test_the_receiver_lands_over_tls(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    _open_session(mqtt_broker, client_id)
    _publish(mqtt_broker, [CAPTURED[0]])
    settings = _settings(mqtt_broker, client_id, tls=True)
    assert settings.url == f"mqtts://{mqtt_broker.host}:{mqtt_broker.tls_port}/sensors"
    receiver = MqttReceiver(settings, tmp_path / "landing", batch_messages=1)
    assert receiver.run(max_messages=1).landed == 1
    assert [line.payload for line in _lines(tmp_path / "landing")] == [CAPTURED[0]]


def test_a_broker_restart_redelivers_what_is_held_and_it_lands_once(
    mqtt_broker: MqttBroker, client_id: str, tmp_path: Path
) -> None:
    """The broker goes away while the receiver holds three messages in a batch; the receiver
    reconnects to its kept session, the broker sends the three again (unacknowledged), and they
    are recognised by their packet ids and landed once."""
    _open_session(mqtt_broker, client_id)
    receiver = MqttReceiver(_settings(mqtt_broker, client_id), tmp_path / "landing",
                            batch_messages=100, batch_seconds=3600)
    with serving_metrics(receiver.metrics, 0) as port, _running(receiver) as run:
        _publish(mqtt_broker, CAPTURED[:3])
        _wait_for(lambda: _scrape(port)["messages_received_total"] == 3, "3 messages received")
        mqtt_broker.restart()
        _wait_for(lambda: _scrape(port)["messages_redelivered_total"] == 3, "3 redeliveries")
        receiver.request_stop()
        assert run.result(WAIT_S) == ReceiveSummary(received=3, redelivered=3, landed=3,
                                                    batches=1)
    assert [(line.payload, line.dup) for line in _lines(tmp_path / "landing")] == [
        (payload, False) for payload in CAPTURED[:3]]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "meterlake"), "receive", "mqtt", *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
                          check=False)


def test_configuration_errors_are_one_line_and_exit_2(
    mqtt_broker: MqttBroker, tmp_path: Path
) -> None:
    env = {**os.environ, **mqtt_broker.environment()}
    url = f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/sensors"
    missing = _cli("--landing", str(tmp_path), env={
        k: v for k, v in env.items() if k != "MQTT_SUBSCRIBER_PASSWORD"})
    wrong = _cli("--landing", str(tmp_path),
                 env={**env, "MQTT_SUBSCRIBER_PASSWORD": "not-the-password"})
    nobody = free_port()
    closed = _cli("--landing", str(tmp_path), "--port", str(nobody), env=env)
    assert [(done.returncode, done.stdout, done.stderr) for done in (missing, wrong, closed)] == [
        (2, "", 'meterlake: error: MQTT_SUBSCRIBER_PASSWORD is not set: the MQTT settings come '
                'from the environment (eval "$(bash infra/mosquitto.sh env)")\n'),
        (2, "", f"meterlake: error: {url} as meterlake-receiver: the broker refused the "
                "connection: Not authorized\n"),
        (2, "", f"meterlake: error: cannot connect to mqtt://{mqtt_broker.host}:{nobody}/sensors "
                "as meterlake-receiver: [Errno 111] Connection refused\n")]
    untrusted = _cli("--landing", str(tmp_path), "--tls", "--ca-file",
                     "/etc/ssl/certs/ca-certificates.crt", env=env)
    assert untrusted.returncode == 2
    assert untrusted.stderr.startswith(
        f"meterlake: error: cannot connect to mqtts://{mqtt_broker.host}:{mqtt_broker.tls_port}"
        "/sensors as meterlake-receiver: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: self-signed certificate in certificate chain")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_receiver_lands_on_the_object_store(
    mqtt_broker: MqttBroker, client_id: str, object_store: ObjectStore,
    object_store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the receiver identity, which may write the landing zone but not list it; the landed
    batch is read back as the jobs."""
    store = ObjectStoreSettings(endpoint=object_store.endpoint, region=object_store.region)
    root = f"{object_store.landing}/tests/mqtt-{uuid.uuid4().hex[:12]}"
    for name, value in object_store["receiver"].items():
        monkeypatch.setenv(name, value)
    _open_session(mqtt_broker, client_id)
    _publish(mqtt_broker, [*CAPTURED[:2], MALFORMED[0]])
    receiver = MqttReceiver(_settings(mqtt_broker, client_id), root, batch_messages=3,
                            object_store=store)
    assert receiver.run(max_messages=3) == ReceiveSummary(received=3, landed=3, malformed=1,
                                                          batches=1)
    for name, value in object_store_env.items():
        monkeypatch.setenv(name, value)
    [(file, lines)] = _landed(root, object_store=store)
    assert file.landing_path.startswith(f"{root}/{NAME}/")
    assert [line.payload for line in lines] == [*CAPTURED[:2], MALFORMED[0]]
    assert is_landed(file.landing_path, object_store=store)


def test_the_receiving_side_imports_no_spark() -> None:
    modules = ("meterlake.cli.sensor_receive", "meterlake.receive.mqtt_receiver",
               "meterlake.sources.sensors.landed")
    code = f"import sys; import {', '.join(modules)}; print('pyspark' in sys.modules)"
    result = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60, check=True)
    assert result.stdout.strip() == "False"
