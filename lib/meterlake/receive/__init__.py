"""Collectors: receive bytes, land them unchanged, then acknowledge. No Spark in here."""
