"""Bronze ingest: landed files become append-only bronze rows, quarantined rows and a log line.

A batch is planned first (`ops.ingest_batches`), then written to quarantine, bronze and
`ops.ingest_log` in that order, each with the Delta transaction id (app, batch): a crashed run is
resumed with the same plan and Delta skips the writes it had already committed. The log is
written last, so a file counts as ingested only once all its rows are in.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructType, TimestampType

from meterlake.core.contracts import APPEND_ONLY, TableContract, struct_field
from meterlake.core.instants import utc_now_ms
from meterlake.core.interfaces import FileSource
from meterlake.core.lake import Lake, persisted
from meterlake.core.table_description import EVERY_LANDING
from meterlake.quality.quarantine import QUARANTINE
from meterlake.receive.landing import (
    DUPLICATE,
    LOADED,
    REJECTED,
    LandedFile,
    expand_paths,
    land_file,
    list_landed,
)

INGEST_LOG = TableContract(
    layer="ops",
    name="ingest_log",
    schema=StructType([
        struct_field("batch", LongType(), False, "the ingest batch that decided it"),
        struct_field("ingest_id", StringType(), False,
                     "the landed file's id (_ingest_id in bronze and quarantine)"),
        struct_field("source", StringType(), False, "the source it was delivered to"),
        struct_field("original_name", StringType(), False, "its name as delivered"),
        struct_field("landing_path", StringType(), False,
                     "where its bytes are kept in the landing zone"),
        struct_field("received_at", TimestampType(), False, "when it was received (UTC)"),
        struct_field("sha256", StringType(), False, "SHA-256 of its bytes"),
        struct_field("byte_size", LongType(), False, "its size", "bytes"),
        struct_field("sender", StringType(), True, "who delivered it, when known"),
        struct_field("outcome", StringType(), False, "loaded, rejected or duplicate"),
        struct_field("reason", StringType(), True,
                     "why it was rejected, or what it duplicates; null when loaded"),
        struct_field("rows_loaded", LongType(), False, "rows it added to bronze"),
        struct_field("rows_quarantined", LongType(), False,
                     "rows it added to bronze.quarantine"),
        struct_field("duplicate_of", StringType(), True,
                     "the ingest_id of the loaded file it repeats"),
        struct_field("logged_at", TimestampType(), False, "when ingest decided it (UTC)"),
    ]),
    grain="one row per received file: loaded, rejected or duplicate",
    keys=("ingest_id",),
    properties=APPEND_ONLY,
    fed_by=(EVERY_LANDING,),
)


INGEST_BATCHES = TableContract(
    layer="ops",
    name="ingest_batches",
    schema=StructType([
        struct_field("batch", LongType(), False, "the batch number, per source"),
        struct_field("source", StringType(), False, "the source"),
        struct_field("ingest_ids", ArrayType(StringType(), False), False,
                     "the landed files the batch loads"),
        struct_field("planned_at", TimestampType(), False, "when it was planned (UTC)"),
    ]),
    grain="one row per planned ingest batch; a batch without ingest_log rows is resumed",
    keys=("source", "batch"),
    properties=APPEND_ONLY,
    fed_by=(EVERY_LANDING,),
)



@dataclass(frozen=True)
class FileOutcome:
    landed: LandedFile
    outcome: str
    reason: str | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    duplicate_of: str | None = None


@dataclass(frozen=True)
class IngestReport:
    source: str
    batch: int | None
    files: tuple[FileOutcome, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


def _txn_app(source: str) -> str:
    return f"meterlake.ingest.{source}"


def logged_files(lake: Lake, source: FileSource) -> list[Row]:
    """Every `ops.ingest_log` row of `source`: batch, ingest id, outcome and identity. One read
    answers the plan (is the last batch finished, what is logged) and the duplicate check."""
    return (lake.read(INGEST_LOG).filter(F.col("source") == source.name)
            .select("ingest_id", "batch", "outcome", source.duplicate_by).collect())


def plan_batch(
    lake: Lake, source: str, log_rows: list[Row], candidates: list[LandedFile] | None = None
) -> tuple[int, list[str]] | None:
    """The unfinished batch to resume, else a new batch of the candidates (default: every landed
    file) not in `log_rows` yet; None when there is nothing to load."""
    batches_df = lake.read(INGEST_BATCHES).filter(F.col("source") == source)
    last = batches_df.orderBy(F.col("batch").desc()).select("batch", "ingest_ids").first()
    if last is not None and all(row["batch"] != last["batch"] for row in log_rows):
        return int(last["batch"]), list(last["ingest_ids"])
    logged = {row["ingest_id"] for row in log_rows}
    if candidates is None:
        candidates = list_landed(lake.settings.landing_root, source,
                                 object_store=lake.settings.object_store)
    pending = [f.ingest_id for f in candidates if f.ingest_id not in logged]
    if not pending:
        return None
    batch = 0 if last is None else int(last["batch"]) + 1
    plan_row = (batch, source, pending, utc_now_ms())
    lake.append(
        INGEST_BATCHES,
        lake.spark.createDataFrame([plan_row], INGEST_BATCHES.schema),
        txn=(f"meterlake.plan.{source}", batch),
    )
    return batch, pending


def split_duplicates(
    source: FileSource, files: list[LandedFile], log_rows: list[Row]
) -> tuple[list[LandedFile], list[FileOutcome]]:
    """Files already loaded (by the source's identity: content or name), earlier or earlier in
    this batch, are duplicates."""
    identity = source.duplicate_by
    values = {getattr(f, identity) for f in files}
    loaded_before = {
        row[identity]: row["ingest_id"] for row in log_rows
        if row["outcome"] == LOADED and row[identity] in values
    }
    what = "content (sha256)" if identity == "sha256" else "file name"
    fresh, duplicates = [], []
    for landed in files:
        first = loaded_before.get(getattr(landed, identity))
        if first is not None:
            duplicates.append(FileOutcome(
                landed, DUPLICATE, f"same {what} as ingest {first}, already loaded",
                duplicate_of=first,
            ))
        else:
            loaded_before[getattr(landed, identity)] = landed.ingest_id
            fresh.append(landed)
    return fresh, duplicates


def _files_df(lake: Lake, files: list[LandedFile]) -> DataFrame:
    """One row per landed file: its bytes, lineage and the receiver's `context` (null when it
    recorded none), read by Spark (works on any filesystem).

    Hash-partitioned by `_ingest_id` into one partition per core: a file's lines then stay in
    one partition through parsing, so per-file checks (a window over `_ingest_id`, ...) need
    no shuffle of the lines. An explicit partition count, so adaptive execution keeps it.
    """
    lineage_df = lake.spark.createDataFrame(
        [(f.ingest_id, f.original_name, f.received_at, f.sha256, f.landing_path, f.byte_size,
          f.context)
         for f in files],
        "_ingest_id string, _source_file string, _received_at timestamp, "
        "_file_sha256 string, landing_path string, byte_size long, context map<string,string>",
    )
    content_df = (
        lake.spark.read.format("binaryFile")
        .load([f.landing_path for f in files])
        .select(F.regexp_replace("path", "^file:/*", "/").alias("landing_path"), "content")
    )
    partitions = max(1, min(len(files), lake.spark.sparkContext.defaultParallelism))
    return lineage_df.join(content_df, on="landing_path", how="left").repartition(
        partitions, "_ingest_id")


def _rows_per_file(bronze_df: DataFrame, quarantine_df: DataFrame
                   ) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per file going to bronze and to quarantine, counted in one job."""
    both_df = bronze_df.select("_ingest_id", F.lit(True).alias("loaded")).unionByName(
        quarantine_df.select("_ingest_id", F.lit(False).alias("loaded")))
    counts = both_df.groupBy("_ingest_id", "loaded").count().collect()
    return ({r["_ingest_id"]: int(r["count"]) for r in counts if r["loaded"]},
            {r["_ingest_id"]: int(r["count"]) for r in counts if not r["loaded"]})


