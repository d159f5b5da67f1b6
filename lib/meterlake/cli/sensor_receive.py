"""`meterlake receive mqtt`: the sensor source's receiving side, a long-running MQTT subscriber
that lands what arrives in batches before acknowledging it. No Spark.

    eval "$(bash infra/mosquitto.sh env)"
    meterlake receive mqtt --batch-messages 1000 --batch-seconds 5 --metrics-port 9108

SIGTERM or SIGINT (Ctrl-C) lands the batch in hand, acknowledges it and disconnects.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from meterlake.cli.common import EXIT_BAD_INPUT, EXIT_DONE, common_options, settings_from_args
from meterlake.core.object_store import is_object_store
from meterlake.receive.mqtt_metrics import serving_metrics
from meterlake.receive.mqtt_receiver import (
    MAX_RECEIVE_MAXIMUM,
    BrokerError,
    MqttReceiver,
    ReceiveSummary,
)
from meterlake.receive.mqtt_settings import DEFAULT_CLIENT_ID, MqttSettings

# A stop came while a batch could not be landed: its messages stay with the broker.
EXIT_NOT_ALL_LANDED = 1


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


def _landing_root(args: argparse.Namespace, default: str) -> str:
    if not args.landing:
        return default
    return args.landing if is_object_store(args.landing) else str(Path(args.landing).resolve())


def _describe(summary: ReceiveSummary) -> str:
    line = (f"received {summary.received} messages, landed {summary.landed} "
            f"({summary.malformed} malformed) in {summary.batches} batches; "
            f"{summary.redelivered} redeliveries skipped, "
            f"{summary.landing_failures} failed landing attempts")
    if summary.not_landed:
        line += f"; {summary.not_landed} not landed, left to the broker"
    return line


def cmd_receive_mqtt(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    mqtt = MqttSettings.from_environment(
        os.environ, tls=args.tls, client_id=args.client_id, host=args.host, port=args.port,
        topic=args.topic, user=args.user, ca_file=args.ca_file)
    _configure_logging()
    receiver = MqttReceiver(mqtt, _landing_root(args, settings.landing_root),
                            batch_messages=args.batch_messages,
                            batch_seconds=args.batch_seconds,
                            object_store=settings.object_store)

    def stop(signal_number: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("%s: landing what is in hand, then stopping",
                                         signal.Signals(signal_number).name)
        receiver.request_stop()

    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, stop)
    with ExitStack() as stack:
        if args.metrics_port is not None:
            port = stack.enter_context(serving_metrics(receiver.metrics, args.metrics_port))
            print(f"metrics on http://127.0.0.1:{port}/metrics", flush=True)
        try:
            summary = receiver.run(max_messages=args.max_messages,
                                   duration_seconds=args.duration)
        except BrokerError as error:
            print(f"meterlake: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    print(_describe(summary), flush=True)
    return EXIT_NOT_ALL_LANDED if summary.gave_up else EXIT_DONE


def _positive_int(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be from 1 to {limit}, got {value}")
        return value

    return parse


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {value}")
    return value


def _add_broker_options(mqtt: argparse.ArgumentParser) -> None:
    broker = mqtt.add_argument_group(
        "broker", "from the environment (eval \"$(bash infra/mosquitto.sh env)\"); these "
        "override it; the password is read from MQTT_SUBSCRIBER_PASSWORD only")
    broker.add_argument("--host", help="broker host (MQTT_HOST)")
    broker.add_argument("--port", type=_port, help="broker port (MQTT_PORT, with --tls "
                                                   "MQTT_TLS_PORT)")
    broker.add_argument("--topic", help="topic to subscribe to (MQTT_TOPIC)")
    broker.add_argument("--user", help="user name (MQTT_SUBSCRIBER_USER)")
    broker.add_argument("--tls", action="store_true",
                        help="connect over TLS, checking the broker's certificate against "
                             "the CA in MQTT_CA_FILE (or --ca-file)")
    broker.add_argument("--ca-file", help="CA certificate for --tls (MQTT_CA_FILE)")
    broker.add_argument("--client-id", default=DEFAULT_CLIENT_ID,
                        help="MQTT client id: the broker keeps this id's session and queues "
                             f"for it while it is away (default {DEFAULT_CLIENT_ID})")


def add_receive_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `receive mqtt [--client-id ID] [--batch-messages N] [--batch-seconds T]
    [--metrics-port P] [--tls] [--landing DIR|s3a://...] [--lake DIR] [--conf FILE]
    [--max-messages N | --duration S]` and the broker options."""
    receive = sub.add_parser("receive", help="long-running receivers that land what arrives")
    kinds = receive.add_subparsers(dest="receiver", required=True)
    mqtt = kinds.add_parser("mqtt", parents=[common_options()],
                            help="subscribe to the sensors' MQTT topic and land every message "
                                 "in batches before acknowledging it (no Spark)")
    _add_broker_options(mqtt)
    mqtt.add_argument("--landing", help="landing root, a directory or s3a://bucket/prefix "
                                        "(default: landing_root of the configuration)")
    mqtt.add_argument("--batch-messages", type=_positive_int(MAX_RECEIVE_MAXIMUM), default=1000,
                      metavar="N", help="land a batch once it holds N messages (default 1000)")
    mqtt.add_argument("--batch-seconds", type=_positive_seconds, default=5.0, metavar="T",
                      help="land a batch T seconds after its first message arrived, "
                           "whatever its size (default 5)")
    mqtt.add_argument("--metrics-port", type=_port, metavar="P",
                      help="serve Prometheus metrics on http://127.0.0.1:P/metrics (0: any "
                           "free port, printed; default: no endpoint)")
    until = mqtt.add_mutually_exclusive_group()
    until.add_argument("--max-messages", type=_positive_int(sys.maxsize), metavar="N",
                       help="stop after N messages (default: run until SIGTERM or SIGINT)")
    until.add_argument("--duration", type=_positive_seconds, metavar="S",
                       help="stop after S seconds")
    mqtt.set_defaults(handler=cmd_receive_mqtt)
