"""`meterlake temperatures compare`: how the box and polygon region assignments differ."""

from __future__ import annotations

import argparse

from meterlake.cli.common import common_options, lake_from_args


def cmd_compare(args: argparse.Namespace) -> int:
    from meterlake.gold.region_comparison import compare_assignments

    print(compare_assignments(lake_from_args(args, "temperatures-compare")))
    return 0


def add_temperatures_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `temperatures compare [--lake DIR] [--conf FILE]`."""
    temperatures = sub.add_parser("temperatures", help="the temperature source's reports")
    reports = temperatures.add_subparsers(dest="report", required=True)
    compare = reports.add_parser(
        "compare", parents=[common_options()],
        help="France points the box and polygon assignments put in different regions")
    compare.set_defaults(handler=cmd_compare)
