"""`meterlake settle` and the settlement audit commands (`audit runs|reproduce|diff|package`).

Registered by `meterlake.cli`; Spark is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from meterlake.cli.common import common_options, lake_from_args

BOOK_VARIABLE = "METERLAKE_BOOK"


def month_text(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"month must be YYYY-MM, got {text!r}")
    return text


def cmd_settle(args: argparse.Namespace) -> int:
    from meterlake.gold.settlement.book import load_book
    from meterlake.gold.settlement.run import settle

    book = load_book(args.book)  # a bad book fails before a Spark session is built
    for record in settle(lake_from_args(args, "settle"), book, args.month, args.partner or None):
        print(record)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from pyspark.sql import functions as F

    from meterlake.gold.settlement.tables import REPORT_RUNS

    runs = lake_from_args(args, "audit").read(REPORT_RUNS)
    if args.partner:
        runs = runs.filter(F.col("partner") == args.partner)
    if args.month:
        runs = runs.filter(F.col("month") == args.month)
    runs.orderBy("partner", "month", "revision").select(
        "run_id", "partner", "month", "revision", "finished_at", "as_known_at", "book_sha256",
        "code_version").show(args.limit, truncate=False)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from meterlake.audit.settlement import reproduce

    result = reproduce(lake_from_args(args, "audit"), args.run_id, args.through)
    print(result)
    return 0 if result.matches else 1


def cmd_diff(args: argparse.Namespace) -> int:
    from meterlake.audit.settlement import diff_runs

    lines, readings = diff_runs(lake_from_args(args, "audit"), args.run_a, args.run_b)
    changed, corrected = lines.count(), readings.count()
    print(f"{changed} lines changed from {args.run_a} to {args.run_b}")
    lines.select("meter_id", "line_type", "line_name", "amount_a", "amount_b", "amount_change",
                 "kwh_measured_a", "kwh_measured_b", "kwh_estimated_a", "kwh_estimated_b"
                 ).show(args.limit, truncate=False)
    print(f"{corrected} readings of those meters differ between the two runs' inputs")
    readings.show(args.limit, truncate=False)
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from meterlake.audit.settlement import package

    print(package(lake_from_args(args, "audit"), args.partner, args.year, Path(args.out)))
    return 0


def add_settle_parser(sub: argparse._SubParsersAction) -> None:
    settle = sub.add_parser("settle", parents=[common_options()],
                            help="monthly settlement of every partner (or one)")
    settle.add_argument("--month", required=True, type=month_text, help="YYYY-MM, local")
    settle.add_argument("--partner", action="append", help="only this partner (repeatable)")
    settle.add_argument("--book", default=os.environ.get(BOOK_VARIABLE),
                        help=f"settlement book (default ${BOOK_VARIABLE} or "
                             "the packaged settlement.yaml)")
    settle.set_defaults(handler=cmd_settle)


def add_settlement_audit_parsers(queries: argparse._SubParsersAction) -> None:
    runs = queries.add_parser("runs", parents=[common_options()], help="settlement runs recorded")
    runs.add_argument("--partner")
    runs.add_argument("--month", type=month_text)
    runs.add_argument("--limit", type=int, default=50)
    runs.set_defaults(handler=cmd_runs)
    again = queries.add_parser("reproduce", parents=[common_options()],
                               help="recompute a run and compare every checksum (exit 0: equal)")
    again.add_argument("run_id")
    again.add_argument("--through", choices=("silver", "bronze"),
                       help="force a route (default: silver time travel while retained)")
    again.set_defaults(handler=cmd_reproduce)
    diff = queries.add_parser("diff", parents=[common_options()],
                              help="what changed between two runs, and which readings caused it")
    diff.add_argument("run_a")
    diff.add_argument("run_b")
    diff.add_argument("--limit", type=int, default=100)
    diff.set_defaults(handler=cmd_diff)
    package = queries.add_parser("package", parents=[common_options()],
                                 help="one archive of a partner's year for an auditor")
    package.add_argument("--partner", required=True)
    package.add_argument("--year", required=True, type=int)
    package.add_argument("--out", default=".", help="directory for the archive")
    package.set_defaults(handler=cmd_package)
