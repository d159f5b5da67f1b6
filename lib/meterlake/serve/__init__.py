"""Serving the lake: the HTTP app (dropzone ingest and the read API through delta-rs, no JVM),
the CLI's read queries (Spark) and relational publication (`publish`)."""
