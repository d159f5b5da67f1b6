"""Bronze ingest as Structured Streaming with `availableNow`: each run loads what landed since
the last one, tracked by a checkpoint, then stops.

The stream watches the landing zone's metadata files (written last, so a visible one means the
data is complete) and hands each micro-batch's landed files to the same batch ingest as
`meterlake ingest`: the same validation, lineage and `ops.ingest_log`, and files already logged
are skipped, so replaying a micro-batch after a crash loads nothing twice.
"""

from __future__ import annotations

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


def ingest_stream(lake: Lake, source: FileSource) -> list[IngestReport]:
    """Runs the stream until everything landed so far is loaded; returns one report per
    batch that loaded something."""
    reports: list[IngestReport] = []

    def load(batch_df: DataFrame, _batch_id: int) -> None:
        candidates = _landed_files(batch_df)
        while (report := ingest_pending(lake, source, candidates)).batch is not None:
            reports.append(report)

    landing = f"{lake.settings.landing_root.rstrip('/')}/{source.name}"
    stream_df = (
        lake.spark.readStream.format("text")
        .option("wholetext", "true")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", f"*{META_SUFFIX}")
        .load(landing)
    )
    query = (
        stream_df.writeStream.foreachBatch(load)
        .option("checkpointLocation", checkpoint_location(lake, source))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return reports
