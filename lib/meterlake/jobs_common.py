"""What every entry point does first: settings from --conf/--lake, then the one session."""

from __future__ import annotations

import argparse
from pathlib import Path

from meterlake.config import Settings, load_settings
from meterlake.lake import Lake
from meterlake.spark import build_session


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.conf)
    return settings.with_lake(str(Path(args.lake).resolve())) if args.lake else settings


def lake_from_args(args: argparse.Namespace, app: str) -> Lake:
    settings = settings_from_args(args)
    return Lake(build_session(settings, f"meterlake-{app}"), settings)
