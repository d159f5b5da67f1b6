"""`meterlake serve`: the HTTP service (dropzone ingest and the read API) under uvicorn.

No Spark: the server lands bytes and reads Delta through delta-rs. Each uvicorn worker process
builds the app from the environment, so the options are handed over as environment variables.

    meterlake serve --host 127.0.0.1 --port 8000 --workers 2 --lake var/lake
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from meterlake.cli.common import common_options, whole_number_at_least

APP = "meterlake.serve.app:create_app"


def _export_settings(args: argparse.Namespace) -> None:
    """Puts the command's options where every worker's `http_settings_from_env` finds them."""
    from meterlake.receive.http_ingest import MAX_BODY_VARIABLE
    from meterlake.serve.sessions import SECRET_VARIABLE

    if args.conf:
        os.environ["METERLAKE_CONF"] = str(Path(args.conf).resolve())
    if args.lake:
        os.environ["METERLAKE_LAKE"] = str(Path(args.lake).resolve())
    if args.max_body_bytes is not None:
        os.environ[MAX_BODY_VARIABLE] = str(args.max_body_bytes)
    # One secret for every worker, so a dashboard session issued by one is valid in all; drawn
    # per start unless pinned (then sessions also survive a restart).
    os.environ.setdefault(SECRET_VARIABLE, secrets.token_urlsafe(32))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from meterlake.receive.http_ingest import http_settings_from_env

    _export_settings(args)
    # Fail here, once, with exit code 2 on a bad configuration or missing keys, rather than in
    # every worker after the port is taken.
    settings = http_settings_from_env()
    print(f"meterlake serve: lake {settings.lake_root}, landing {settings.landing_root}, "
          f"{len(settings.api_keys)} API keys, body limit {settings.max_body_bytes} bytes",
          file=sys.stderr)
    _warn_without_chart_library()
    uvicorn.run(APP, factory=True, host=args.host, port=args.port, workers=args.workers,
                access_log=not args.no_access_log, server_header=False)
    return 0


def _warn_without_chart_library() -> None:
    from meterlake.serve.assets import MissingAssetsError, require_vendor_files

    try:
        require_vendor_files()
    except MissingAssetsError as missing:
        print(f"meterlake serve: the dashboard cannot draw charts: {missing}", file=sys.stderr)


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `serve [--host H] [--port P] [--workers N] [--max-body-bytes B] [--no-access-log]
    [--lake DIR] [--conf FILE]`."""
    serve = sub.add_parser(
        "serve", parents=[common_options()],
        help="HTTP service: POST /v1/dropzone, the read API and the dashboard (keys in "
             "METERLAKE_API_KEYS)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=whole_number_at_least(1), default=1,
                       help="uvicorn worker processes (default 1; one per core is a good start)")
    serve.add_argument("--max-body-bytes", type=whole_number_at_least(1),
                       help="largest accepted request body (default: METERLAKE_MAX_BODY_BYTES, "
                            "else 1 MiB)")
    serve.add_argument("--no-access-log", action="store_true",
                       help="do not log each request (saves CPU under heavy load)")
    serve.set_defaults(handler=cmd_serve)
