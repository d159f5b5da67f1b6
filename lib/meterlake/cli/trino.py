"""`meterlake trino register`: the lake's tables in Trino's `lake` catalog (infra/trino.sh), one
line per table.

    bash infra/trino.sh start
    meterlake trino register --url http://127.0.0.1:18080 --lake var/lake

Registering needs no Spark session: the table names come from the contracts
(`meterlake.catalog`, imported when the command runs) and Trino reads the tables' logs.
"""

from __future__ import annotations

import argparse
import sys

from meterlake.cli.common import EXIT_BAD_INPUT, common_options, settings_from_args

DEFAULT_URL = "http://127.0.0.1:18080"


def cmd_register(args: argparse.Namespace) -> int:
    from trino.exceptions import TrinoQueryError

    from meterlake.catalog import ALL_TABLES
    from meterlake.serve.trino_register import TrinoUnreachableError, register_lake

    settings = settings_from_args(args)
    tables = [(contract.layer, contract.name) for contract in ALL_TABLES]
    try:
        registrations = register_lake(args.url, settings.lake_root, tables,
                                      settings.object_store)
    except TrinoUnreachableError as error:
        print(f"meterlake: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TrinoQueryError as error:
        print(f"meterlake: error: Trino at {args.url}: {error.error_name}: {error.message}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    for registration in registrations:
        print(registration)
    return 0


def add_trino_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `trino register [--url URL] [--lake DIR] [--conf FILE]`."""
    trino = sub.add_parser("trino", help="query the lake with Trino (infra/trino.sh)")
    commands = trino.add_subparsers(dest="trino_command", required=True)
    register = commands.add_parser(
        "register", parents=[common_options()],
        help="register every written table of the lake in Trino's `lake` catalog (idempotent)",
    )
    register.add_argument("--url", default=DEFAULT_URL,
                          help=f"the Trino server (default {DEFAULT_URL}, infra/trino.sh's)")
    register.set_defaults(handler=cmd_register)
