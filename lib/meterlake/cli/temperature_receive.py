"""`meterlake poll temperatures` and `meterlake simulate temperature-api`: the temperature
source's receiving side. No Spark: the poller only lands bytes.

    METERLAKE_TEMPERATURE_API_KEY=... meterlake poll temperatures --url https://api.example/t \\
        --every 60 --lake var/lake
    METERLAKE_TEMPERATURE_API_KEY=... meterlake simulate temperature-api --port 8081 \\
        --error-rate 0.1 --throttle-rate 0.05
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from typing import TYPE_CHECKING

from meterlake.cli.common import (
    EXIT_DONE,
    common_options,
    settings_from_args,
    whole_number_at_least,
)
from meterlake.core.config import ObjectStoreSettings
from meterlake.sources.temperatures import NAME, REJECTED_NAME

if TYPE_CHECKING:
    from meterlake.receive.temperature_poller import PollOutcome

EXIT_SOME_POLL_FAILED = 1
KEY_VARIABLE = "METERLAKE_TEMPERATURE_API_KEY"
SIMULATOR = "temperature-api"


def _api_key(variable: str) -> str:
    """The key from the environment only: a command-line argument would show in `ps`."""
    key = os.environ.get(variable, "")
    if not key:
        raise LookupError(f"the API key is read from the environment variable {variable}, "
                          "which is not set or empty")
    return key


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # httpx logs every request's URL at INFO; the poller's own lines say more.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _landed_as(landing_root: str, path: str) -> str:
    """`path` under the landing root (a directory or an s3a:// URL), as the user knows it."""
    root = f"{landing_root.rstrip('/')}/"
    return path[len(root):] if path.startswith(root) else path


def cmd_poll(args: argparse.Namespace) -> int:
    from meterlake.receive.temperature_poller import iter_polls

    key = _api_key(args.api_key_env)
    settings = settings_from_args(args)
    landing_root, store = settings.landing_root, settings.object_store
    _configure_logging()
    done, failed = 0, 0  # counts, not outcomes: polling forever must not grow memory
    try:
        for outcome in iter_polls(args.url, key, landing_root, every_seconds=args.every,
                                  polls=args.polls, object_store=store):
            done, failed = done + 1, failed + (not outcome.is_ok)
            print(_describe(outcome, landing_root, store), flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {_counted(done, 'poll')}, {failed} failed", file=sys.stderr)
    return EXIT_SOME_POLL_FAILED if failed else EXIT_DONE


def _describe(outcome: PollOutcome, landing_root: str, store: ObjectStoreSettings) -> str:
    """One line: the poll, its status, how many records landed where, and its attempts."""
    from meterlake.receive.landing import read_landed_bytes

    attempts = _counted(outcome.attempts, "attempt")
    if outcome.accepted is not None:
        landed = read_landed_bytes(outcome.accepted.landing_path, object_store=store)
        records = len(json.loads(landed))
        return (f"poll {outcome.poll}: HTTP {outcome.status}, {_counted(records, 'record')} "
                f"landed as {_landed_as(landing_root, outcome.accepted.landing_path)} "
                f"({attempts})")
    kept = (f"{_counted(len(outcome.landed), 'response')} landed under {REJECTED_NAME}"
            if outcome.landed else "nothing landed")
    return f"poll {outcome.poll}: failed ({outcome.error}), {kept} ({attempts})"


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def cmd_simulate(args: argparse.Namespace) -> int:
    from meterlake.receive.temperature_api import serve_simulator

    key = _api_key(args.api_key_env)
    _configure_logging()
    serve_simulator(args.host, args.port, key, seed=args.seed, records_per_call=args.records,
                    error_rate=args.error_rate, throttle_rate=args.throttle_rate,
                    invalid_rate=args.invalid_rate, verbose=args.verbose)
    return EXIT_DONE


def _seconds(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key-env", default=KEY_VARIABLE, metavar="VAR",
                        help=f"environment variable holding the API key (default {KEY_VARIABLE})")


def add_poll_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `poll temperatures --url URL [--api-key-env VAR] [--every S] [--polls N]
    [--lake DIR] [--conf FILE]`."""
    poll = sub.add_parser("poll", parents=[common_options()],
                          help="poll a partner API and land every response (no Spark)")
    poll.add_argument("source", choices=[NAME])
    poll.add_argument("--url", required=True, help="the API's URL")
    _key_option(poll)
    poll.add_argument("--every", type=_seconds, default=60.0, metavar="SECONDS",
                      help="seconds from the start of one poll to the next (default 60)")
    poll.add_argument("--polls", type=whole_number_at_least(1), metavar="N",
                      help="stop after N polls (default: poll until interrupted)")
    poll.set_defaults(handler=cmd_poll)


def add_simulate_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `simulate temperature-api --port P [--host H] [--api-key-env VAR] [--seed S]
    [--records N] [--error-rate R] [--throttle-rate R] [--invalid-rate R] [--verbose]`."""
    simulate = sub.add_parser("simulate", help="run a local simulator of a partner API")
    simulate.add_argument("api", choices=[SIMULATOR])
    simulate.add_argument("--port", type=int, required=True, help="port to listen on")
    simulate.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    _key_option(simulate)
    simulate.add_argument("--seed", type=int, help="seed for reproducible answers")
    simulate.add_argument("--records", type=whole_number_at_least(0), default=40,
                          help="records per call (default 40)")
    for option, what in (("--error-rate", "500"), ("--throttle-rate", "429 (Retry-After: 1)"),
                         ("--invalid-rate", "200 whose body is an object")):
        simulate.add_argument(option, type=_rate, default=0.0, metavar="R",
                              help=f"share of calls answered with a {what} (default 0)")
    simulate.add_argument("--verbose", action="store_true", help="log every request")
    simulate.set_defaults(handler=cmd_simulate)