def load_files(
    lake: Lake, source: FileSource, files: list[LandedFile], batch: int
) -> list[FileOutcome]:
    """Validates and writes the files' rows; returns one outcome per file."""
    if not files:
        return []
    with ExitStack() as cached:
        files_df = cached.enter_context(persisted(_files_df(lake, files)))
        parsed = source.parse(files_df, lake.settings)
        for staged_df in parsed.staged_dfs:
            cached.enter_context(persisted(staged_df))
        rejections = {r["_ingest_id"]: r["rejection"] for r in parsed.verdicts_df.collect()}
        bronze_df, quarantine_df = parsed.bronze_df, parsed.quarantine_df
        loaded, quarantined = _rows_per_file(bronze_df, quarantine_df)
        # An empty append would still cost a Delta commit; a batch that skips one table is
        # resumed correctly all the same (the transaction id only guards what was written).
        if quarantined:
            lake.append(QUARANTINE, quarantine_df, txn=(_txn_app(source.name), batch))
        if loaded:
            lake.append(source.bronze, bronze_df, txn=(_txn_app(source.name), batch))
    return [
        FileOutcome(f, REJECTED, rejections[f.ingest_id]) if rejections[f.ingest_id]
        else FileOutcome(f, LOADED, None, loaded.get(f.ingest_id, 0),
                         quarantined.get(f.ingest_id, 0))
        for f in files
    ]


