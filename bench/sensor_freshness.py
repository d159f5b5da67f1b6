"""Sensor freshness: from a batch landing to its readings in silver and gold, with the stream
kept running (`ingest sensors --stream --every S`), against the one-shot job a scheduler would
run for the same batch (`ingest sensors --stream` then `snapshot`, in the same session).

    .venv/bin/python -m bench.sensor_freshness [--batches 8] [--every 10] [--interval 20]

A feeder lands one receiver batch every `interval` seconds (5 sensors x `interval` seconds at
one message a second, the reference generator's rate, in the receiver's own format); the stream
runs with a `every`-second trigger, and each micro-batch that loaded something is followed by
the sensor snapshot and the rollups, as the CLI does. A batch's freshness is the time from its
landing to the end of the snapshot that made it queryable. The baseline: the same kind of batch
landed into another lake and loaded by the availableNow run plus the snapshot, timed whole.
The target of issue 15 is "queryable within a minute". Writes bench/SENSOR_RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.lakes import bench_settings
from meterlake.core.lake import Lake
from meterlake.core.spark import build_session
from meterlake.engine.ingest import IngestReport
from meterlake.engine.streaming import ingest_stream
from meterlake.lake_jobs import load_sensor_registry, snapshot_source
from meterlake.receive.landing import land_bytes
from meterlake.sources.registry import source_named
from meterlake.sources.sensors.landed import ReceivedMessage, encode_batch
from meterlake.sources.sensors.parse import SENSOR_FILES

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO.parent / "shared" / "fixtures" / "iot" / "sensors.json"
RESULTS = REPO / "bench" / "SENSOR_RESULTS.md"
TARGET_S = 60.0
SENSORS = [f"Sensor {n}" for n in range(1, 6)]


def batch(start: datetime, seconds: int) -> bytes:
    """`seconds` of every sensor at one message a second, delivered 150 ms after its dt."""
    messages = []
    for second in range(seconds):
        at = start + timedelta(seconds=second)
        for number, sensor in enumerate(SENSORS):
            payload = json.dumps({"id": sensor, "dt": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                                  "value": (second * 7 + number * 3) % 45}).encode()
            messages.append(ReceivedMessage.checked(
                "sensors", payload, at + timedelta(milliseconds=150), 1, second % 65535 + 1,
                False, False))
    return encode_batch(messages)


def one_shot(lake: Lake, start: datetime, seconds: int) -> float:
    """Lands one batch, then the scheduled job: availableNow ingest and the snapshot."""
    land_bytes(lake.settings.landing_root, "sensors", "one-shot.jsonl", batch(start, seconds))
    started = time.perf_counter()
    ingest_stream(lake, SENSOR_FILES)
    snapshot_source(lake, source_named("sensors"))
    return time.perf_counter() - started


def streamed(lake: Lake, start: datetime, batches: int, every: float, interval: int
             ) -> list[float]:
    """Freshness of each batch landed while the stream runs, in landing order."""
    landed_at: dict[str, float] = {}
    fresh: dict[str, float] = {}

    def feed() -> None:
        for number in range(batches):
            name = f"stream-{number:03d}.jsonl"
            data = batch(start + timedelta(seconds=number * interval), interval)
            land_bytes(lake.settings.landing_root, "sensors", name, data)
            landed_at[name] = time.perf_counter()
            time.sleep(interval)

    def snapshot(loaded: list[IngestReport]) -> None:
        snapshot_source(lake, source_named("sensors"))
        done = time.perf_counter()
        for report in loaded:
            for outcome in report.files:
                fresh[outcome.landed.original_name] = done - landed_at[
                    outcome.landed.original_name]

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    ingest_stream(lake, SENSOR_FILES, every=every, after_load=snapshot,
                  run_for=batches * interval + 600, should_stop=lambda: len(fresh) == batches)
    feeder.join()
    return [fresh[name] for name in sorted(fresh)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--every", type=float, default=10.0, help="the stream's trigger, s")
    parser.add_argument("--interval", type=int, default=20, help="seconds between batches")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="meterlake-bench-sensors-"))
    spark = build_session(bench_settings(work / "session"), "meterlake-bench-sensors")
    start = datetime(2025, 11, 12, 10, tzinfo=UTC)
    baseline_lake = Lake(spark, bench_settings(work / "one-shot"))
    load_sensor_registry(baseline_lake, REGISTRY)
    one_shot(baseline_lake, start, args.interval)  # warms the session up; not counted
    baselines = [one_shot(baseline_lake, start + timedelta(hours=h), args.interval)
                 for h in range(1, 4)]
    stream_lake = Lake(spark, bench_settings(work / "stream"))
    load_sensor_registry(stream_lake, REGISTRY)
    freshness = streamed(stream_lake, start, args.batches, args.every, args.interval)
    ordered = sorted(freshness)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    baseline = statistics.median(baselines)
    lines = [
        "# meterlake benchmarks: sensor freshness", "",
        "Written by `python -m bench.sensor_freshness`. One local[2] session; a batch is "
        f"{args.interval} s of 5 sensors at one message a second, landed every "
        f"{args.interval} s; the stream's trigger every {args.every} s.", "",
        "| measurement | s | baseline | s | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
        f"| landed -> in silver and gold, p50 of {len(freshness)} batches (stream running) | "
        f"{statistics.median(freshness):.1f} | one-shot job: availableNow ingest + snapshot "
        f"of one batch (median of 3) | {baseline:.1f} | "
        f"{statistics.median(freshness) / baseline:.2f} x the job | p95 <= {TARGET_S:.0f} s | "
        f"{'yes' if p95 <= TARGET_S else '**no**'} |",
        "", f"- freshness per batch, s: {' / '.join(f'{f:.1f}' for f in freshness)}",
        f"- p95 {p95:.1f} s, max {max(freshness):.1f} s",
        f"- one-shot job runs, s: {' / '.join(f'{b:.1f}' for b in baselines)}", "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
