"""What every command shares: the --lake/--conf options, settings and the one Spark session,
the instant argument, and the exit codes (0 done, 1 nothing found or a reproduction that
differs, 2 bad input or configuration, 3 a failed expectation).

Spark is imported only when a command runs, so `meterlake --help` and argument errors are fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from meterlake.core.config import ConfigError, Settings, load_settings
from meterlake.core.instants import InstantError, parse_instant
from meterlake.core.object_store import ObjectStoreError, check_reachable, is_object_store

if TYPE_CHECKING:
    from meterlake.core.lake import Lake
    from meterlake.serve.lineage import LineageRun

EXIT_DONE, EXIT_NOT_FOUND, EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED = 0, 1, 2, 3

# The lakes this command opened: their table leases (object storage) are released when it ends,
# and the OpenLineage run of each (meterlake.serve.lineage) is finished.
_opened_lakes: list[tuple[Lake, LineageRun]] = []


def whole_number_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type`: a whole number no smaller than `minimum`."""

    def whole_number(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return whole_number


def common_options() -> argparse.ArgumentParser:
    """A parent parser with --lake and --conf, for every command that touches a lake."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lake", help="lake root (default: lake_root from the configuration)")
    common.add_argument("--conf", help="configuration file (default: the packaged local.yaml, "
                                       "or METERLAKE_CONF)")
    return common


def instant_argument(text: str) -> datetime:
    """An argparse type: an ISO 8601 instant with an explicit offset; naive times are refused.
    Surrounding spaces (a quoted shell argument) are not part of it."""
    try:
        return parse_instant(text.strip())
    except InstantError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.conf)
    if not args.lake:
        return settings
    return settings.with_lake(args.lake if is_object_store(args.lake)
                              else str(Path(args.lake).resolve()))


def lake_from_args(args: argparse.Namespace, app: str) -> Lake:
    from meterlake.core.lake import Lake
    from meterlake.core.spark import build_session, catalog_outlives_session

    settings = settings_from_args(args)
    check_reachable(settings.object_store, [settings.lake_root, settings.landing_root])
    spark = build_session(settings, f"meterlake-{app}")
    # A command's session ends with it: its tables are named only where the catalog outlives it.
    lake = Lake(spark, settings, name_tables=catalog_outlives_session(spark))
    run = lineage_run(_job_name(app, args), settings)
    lake.on_first_write = run.start
    _opened_lakes.append((lake, run))
    return lake


def _job_name(app: str, args: argparse.Namespace) -> str:
    """The OpenLineage job: the command, and the source it works on when it takes one."""
    source = getattr(args, "source", None)
    return f"{app}.{source}" if isinstance(source, str) and source else app


def lineage_run(job: str, settings: Settings) -> LineageRun:
    from meterlake.catalog import ALL_TABLES
    from meterlake.serve.lineage import LineageRun, lineage_directory

    tables = {contract.qualified_name: contract.describe() for contract in ALL_TABLES}
    return LineageRun(job, settings.lake_root, settings.landing_root, tables,
                      lineage_directory(settings.lake_root))


def run_handler(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Runs a command, turning the errors a user can fix into a one-line message and an exit
    code instead of a traceback."""
    ended_by: BaseException | None = None
    try:
        return int(handler(args))
    except (ConfigError, ObjectStoreError, FileNotFoundError, FileExistsError, LookupError,
            ValueError) as error:
        ended_by = error
        print(f"meterlake: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as error:
        ended_by = error
        # ExpectationFailedError and friends: the message names the rule; a traceback adds nothing.
        print(f"meterlake: failed: {error}", file=sys.stderr)
        return EXIT_EXPECTATION_FAILED
    except BaseException as error:
        ended_by = error
        raise
    finally:
        while _opened_lakes:
            lake, run = _opened_lakes.pop()
            lake.release_leases()
            run.finish(lake.written, ended_by)
