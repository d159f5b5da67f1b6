"""One module per source: raw bytes to bronze rows plus quarantined rows."""
