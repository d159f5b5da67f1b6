"""The temperature source: a partner's REST API polled on a schedule; each response is a JSON
array of records `{id, timestamp, lat, lon, temperature, country}`.

The folder: `door` (checks at the door, pure Python: the poller uses them), `regions` (the
French regions' contours and the two assignment rules), `contract`, `rules`, `parse`, `source`.
Nothing here imports Spark at package import.
"""

NAME = "temperatures"
# Polled over HTTP, not delivered as files in a directory: nothing to watch.
WATCHABLE = False
# Responses refused at the door (an HTTP error, a body that is not a JSON array) are landed
# under this name, with their reason, and never loaded.
REJECTED_NAME = "temperatures_rejected"
