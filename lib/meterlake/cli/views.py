"""`meterlake meters|files|generate`: what the lake holds, which files arrived, sample data."""

from __future__ import annotations

import argparse
from pathlib import Path

from meterlake.cli.common import common_options, instant_argument, lake_from_args
from meterlake.cli.sensor_generate import add_sensors_generator_parser
from meterlake.sources.registry import SOURCE_NAMES


def cmd_meters(args: argparse.Namespace) -> int:
    from meterlake.serve.lake_queries import meter_readings, meters_by_source

    lake = lake_from_args(args, "meters")
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
    from meterlake.serve.lake_queries import last_file, received_files

    lake = lake_from_args(args, "files")
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


def cmd_generate(args: argparse.Namespace) -> int:
    from meterlake.sources.utility_drops.generate import UtilityDropPlan, write_utility_drops

    plan = UtilityDropPlan(
        meters=args.meters, days=args.days, seed=args.seed, start=args.start,
        drops_per_day=args.drops_per_day, correction_rate=args.correction_rate,
        new_meters=args.new_meters, bad_row_rate=args.bad_row_rate,
    )
    paths = write_utility_drops(plan, Path(args.out))
    print(f"wrote {len(paths)} drops to {args.out}")
    return 0


def add_view_parsers(sub: argparse._SubParsersAction) -> None:
    meters = sub.add_parser("meters", help="how many meters; all data of one meter")
    meter_views = meters.add_subparsers(dest="view", required=True)
    meter_views.add_parser("count", parents=[common_options()]).set_defaults(handler=cmd_meters)
    show = meter_views.add_parser("show", parents=[common_options()])
    show.add_argument("meter_id")
    show.add_argument("--from", dest="start", type=instant_argument)
    show.add_argument("--to", dest="end", type=instant_argument, help="exclusive")
    show.set_defaults(handler=cmd_meters)
    files = sub.add_parser("files", help="which files were received, and the last one")
    file_views = files.add_subparsers(dest="view", required=True)
    for name in ("list", "last"):
        view = file_views.add_parser(name, parents=[common_options()])
        view.add_argument("--source", choices=SOURCE_NAMES)
        view.set_defaults(handler=cmd_files)


def add_generate_parser(sub: argparse._SubParsersAction) -> None:
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
    add_sensors_generator_parser(kinds)
