"""`meterlake catalog [--json]`: the data catalogue of the lake, every table with its grain,
keys, columns, owner, freshness, quality and lineage (meterlake.serve.catalogue).

    meterlake catalog --lake var/lake
    meterlake catalog --json --conf conf/s3-local.yaml

No Spark session: the descriptions come from the contracts (imported when the command runs), the
state of each table from its Delta log through delta-rs.
"""

from __future__ import annotations

import argparse
import json

from meterlake.cli.common import common_options, settings_from_args
from meterlake.core.object_store import check_reachable


def cmd_catalog(args: argparse.Namespace) -> int:
    from meterlake.catalog import table_descriptions
    from meterlake.serve.catalogue import CatalogueBuilder
    from meterlake.serve.catalogue_pages import catalogue_json, catalogue_text
    from meterlake.serve.delta_reads import LatestTables

    settings = settings_from_args(args)
    # The lake only: an identity that may not list the landing zone still gets the catalogue
    # (its newest arrivals then come from ops.ingest_log).
    check_reachable(settings.object_store, [settings.lake_root])
    tables = LatestTables(settings.lake_root, settings.object_store)
    catalogue = CatalogueBuilder(table_descriptions(), tables, settings.landing_root).build()
    print(json.dumps(catalogue_json(catalogue), indent=2) if args.json
          else catalogue_text(catalogue))
    return 0


def add_catalog_parser(sub: argparse._SubParsersAction) -> None:
    """Adds `catalog [--json] [--lake DIR] [--conf FILE]`."""
    catalog = sub.add_parser(
        "catalog", parents=[common_options()],
        help="the data catalogue: every table, its grain, keys, columns, owner, freshness, "
             "quality and lineage")
    catalog.add_argument("--json", action="store_true", help="print JSON instead of text")
    # delta-rs can abort the interpreter at exit after a read (delta-io/delta-rs#2184): `main`
    # flushes and leaves with os._exit once the command is done.
    catalog.set_defaults(handler=cmd_catalog, reads_with_delta_rs=True)
