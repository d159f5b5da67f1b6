"""The `meterlake` command. Every command takes --lake DIR (default: lake_root from config)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from meterlake.config import ConfigError
from meterlake.publish.cli import add_publish_parser
from meterlake.serve.cli import add_serve_parser
from meterlake.settlement.cli import add_audit_commands, add_settle_parser

if TYPE_CHECKING:
    from meterlake.lake import Lake


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an explicit offset (`Z` or `+01:00`); naive times are refused."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {text!r}") from error
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"timestamp needs a UTC offset (for example {text}Z): {text!r}"
        )
    return value


def _lake(args: argparse.Namespace, app: str) -> Lake:
    from meterlake.jobs_common import lake_from_args

    return lake_from_args(args, app)


def cmd_ingest(args: argparse.Namespace) -> int:
    from meterlake.pipeline import describe_ingest, ingest_paths
    from meterlake.sources.registry import FILE_SOURCES

    source = FILE_SOURCES[args.source]
    if getattr(args, "stream", False):
        from meterlake.streaming import ingest_stream

        if args.paths:
            raise ValueError("--stream loads what receivers landed; it takes no paths")
        reports = ingest_stream(_lake(args, "ingest-stream"), source)
        print("\n".join(describe_ingest(r) for r in reports) or "nothing new in the landing zone")
        return 0
    print(describe_ingest(ingest_paths(_lake(args, "ingest"), source, args.paths, args.sender)))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from meterlake.pipeline import describe_snapshots, run_snapshots

    print(describe_snapshots(run_snapshots(_lake(args, "snapshot"))))
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from meterlake.gold.intervals import run_grid
    from meterlake.pipeline import describe_grid

    print(describe_grid(run_grid(_lake(args, "grid"))))
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from meterlake.maintenance import run_optimize

    for report in run_optimize(_lake(args, "optimize"), args.since, args.vacuum, args.bronze):
        print(f"{report.table}: {report.files_removed} files compacted into "
              f"{report.files_added}{', vacuumed' if report.vacuumed else ''}")
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from meterlake.pipeline import run_pipeline
    from meterlake.sources.registry import FILE_SOURCES

    source = FILE_SOURCES[args.source]
    print(run_pipeline(_lake(args, "pipeline"), source, args.paths, args.sender))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from meterlake.pipeline import lake_summary

    print(lake_summary(_lake(args, "summary")))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from meterlake.generate import UtilityDropPlan, write_utility_drops

    plan = UtilityDropPlan(
        meters=args.meters, days=args.days, seed=args.seed, start=args.start,
        drops_per_day=args.drops_per_day, correction_rate=args.correction_rate,
        new_meters=args.new_meters, bad_row_rate=args.bad_row_rate,
    )
    paths = write_utility_drops(plan, Path(args.out))
    print(f"wrote {len(paths)} drops to {args.out}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from meterlake.audit import reading_history

    history_df = reading_history(_lake(args, "audit"), args.meter, args.interval)
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

    from meterlake.audit import as_known_at

    known_df = as_known_at(_lake(args, "audit"), args.at)
    if args.meter:
        known_df = known_df.filter(F.col("meter_id") == args.meter)
    if args.out:
        known_df.write.mode("errorifexists").parquet(args.out)
        print(f"wrote the snapshot as known at {args.at.isoformat()} to {args.out}")
        return 0
    known_df.orderBy("meter_id", "interval_start").show(args.limit, truncate=False)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    import logging

    from meterlake.receive.watcher import Watcher
    from meterlake.silver import METER_SOURCES, run_snapshot
    from meterlake.sources.registry import FILE_SOURCES

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    readings = next(s for s in METER_SOURCES if s.name == args.source)
    watcher = Watcher(_lake(args, "watch"), FILE_SOURCES[args.source], Path(args.directory),
                      batch_size=args.batch_size,
                      after_load=lambda lake: run_snapshot(lake, readings))
    watcher.run(args.interval, args.polls)
    return 0


def cmd_meters(args: argparse.Namespace) -> int:
    from meterlake.views import meter_readings, meters_by_source

    lake = _lake(args, "meters")
    if args.view == "count":
        counts = meters_by_source(lake).collect()
        print(f"{sum(r['meters'] for r in counts)} meters")
        for row in counts:
            print(f"  {row['source']} ({row['commodity']}): {row['meters']} meters, "
                  f"{row['readings']} readings")
        return 0
    rows = meter_readings(lake, args.meter_id, args.start, args.end).collect()
    if not rows:
        print(f"no readings for meter {args.meter_id}")
        return 1
    for row in rows:
        print(f"{row['interval_start'].isoformat()}Z {row['value']} {row['unit']} "
              f"(v{row['version_count']}, {row['_source_file']}:{row['_source_line']})")
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    from meterlake.views import last_file, received_files

    lake = _lake(args, "files")
    if args.view == "last":
        row = last_file(lake, args.source)
        if row is None:
            print("no file received")
            return 1
        print(f"{row['original_name']} ({row['source']}) received "
              f"{row['received_at'].isoformat()}Z: {row['outcome']}")
        return 0
    rows = received_files(lake, args.source).collect()
    print(f"{len(rows)} files received")
    for row in rows:
        print(f"{row['received_at'].isoformat()}Z {row['source']:13} {row['outcome']:9} "
              f"{row['original_name']} rows={row['rows_loaded']}"
              + (f" reason={row['reason']}" if row["reason"] else ""))
    return 0


def _add_views(sub: argparse._SubParsersAction) -> None:
    watch = sub.add_parser("watch", parents=[_common()],
                           help="watch a directory, load complete files, move them away")
    watch.add_argument("source", choices=["smrt", "utility_drops"])
    watch.add_argument("directory")
    watch.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    watch.add_argument("--batch-size", type=int, default=20)
    watch.add_argument("--polls", type=int, help="stop after this many polls (default: never)")
    watch.set_defaults(handler=cmd_watch)
    meters = sub.add_parser("meters", help="how many meters; all data of one meter")
    meter_views = meters.add_subparsers(dest="view", required=True)
    meter_views.add_parser("count", parents=[_common()]).set_defaults(handler=cmd_meters)
    show = meter_views.add_parser("show", parents=[_common()])
    show.add_argument("meter_id")
    show.add_argument("--from", dest="start", type=parse_instant)
    show.add_argument("--to", dest="end", type=parse_instant, help="exclusive")
    show.set_defaults(handler=cmd_meters)
    files = sub.add_parser("files", help="which files were received, and the last one")
    file_views = files.add_subparsers(dest="view", required=True)
    for name in ("list", "last"):
        view = file_views.add_parser(name, parents=[_common()])
        view.add_argument("--source", choices=["utility_drops", "smrt"])
        view.set_defaults(handler=cmd_files)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lake", help="lake root (default: lake_root from the configuration)")
    common.add_argument("--conf", help="configuration file (default: conf/local.yaml)")
    return common


def _add_ingest_like(sub: argparse._SubParsersAction, name: str, help_text: str,
                     handler: Callable[[argparse.Namespace], int]) -> None:
    parser = sub.add_parser(name, parents=[_common()], help=help_text)
    parser.add_argument("source", choices=["utility_drops", "smrt", "dropzone"])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="files (received in the order given) or directories (name order); "
                             "none: load what receivers already landed")
    parser.add_argument("--sender", help="who delivered the files, recorded with them")
    if name == "ingest":
        parser.add_argument("--stream", action="store_true",
                            help="Structured Streaming with availableNow and a checkpoint: load "
                                 "what landed since the last run, then stop")
    parser.set_defaults(handler=handler)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from datetime import date

    generate = sub.add_parser("generate", help="write deterministic sample data")
    kinds = generate.add_subparsers(dest="kind", required=True)
    drops = kinds.add_parser("utility-drops", help="realistic utility drop CSV files")
    drops.add_argument("--out", required=True)
    drops.add_argument("--meters", type=int, required=True)
    drops.add_argument("--days", type=int, required=True)
    drops.add_argument("--seed", type=int, required=True)
    drops.add_argument("--start", type=date.fromisoformat, default=date(2020, 6, 1))
    drops.add_argument("--drops-per-day", type=int, default=4)
    drops.add_argument("--correction-rate", type=float, default=0.02)
    drops.add_argument("--new-meters", type=int, default=0)
    drops.add_argument("--bad-row-rate", type=float, default=0.0)
    drops.set_defaults(handler=cmd_generate)


def _add_audit(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="what did we know, and when")
    queries = audit.add_subparsers(dest="query", required=True)
    history = queries.add_parser("history", parents=[_common()],
                                 help="every value one reading ever had")
    history.add_argument("--meter", required=True)
    history.add_argument("--interval", required=True, type=parse_instant)
    history.set_defaults(handler=cmd_history)
    known = queries.add_parser("as-known-at", parents=[_common()],
                               help="silver as it would have been at an instant")
    known.add_argument("--at", required=True, type=parse_instant)
    known.add_argument("--meter")
    known.add_argument("--limit", type=int, default=20)
    known.add_argument("--out", help="write the whole snapshot as Parquet here instead")
    known.set_defaults(handler=cmd_as_known_at)
    add_audit_commands(queries)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meterlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_ingest_like(sub, "ingest", "receive files, land them and load them into bronze",
                     cmd_ingest)
    _add_ingest_like(sub, "pipeline", "ingest, snapshot, grid and summary in one run",
                     cmd_pipeline)
    for name, help_text, handler in (
        ("snapshot", "merge what is new in bronze into silver", cmd_snapshot),
        ("grid", "rebuild gold.meter_intervals_15min from silver", cmd_grid),
        ("summary", "files, rows and quarantine of the lake", cmd_summary),
    ):
        sub.add_parser(name, parents=[_common()], help=help_text).set_defaults(handler=handler)
    optimize = sub.add_parser("optimize", parents=[_common()],
                              help="compact and cluster tables (run apart from snapshot)")
    optimize.add_argument("--since", help="only date partitions from this date (YYYY-MM-DD)")
    optimize.add_argument("--vacuum", action="store_true",
                          help="also vacuum silver and gold at their retention (never bronze)")
    optimize.add_argument("--bronze", action="store_true",
                          help="also compact bronze (its replaced files are kept forever)")
    optimize.set_defaults(handler=cmd_optimize)
    _add_generate(sub)
    add_settle_parser(sub)
    _add_audit(sub)
    _add_views(sub)
    add_publish_parser(sub)
    add_serve_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ConfigError, FileNotFoundError, FileExistsError, LookupError, ValueError) as error:
        print(f"meterlake: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        # ExpectationFailedError and friends: the message names the rule; a traceback adds nothing.
        print(f"meterlake: failed: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
