"""`meterlake audit history|as-known-at` (readings) and `audit runs|reproduce|diff|package`
(settlements, from `meterlake.cli.settle`): what did we know, and when."""

from __future__ import annotations

import argparse

from meterlake.cli.common import common_options, instant_argument, lake_from_args
from meterlake.cli.settle import add_settlement_audit_parsers


def cmd_history(args: argparse.Namespace) -> int:
    from meterlake.audit.readings import reading_history

    history_df = reading_history(lake_from_args(args, "audit"), args.meter, args.interval)
    rows = history_df.collect()
    if not rows:
        print(f"no reading for meter {args.meter} at {args.interval.isoformat()}")
        return 1
    for row in rows:
        marker = "*" if row["is_current"] else " "
        print(f"{marker} {row['value']:>12} {row['_received_at'].isoformat()}Z "
              f"{row['_source_file']}:{row['_source_line']} ingest={row['_ingest_id']}")
    return 0


def cmd_as_known_at(args: argparse.Namespace) -> int:
    from pyspark.sql import functions as F

    from meterlake.audit.readings import as_known_at

    known_df = as_known_at(lake_from_args(args, "audit"), args.at)
    if args.meter:
        known_df = known_df.filter(F.col("meter_id") == args.meter)
    if args.out:
        known_df.write.mode("errorifexists").parquet(args.out)
        print(f"wrote the snapshot as known at {args.at.isoformat()} to {args.out}")
        return 0
    known_df.orderBy("meter_id", "interval_start").show(args.limit, truncate=False)
    return 0


def add_audit_parser(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="what did we know, and when")
    queries = audit.add_subparsers(dest="query", required=True)
    history = queries.add_parser("history", parents=[common_options()],
                                 help="every value one reading ever had")
    history.add_argument("--meter", required=True)
    history.add_argument("--interval", required=True, type=instant_argument)
    history.set_defaults(handler=cmd_history)
    known = queries.add_parser("as-known-at", parents=[common_options()],
                               help="silver as it would have been at an instant")
    known.add_argument("--at", required=True, type=instant_argument)
    known.add_argument("--meter")
    known.add_argument("--limit", type=int, default=20)
    known.add_argument("--out", help="write the whole snapshot as Parquet here instead")
    known.set_defaults(handler=cmd_as_known_at)
    add_settlement_audit_parsers(queries)
