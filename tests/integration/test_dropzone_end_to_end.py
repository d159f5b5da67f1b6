"""The dropzone from door to answer: payloads POSTed to the real server are landed, loaded by
Spark into bronze and silver, and served back by the read API with the statistics Python
computes from the same files."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from pyspark.sql import SparkSession

from meterlake.engine.ingest import ingest_pending
from meterlake.lake_jobs import snapshot_source
from meterlake.sources.dropzone import source as dropzone_source
from meterlake.sources.dropzone.parse import DROPZONE_FILES
from tests.helpers.http_server import ALL_KEY, running_server
from tests.helpers.lakes import lake_at
from tests.helpers.paths import FIXTURES

DROPZONE = FIXTURES / "dropzone"


def test_posted_payloads_come_back_as_statistics(spark: SparkSession, tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    with running_server(lake_root, workers=1) as server, server.client(ALL_KEY) as client:
        for name in ("file_1.json", "file_2.json"):
            posted = client.post("/v1/dropzone", content=(DROPZONE / name).read_bytes(),
                                 headers={"Content-Type": "application/json"})
            assert posted.status_code == 202, posted.text
        with (DROPZONE / "file_3.json").open("rb") as upload:
            posted = client.post("/v1/dropzone", files={"file_upload": ("file_3.json", upload)})
        assert posted.status_code == 202, posted.text

        lake = lake_at(spark, lake_root)
        report = ingest_pending(lake, DROPZONE_FILES)
        assert [(f.outcome, f.rows_loaded) for f in report.files] == [("loaded", 1)] * 3
        snapshot_source(lake, dropzone_source.SOURCE)

        stats = client.get("/v1/dropzone/stats", params={
            "start": "2019-05-01T00:00:00Z", "end": "2019-05-31T00:00:00Z"}).json()["stats"]
    expected = []
    for name in ("file_1.json", "file_2.json", "file_3.json"):
        payload = json.loads((DROPZONE / name).read_text())
        expected.append((payload["time_stamp"], payload["data"]))
    assert [s["time_stamp_utc"] for s in stats] == [
        "2019-05-02T10:00:00Z", "2019-05-03T10:00:00Z", "2019-05-04T10:00:00Z"]
    for answer, (_stamp, values) in zip(stats, expected, strict=True):
        assert (answer["payload_count"], answer["value_count"]) == (1, len(values))
        assert abs(answer["mean"] - statistics.fmean(values)) <= 1e-12 * abs(answer["mean"])
        assert abs(answer["std"] - statistics.stdev(values)) <= 1e-12 * answer["std"]
