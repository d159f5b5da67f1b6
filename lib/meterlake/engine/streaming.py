"""Bronze ingest as Structured Streaming over the landing zone, tracked by a checkpoint: with
`availableNow` each run loads what landed since the last one, then stops; with a processing-time
trigger (`every` seconds) it keeps running, and each micro-batch that loaded something is
followed by `after_load` (the CLI runs the source's snapshot and rollups there, so a landed
message is queryable in silver and gold within one trigger interval plus the batch's own time).

The stream watches the landing zone's metadata files (written last, so a visible one means the
data is complete) and hands each micro-batch's landed files to the same batch ingest as
`meterlake ingest`: the same validation, lineage and `ops.ingest_log`, and files already logged
are skipped, so replaying a micro-batch after a crash loads nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pyspark.sql import DataFrame

from meterlake.core.interfaces import FileSource
from meterlake.core.lake import Lake
from meterlake.engine.ingest import IngestReport, ingest_pending
from meterlake.receive.landing import META_SUFFIX, LandedFile


def checkpoint_location(lake: Lake, source: FileSource) -> str:
    return f"{lake.settings.lake_root.rstrip('/')}/_checkpoints/ingest/{source.name}"


def _landed_files(batch_df: DataFrame) -> list[LandedFile]:
    """The micro-batch's metadata records, in arrival order (one small row per file)."""
    landed = [LandedFile.from_json(row["value"]) for row in batch_df.select("value").collect()]
    return sorted(landed, key=lambda f: (f.received_at, f.ingest_id))


def ingest_stream(
    lake: Lake, source: FileSource, every: float | None = None,
    after_load: Callable[[list[IngestReport]], None] | None = None,
    run_for: float | None = None, should_stop: Callable[[], bool] = lambda: False,
) -> list[IngestReport]:
    """Without `every`: runs the stream until everything landed so far is loaded. With it:
    micro-batches every `every` seconds until stopped: killed, `run_for` seconds passed, or
    `should_stop()` (asked every second). Returns one report per batch that loaded something."""
    reports: list[IngestReport] = []

    def load(batch_df: DataFrame, _batch_id: int) -> None:
        candidates = _landed_files(batch_df)
        loaded = []
        while (report := ingest_pending(lake, source, candidates)).batch is not None:
            loaded.append(report)
        reports.extend(loaded)
        if loaded and after_load is not None:
            after_load(loaded)

    landing = f"{lake.settings.landing_root.rstrip('/')}/{source.name}"
    stream_df = (
        lake.spark.readStream.format("text")
        .option("wholetext", "true")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", f"*{META_SUFFIX}")
        .load(landing)
    )
    writer = (stream_df.writeStream.foreachBatch(load)
              .option("checkpointLocation", checkpoint_location(lake, source)))
    if every is None:
        query = writer.trigger(availableNow=True).start()
        query.awaitTermination()
        return reports
    query = writer.trigger(processingTime=f"{every} seconds").start()
    deadline = None if run_for is None else time.monotonic() + run_for
    try:
        while query.isActive and not should_stop() and (
                deadline is None or time.monotonic() < deadline):
            query.awaitTermination(1)
    finally:
        query.stop()
    if query.exception() is not None:
        raise RuntimeError(f"the {source.name} stream failed: {query.exception()}")
    return reports
