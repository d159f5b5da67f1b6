"""Silver: one module per table, each with its contract, its latest-correct rule and the
keyed dataset the snapshot engine keeps."""
