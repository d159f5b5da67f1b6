"""Data quality: row rules applied to staging rows (`quarantine`) and table expectations run
after a write (`expectations`)."""
