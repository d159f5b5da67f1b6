"""`meterlake ingest|pipeline|snapshot|grid|summary|optimize|watch`: the lake's jobs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from meterlake.cli.common import common_options, lake_from_args
from meterlake.sources.registry import SOURCE_NAMES, WATCHABLE_NAMES, source_named


def cmd_ingest(args: argparse.Namespace) -> int:
    from meterlake.engine.ingest import ingest_paths
    from meterlake.lake_jobs import describe_ingest

    source = source_named(args.source).files
    if args.every is not None and not args.stream:
        raise ValueError("--every runs the stream continuously: give --stream too")
    if args.stream:
        if args.paths:
            raise ValueError("--stream loads what receivers landed; it takes no paths")
        return _ingest_stream(args)
    report = ingest_paths(lake_from_args(args, "ingest"), source, args.paths, args.sender)
    print(describe_ingest(report))
    return 0


def _ingest_stream(args: argparse.Namespace) -> int:
    from meterlake.engine.ingest import IngestReport
    from meterlake.engine.streaming import ingest_stream
    from meterlake.lake_jobs import describe_ingest, describe_snapshots, snapshot_source

    lake = lake_from_args(args, "ingest-stream")
    source = source_named(args.source)
    if args.every is None:
        reports = ingest_stream(lake, source.files)
        print("\n".join(describe_ingest(r) for r in reports) or "nothing new in the landing zone")
        return 0

    def snapshot(loaded: list[IngestReport]) -> None:
        print("\n".join(describe_ingest(r) for r in loaded), flush=True)
        print(describe_snapshots(snapshot_source(lake, source)), flush=True)

    ingest_stream(lake, source.files, every=args.every, after_load=snapshot, run_for=args.run_for)
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from meterlake.lake_jobs import run_pipeline

    source = source_named(args.source).files
    print(run_pipeline(lake_from_args(args, "pipeline"), source, args.paths, args.sender))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from meterlake.lake_jobs import describe_snapshots, run_snapshots

    print(describe_snapshots(run_snapshots(lake_from_args(args, "snapshot"))))
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from meterlake.gold.meter_intervals import run_grid
    from meterlake.lake_jobs import describe_grid

    print(describe_grid(run_grid(lake_from_args(args, "grid"))))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from meterlake.lake_jobs import lake_summary

    print(lake_summary(lake_from_args(args, "summary")))
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from meterlake.maintenance import run_optimize

    lake = lake_from_args(args, "optimize")
    for report in run_optimize(lake, args.since, args.vacuum, args.bronze):
        print(f"{report.table}: {report.files_removed} files compacted into "
              f"{report.files_added}{', vacuumed' if report.vacuumed else ''}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from meterlake.lake_jobs import directory_watcher

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    watcher = directory_watcher(lake_from_args(args, "watch"), source_named(args.source),
                                Path(args.directory), args.batch_size)
    watcher.run(args.interval, args.polls)
    return 0


def _add_ingest_like(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = sub.add_parser(name, parents=[common_options()], help=help_text)
    parser.add_argument("source", choices=SOURCE_NAMES)
    parser.add_argument("paths", nargs="*", type=Path,
                        help="files (received in the order given) or directories (name order); "
                             "none: load what receivers already landed")
    parser.add_argument("--sender", help="who delivered the files, recorded with them")
    if name == "ingest":
        parser.add_argument("--stream", action="store_true",
                            help="Structured Streaming with availableNow and a checkpoint: load "
                                 "what landed since the last run, then stop")
        parser.add_argument("--every", type=float, metavar="SECONDS",
                            help="with --stream: keep running, a micro-batch every SECONDS, "
                                 "each followed by the source's snapshot and rollups")
        parser.add_argument("--for", dest="run_for", type=float, metavar="SECONDS",
                            help="with --every: stop after SECONDS (default: run until killed)")
        parser.set_defaults(handler=cmd_ingest)
    else:
        parser.set_defaults(handler=cmd_pipeline)


def add_lake_job_parsers(sub: argparse._SubParsersAction) -> None:
    _add_ingest_like(sub, "ingest", "receive files, land them and load them into bronze")
    _add_ingest_like(sub, "pipeline", "ingest, snapshot, grid and summary in one run")
    for name, help_text, handler in (
        ("snapshot", "merge what is new in bronze into silver", cmd_snapshot),
        ("grid", "rebuild gold.meter_intervals_15min from silver (skipped if unchanged)",
         cmd_grid),
        ("summary", "files, rows and quarantine of the lake", cmd_summary),
    ):
        sub.add_parser(name, parents=[common_options()], help=help_text).set_defaults(
            handler=handler)
    optimize = sub.add_parser("optimize", parents=[common_options()],
                              help="compact and sort tables (run apart from snapshot)")
    optimize.add_argument("--since", help="only date partitions from this date (YYYY-MM-DD)")
    optimize.add_argument("--vacuum", action="store_true",
                          help="also vacuum silver and gold at their retention (never bronze)")
    optimize.add_argument("--bronze", action="store_true",
                          help="also compact bronze (its replaced files are kept forever)")
    optimize.set_defaults(handler=cmd_optimize)
    watch = sub.add_parser("watch", parents=[common_options()],
                           help="watch a directory, load complete files, move them away")
    watch.add_argument("source", choices=WATCHABLE_NAMES)
    watch.add_argument("directory")
    watch.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    watch.add_argument("--batch-size", type=int, default=20)
    watch.add_argument("--polls", type=int, help="stop after this many polls (default: never)")
    watch.set_defaults(handler=cmd_watch)
