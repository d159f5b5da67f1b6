"""What a report reads: silver.meter_readings pinned at one version, and the way back to it.

A run records the silver version it read and, per meter source, the bronze version that silver
version reflects. Reproduction reads silver at that version while time travel still has its
files; beyond that (VACUUM, retention) it rebuilds exactly the same rows from bronze at the
recorded versions, which are never vacuumed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.engine.snapshot import SNAPSHOT_PROGRESS
from meterlake.gold.settlement.book import SettlementBook, month_bounds
from meterlake.gold.settlement.energy import ESTIMATE_DAYS
from meterlake.gold.settlement.events import earliest_baseline_day
from meterlake.gold.settlement.files import exists, read_bytes
from meterlake.silver.meter_readings import SILVER_METER_READINGS, latest_by_arrival, to_silver_rows
from meterlake.sources.registry import METER_SOURCES

THROUGH = ("silver", "bronze")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InputsChangingError(RuntimeError):
    """A snapshot kept committing while the run tried to pin its inputs."""


@dataclass(frozen=True)
class Inputs:
    silver_version: int
    silver_committed_at: datetime
    # Per meter source, the bronze version silver_version reflects (None: never snapshotted).
    bronze_versions: dict[str, int | None]
    # When the newest of those bronze versions was committed: what the lake knew by then.
    as_known_at: datetime | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @staticmethod
    def from_json(text: str) -> Inputs:
        raw = json.loads(text)
        known = raw["as_known_at"]
        return Inputs(
            silver_version=int(raw["silver_version"]),
            silver_committed_at=datetime.fromisoformat(raw["silver_committed_at"]),
            bronze_versions={k: None if v is None else int(v)
                             for k, v in raw["bronze_versions"].items()},
            as_known_at=None if known is None else datetime.fromisoformat(known),
        )


def committed_at(lake: Lake, path: str, version: int) -> datetime:
    """The instant that dates one version, from its own log entry (not the whole history).

    That is the version's in-commit timestamp (every table meterlake creates has them,
    `core.lake.table_properties`): the instant Spark's DESCRIBE HISTORY shows and its
    `timestampAsOf` resolves, and Trino's `FOR TIMESTAMP AS OF` and `$history` too, on the table
    and on any copy of it. A version committed before in-commit timestamps were enabled has
    none: its commitInfo `timestamp` stands in (what Trino and delta-rs's history show; Spark
    dates such a version by its log file's modification time instead).
    """
    entry = read_bytes(lake.spark, f"{path}/_delta_log/{version:020d}.json").decode("utf-8")
    for line in entry.splitlines():
        action = json.loads(line)
        if "commitInfo" in action:
            info = action["commitInfo"]
            millis = info.get("inCommitTimestamp", info["timestamp"])
            return _EPOCH + timedelta(milliseconds=int(millis))
    raise ValueError(f"{path} version {version} has no commitInfo")


def _progress(lake: Lake) -> dict[str, int | None]:
    """Per meter source, the bronze version its last snapshot reached (one read of progress)."""
    reached = {
        r["source"]: int(r["v"]) for r in
        lake.read(SNAPSHOT_PROGRESS).groupBy("source").agg(F.max("bronze_version").alias("v"))
        .collect()
    }
    return {s.name: reached.get(s.name) for s in METER_SOURCES}


def pin_inputs(lake: Lake) -> Inputs:
    """Silver's current version and the bronze versions it reflects.

    A snapshot commits silver before it records its progress, so the pair is read progress,
    silver, progress again, and retried until both reads of progress agree.
    """
    for _ in range(5):
        before = _progress(lake)
        silver_version = lake.version(SILVER_METER_READINGS)
        after = _progress(lake)
        if before == after:
            break
    else:
        raise InputsChangingError("silver kept changing while pinning a report's inputs; "
                                  "run the report when no snapshot is running")
    known = [committed_at(lake, lake.path(s.bronze), version)
             for s in METER_SOURCES if (version := after[s.name]) is not None]
    return Inputs(
        silver_version=silver_version,
        silver_committed_at=committed_at(lake, lake.path(SILVER_METER_READINGS), silver_version),
        bronze_versions=after,
        as_known_at=max(known) if known else None,
    )


def reading_dates(book: SettlementBook, month: str) -> tuple[date, date]:
    """The UTC dates of the readings a month's settlement reads: the month in every partner's
    zone, the 7 days before it (estimates) and the baseline days of its events."""
    bounds = [month_bounds(month, p.zone) for p in book.partners.values()]
    first = min(start for start, _ in bounds) - timedelta(days=ESTIMATE_DAYS + 1)
    baseline = earliest_baseline_day(book, month)
    if baseline is not None:
        first = min(first, datetime.combine(baseline - timedelta(days=1), datetime.min.time(),
                                            UTC))
    last = max(end for _, end in bounds)
    return first.date(), last.date()


def readings_at(lake: Lake, inputs: Inputs, through: str, dates: tuple[date, date]) -> DataFrame:
    """silver.meter_readings as of `inputs` between two UTC dates, read from silver by time
    travel or rebuilt from bronze at the recorded versions."""
    first, last = (F.lit(d).cast("date") for d in dates)
    in_dates = F.col("interval_date").between(first, last)
    if through == "silver":
        return lake.read(SILVER_METER_READINGS, inputs.silver_version).filter(in_dates)
    if through != "bronze":
        raise ValueError(f"through must be one of {THROUGH}, got {through!r}")
    rebuilt = [
        lake.read(source.bronze, inputs.bronze_versions[source.name]).filter(in_dates)
        .transform(latest_by_arrival, source).transform(to_silver_rows, source)
        for source in METER_SOURCES if inputs.bronze_versions.get(source.name) is not None
    ]
    if not rebuilt:
        return lake.read(SILVER_METER_READINGS).limit(0)
    return reduce(DataFrame.unionByName, rebuilt)


def silver_unavailable(lake: Lake, inputs: Inputs, dates: tuple[date, date]) -> str | None:
    """Why silver at the recorded version cannot be read for these dates (None when it can):
    its log entry expired, or VACUUM removed files that version needs."""
    try:
        files = readings_at(lake, inputs, "silver", dates).inputFiles()
    except Exception as error:  # noqa: BLE001 - Delta raises several kinds for an expired log
        return str(error).strip().splitlines()[0][:200]
    for uri in files:
        if not exists(lake.spark, uri):
            return f"{uri} was removed (VACUUM)"
    return None


def readable_through(
    lake: Lake, inputs: Inputs, dates: tuple[date, date]
) -> tuple[str, str | None]:
    """("silver", None) while time travel can serve the version, else ("bronze", why not)."""
    reason = silver_unavailable(lake, inputs, dates)
    return ("silver", None) if reason is None else ("bronze", reason)