def _log_rows(outcomes: list[FileOutcome], batch: int) -> list[tuple]:
    logged_at = utc_now_ms()
    return [
        (batch, o.landed.ingest_id, o.landed.source, o.landed.original_name,
         o.landed.landing_path, o.landed.received_at, o.landed.sha256, o.landed.byte_size,
         o.landed.sender, o.outcome, o.reason, o.rows_loaded, o.rows_quarantined,
         o.duplicate_of, logged_at)
        for o in outcomes
    ]


def ingest_pending(
    lake: Lake, source: FileSource, candidates: list[LandedFile] | None = None
) -> IngestReport:
    """Loads the landed files of `source` not in `ops.ingest_log` yet (all, or those among
    `candidates`) as one batch; an unfinished batch is finished first, and alone."""
    lake.hold_all([source.bronze, QUARANTINE, INGEST_LOG, INGEST_BATCHES])
    # One listing of the landing zone serves the plan and the lookup below.
    landed_files = list_landed(lake.settings.landing_root, source.name,
                               object_store=lake.settings.object_store)
    log_rows = logged_files(lake, source)
    planned = plan_batch(lake, source.name, log_rows,
                         landed_files if candidates is None else candidates)
    if planned is None:
        return IngestReport(source.name, None, ())
    batch, ingest_ids = planned
    landed = {f.ingest_id: f for f in landed_files}
    lost = [i for i in ingest_ids if i not in landed]
    if lost:
        raise RuntimeError(f"batch {batch} plans files missing from the landing zone: {lost}")
    files = [landed[i] for i in ingest_ids]
    fresh, duplicates = split_duplicates(source, files, log_rows)
    by_id = {o.landed.ingest_id: o for o in duplicates + load_files(lake, source, fresh, batch)}
    outcomes = [by_id[i] for i in ingest_ids]
    log_df = lake.spark.createDataFrame(_log_rows(outcomes, batch), INGEST_LOG.schema)
    lake.append(INGEST_LOG, log_df, txn=(_txn_app(source.name), batch))
    return IngestReport(source.name, batch, tuple(outcomes))


def ingest_paths(
    lake: Lake, source: FileSource, paths: list[Path], sender: str | None = None
) -> IngestReport:
    """Receives files (landing them unchanged, in order), then loads everything pending.

    After a crash the first load finishes the interrupted batch alone; the files landed now are
    then loaded by a second one, and the report covers both.
    """
    landed = {land_file(lake.settings.landing_root, source.name, path, sender,
                        object_store=lake.settings.object_store).ingest_id
              for path in expand_paths(paths)}
    report = ingest_pending(lake, source)
    if landed - {f.landed.ingest_id for f in report.files}:
        rest = ingest_pending(lake, source)
        report = IngestReport(source.name, rest.batch, report.files + rest.files)
    return report


def logged_outcomes(lake: Lake, ingest_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """(outcome, reason) of each of `ingest_ids` that `ops.ingest_log` has decided."""
    rows = lake.read(INGEST_LOG).filter(F.col("ingest_id").isin(ingest_ids)).collect()
    return {r["ingest_id"]: (r["outcome"], r["reason"]) for r in rows}
