"""`meterlake publish --to DATABASE_URL`: silver into a relational database.

Spark and
SQLAlchemy are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from meterlake.cli.common import EXIT_BAD_INPUT, common_options, lake_from_args

URL_VARIABLE = "METERLAKE_PUBLISH_URL"
TABLE_NAMES = ("meters", "source_files", "readings", "region_temperature_hourly")
DEFAULT_TABLES = TABLE_NAMES[:3]


def table_list(text: str) -> tuple[str, ...]:
    """`meters,source_files` as a tuple of known table names; argparse reports anything else."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in TABLE_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown tables {unknown or '(none)'}; choose from {','.join(TABLE_NAMES)}"
        )
    return names


def cmd_publish(args: argparse.Namespace) -> int:
    from meterlake.serve.publish.database import DatabaseUnreachableError, open_database
    from meterlake.serve.publish.publisher import publish

    # Fail on a bad or unreachable database before spending seconds on a Spark session.
    try:
        open_database(args.to).dispose()
        report = publish(lake_from_args(args, "publish"), args.to, args.tables, args.batch_rows)
    except DatabaseUnreachableError as error:
        print(f"meterlake: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report)
    return 0


def add_publish_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `publish --to URL [--tables ...] [--batch-rows N] [--lake DIR] [--conf FILE]`."""
    publish = sub.add_parser(
        "publish", parents=[common_options()],
        help="upsert what is new in silver into SQLite, PostgreSQL or MariaDB/MySQL",
    )
    publish.add_argument(
        "--to", default=os.environ.get(URL_VARIABLE), required=URL_VARIABLE not in os.environ,
        metavar="DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user:password@host:5432/db "
             f"(default: ${URL_VARIABLE}, which keeps the password out of the process list)",
    )
    publish.add_argument("--tables", type=table_list, default=DEFAULT_TABLES,
                         help=f"comma-separated subset of {','.join(TABLE_NAMES)} (default: "
                              f"{','.join(DEFAULT_TABLES)})")
    publish.add_argument("--batch-rows", type=int, default=5000,
                         help="rows per transaction (default: 5000)")
    publish.set_defaults(handler=cmd_publish)
