"""`meterlake generate sensors`: the sensors of a registry publishing to an MQTT broker, with
faults on request. No Spark.

    eval "$(bash infra/mosquitto.sh env)"
    meterlake generate sensors --registry ../shared/fixtures/iot/sensors.json --rate 1 \\
        --duration 60 --jitter 20 --seed 7 --faults gap=0.01:10 duplicate=0.02 \\
        'clock_behind=Sensor 3:120'
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections import Counter
from pathlib import Path

from meterlake.cli.common import EXIT_BAD_INPUT, EXIT_DONE, whole_number_at_least
from meterlake.core.instants import utc_now_ms
from meterlake.sources.sensors.faults import SYNTAX as FAULT_SYNTAX
from meterlake.sources.sensors.faults import parse_faults

EXIT_SOME_UNDELIVERED = 1
BROKER_HELP = """
The broker and the publisher come from the options, else from the environment that
`bash infra/mosquitto.sh env` prints (MQTT_HOST, MQTT_PORT, MQTT_TLS_PORT, MQTT_CA_FILE,
MQTT_TOPIC, MQTT_PUBLISHER_USER); the password only from MQTT_PUBLISHER_PASSWORD.
"""

def cmd_generate_sensors(args: argparse.Namespace) -> int:
    from meterlake.sources.sensors.generate import Schedule, check_clock_faults, plan_messages
    from meterlake.sources.sensors.publish import BrokerError, Publisher, broker_settings
    from meterlake.sources.sensors.registry import load_registry

    sensors = load_registry(args.registry)
    faults = parse_faults(args.faults)
    schedule = Schedule(args.rate, args.duration, args.jitter, faults)
    check_clock_faults(sensors, schedule)  # before connecting
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    settings = broker_settings(
        os.environ, client_id=args.client_id or f"meterlake-generator-{os.getpid()}",
        qos=args.qos, tls=args.tls, host=args.host, port=args.port, user=args.user,
        topic=args.topic, ca_file=args.ca_file)
    try:
        with Publisher(settings) as publisher:
            start = utc_now_ms()
            counts = publisher.publish_on_time(plan_messages(sensors, schedule, seed, start),
                                               start)
    except BrokerError as error:
        print(f"meterlake: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"published {counts['published']} messages to {settings.topic!r} at "
          f"{settings.address} (QoS {settings.qos}) from "
          f"{start.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z with seed {seed}")
    print(summary(counts, faults.requested))
    return EXIT_SOME_UNDELIVERED if counts["undelivered"] else EXIT_DONE


def summary(counts: Counter[str], requested: tuple[str, ...]) -> str:
    """One line per label: the clean messages, then each fault asked for (gaps: withheld), then
    the publishes that failed, if any."""
    rows = [f"  {'clean':<16}{counts['clean']:>6}"]
    rows += [f"  {name:<16}{counts[name]:>6}{' withheld' if name == 'gap' else ''}"
             for name in requested]
    if counts["undelivered"]:
        rows.append(f"  {'undelivered':<16}{counts['undelivered']:>6} "
                    "(failed, or not acknowledged)")
    return "\n".join(rows)


def _positive_number(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_sensors_generator_parser(kinds: argparse._SubParsersAction) -> None:
    """Adds `generate sensors --registry PATH --rate N --duration S [--jitter MS]
    [--faults SPEC ...] [--seed N] [--qos 0|1] [--tls] [broker options]`."""
    sensors = kinds.add_parser(
        "sensors", help="the registry's sensors publishing to an MQTT broker, with faults",
        description="Each sensor of the registry publishes one message per 1/N s to the\n"
                    "topic, like the reference generator; the same seed plans the same\n"
                    "messages. Prints how many messages each fault touched.",
        epilog=FAULT_SYNTAX + BROKER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sensors.add_argument("--registry", type=Path, required=True, metavar="PATH",
                         help="the sensor registry (sensors.json)")
    sensors.add_argument("--rate", type=_positive_number, required=True, metavar="N",
                         help="messages per sensor per second (the reference sends 1)")
    sensors.add_argument("--duration", type=_positive_number, required=True, metavar="S",
                         help="seconds of sending (late messages may follow)")
    sensors.add_argument("--jitter", type=whole_number_at_least(0), default=0, metavar="MS",
                         help="each message leaves 0 to MS ms after its tick (default 0)")
    sensors.add_argument("--faults", nargs="+", action="extend", default=[], metavar="SPEC",
                         help="faults to inject, NAME=VALUE (below)")
    sensors.add_argument("--seed", type=int, metavar="N",
                         help="seed (default: a random one, printed)")
    sensors.add_argument("--qos", type=int, choices=(0, 1), default=0,
                         help="MQTT QoS (default 0, like the reference)")
    sensors.add_argument("--tls", action="store_true",
                         help="connect over TLS (MQTT_TLS_PORT), trusting the CA file")
    sensors.add_argument("--host", help="broker host (default MQTT_HOST)")
    sensors.add_argument("--port", type=int, help="broker port (default MQTT_PORT, or "
                                                  "MQTT_TLS_PORT with --tls)")
    sensors.add_argument("--user", help="publisher (default MQTT_PUBLISHER_USER)")
    sensors.add_argument("--topic", help="topic (default MQTT_TOPIC, else sensors)")
    sensors.add_argument("--ca-file", metavar="PATH",
                         help="CA to trust with --tls (default MQTT_CA_FILE)")
    sensors.add_argument("--client-id", metavar="ID",
                         help="MQTT client id (default meterlake-generator-PID)")
    sensors.set_defaults(handler=cmd_generate_sensors)
