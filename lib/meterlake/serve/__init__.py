"""Serving the lake without a JVM: the read API (delta-rs) and `meterlake serve`."""
