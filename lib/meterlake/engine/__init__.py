"""The generic machines: landed files into bronze (`ingest`, `streaming`) and the one snapshot
engine that keeps every keyed dataset's silver table (`snapshot`). Nothing here names a source."""
