"""`meterlake sensors registry PATH`: the sensor registry (`sensors.json`) into `silver.sensors`,
a slowly changing dimension of type 2 (a changed sensor keeps its old row, closed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from meterlake.cli.common import common_options, lake_from_args


def cmd_registry(args: argparse.Namespace) -> int:
    from meterlake.lake_jobs import load_sensor_registry
    from meterlake.sources.sensors.registry import load_registry

    load_registry(args.path)  # a bad registry is refused before Spark starts
    print(load_sensor_registry(lake_from_args(args, "sensor-registry"), args.path))
    return 0


def add_sensors_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `sensors registry PATH [--lake DIR] [--conf FILE]`."""
    sensors = sub.add_parser("sensors", help="the IoT sensors' registry")
    commands = sensors.add_subparsers(dest="sensors_command", required=True)
    registry = commands.add_parser(
        "registry", parents=[common_options()],
        help="load sensors.json into silver.sensors (new, changed and removed sensors; "
             "nothing written when unchanged)")
    registry.add_argument("path", type=Path, help="the registry file (sensors.json)")
    registry.set_defaults(handler=cmd_registry)
