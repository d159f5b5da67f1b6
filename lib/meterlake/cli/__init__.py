"""The `meterlake` command. Every lake command takes --lake DIR (default: lake_root of the
configuration) and --conf FILE; jobs/ runs the same commands under spark-submit."""

from __future__ import annotations

import argparse
import os
import sys

from meterlake.cli.audit import add_audit_parser
from meterlake.cli.catalogue import add_catalog_parser
from meterlake.cli.common import run_handler
from meterlake.cli.lake_jobs import add_lake_job_parsers
from meterlake.cli.publish import add_publish_parser
from meterlake.cli.sensor_receive import add_receive_parser
from meterlake.cli.sensors import add_sensors_parser
from meterlake.cli.serve import add_serve_parser
from meterlake.cli.settle import add_settle_parser
from meterlake.cli.temperature_receive import add_poll_parser, add_simulate_parser
from meterlake.cli.temperatures import add_temperatures_parser
from meterlake.cli.trino import add_trino_parser
from meterlake.cli.views import add_generate_parser, add_view_parsers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meterlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_lake_job_parsers(sub)
    add_generate_parser(sub)
    add_settle_parser(sub)
    add_audit_parser(sub)
    add_view_parsers(sub)
    add_publish_parser(sub)
    add_serve_parser(sub)
    add_temperatures_parser(sub)
    add_poll_parser(sub)
    add_simulate_parser(sub)
    add_receive_parser(sub)
    add_trino_parser(sub)
    add_sensors_parser(sub)
    add_catalog_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = run_handler(args.handler, args)
    if getattr(args, "reads_with_delta_rs", False):
        # delta-rs may abort the interpreter on its way out after a read (delta-io/delta-rs
        # #2184): the command is done, so leave without the interpreter's teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
