"""The HTTP dropzone: JSON payloads `{time_stamp with offset, data: [numbers]}` POSTed to
`/v1/dropzone`.

The folder: `door` (checks at the door, pure Python: the HTTP receiver uses them), `contract`,
`rules`, `parse`, `source`. Nothing here imports Spark at package import.
"""

NAME = "dropzone"
# Payloads arrive over HTTP, not as files in a directory: nothing to watch.
WATCHABLE = False
# Bodies refused at the door are landed under this name, for lineage, and never loaded.
REJECTED_NAME = "dropzone_rejected"
