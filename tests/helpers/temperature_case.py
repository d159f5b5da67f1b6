"""A temperature lake staged from three polled responses, with the hourly means it must give.

Responses started at 09:05, 10:30 and 12:10 UTC (none at 11:00: a missing hour). The third
carries a correction of a 09:05 record. Points: Paris (Île-de-France, 11), Lyon
(Auvergne-Rhône-Alpes, 84), Ajaccio (Corse, 94, its country spelled " FRANCE "), Dortmund
(Germany), a France point in the sea off Brittany (inside Brittany's box, outside its contour)
and a Paris record without a temperature.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_pending
from meterlake.lake_jobs import snapshot_source
from meterlake.receive.landing import LandedFile, land_bytes
from meterlake.sources.registry import source_named
from meterlake.sources.temperatures import NAME

PARIS, LYON, AJACCIO = (48.8566, 2.3522), (45.764, 4.8357), (41.9192, 8.7386)
DORTMUND, SEA_OFF_BRITTANY = (51.5136, 7.4653), (48.3, -4.75)
NINE, TEN, NOON = (datetime(2026, 12, 7, h, m, tzinfo=UTC) for h, m in ((9, 5), (10, 30),
                                                                        (12, 10)))


def record(record_id: str, at: tuple[float, float], temperature: float | None,
           country: str = "France") -> dict[str, object]:
    return {"id": record_id, "timestamp": "2026-12-07 09:05:00", "lat": at[0], "lon": at[1],
            "temperature": temperature, "country": country}


RESPONSES = (
    (NINE, [record("paris-1", PARIS, 10.0), record("paris-2", PARIS, 20.0),
            record("lyon-1", LYON, 15.0), record("paris-3", PARIS, None),
            record("dortmund-1", DORTMUND, 12.0, "Germany"),
            record("sea-1", SEA_OFF_BRITTANY, 11.0),
            record("ajaccio-1", AJACCIO, 18.0, " FRANCE ")]),
    (TEN, [record("paris-4", PARIS, 30.0)]),
    (NOON, [record("paris-5", PARIS, 12.0), record("lyon-2", LYON, 16.0),
            record("paris-1", PARIS, 14.0)]),  # a correction of the 09:05 record
)

HOUR_9, HOUR_10, HOUR_12 = (datetime(2026, 12, 7, h) for h in (9, 10, 12))
# (hour, region_code, region_name, assignment, temperature, number_of_points), hours naive UTC.
EXPECTED_HOURLY = sorted(
    [(HOUR_9, "11", "Île-de-France", mode, 17.0, 2) for mode in ("box", "polygon")]
    + [(HOUR_9, "84", "Auvergne-Rhône-Alpes", mode, 15.0, 1) for mode in ("box", "polygon")]
    + [(HOUR_9, "94", "Corse", mode, 18.0, 1) for mode in ("box", "polygon")]
    + [(HOUR_9, "53", "Bretagne", "box", 11.0, 1)]
    + [(HOUR_10, "11", "Île-de-France", mode, 30.0, 1) for mode in ("box", "polygon")]
    + [(HOUR_12, "11", "Île-de-France", mode, 12.0, 1) for mode in ("box", "polygon")]
    + [(HOUR_12, "84", "Auvergne-Rhône-Alpes", mode, 16.0, 1) for mode in ("box", "polygon")]
)
# What sql/temperature_3_hours_before.sql gives: (assignment, region, hour, temperature,
# temperature_3_hours_before). 11 at 12:00 takes 09:00's mean, not 10:00's (the row before it).
EXPECTED_3_HOURS_BEFORE = sorted(
    [(mode, "11", HOUR_9, 17.0, None) for mode in ("box", "polygon")]
    + [(mode, "11", HOUR_10, 30.0, None) for mode in ("box", "polygon")]
    + [(mode, "11", HOUR_12, 12.0, 17.0) for mode in ("box", "polygon")]
    + [("box", "53", HOUR_9, 11.0, None)]
    + [(mode, "84", HOUR_9, 15.0, None) for mode in ("box", "polygon")]
    + [(mode, "84", HOUR_12, 16.0, 15.0) for mode in ("box", "polygon")]
    + [(mode, "94", HOUR_9, 18.0, None) for mode in ("box", "polygon")]
)


def land_response(lake: Lake, started: datetime, records: list[dict[str, object]]) -> LandedFile:
    """Lands one response as the poller does: its bytes, with the request's start."""
    context = {"request_started_at": started.isoformat(), "url": "http://partner.test/api",
               "status": "200", "latency_ms": "12.0", "attempt": "1"}
    return land_bytes(lake.settings.landing_root, NAME, f"temperatures_{started:%H%M}.json",
                      json.dumps(records).encode(), sender="http://partner.test/api",
                      context=context)


def stage_temperature_lake(lake: Lake) -> Lake:
    """Each response polled, ingested and snapshotted in turn, as scheduled runs would."""
    source = source_named(NAME)
    for started, records in RESPONSES:
        land_response(lake, started, records)
        ingest_pending(lake, source.files)
        snapshot_source(lake, source)
    return lake


def sql_rows(spark: SparkSession, query: str) -> list[tuple]:
    return sorted(tuple(r) for r in spark.sql(query).collect())
