"""Gold: reports and aggregates computed from silver at a pinned Delta version."""
