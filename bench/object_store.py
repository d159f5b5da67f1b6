"""The bench day's ingest and snapshot with the lake on the object store vs on local disk, and
spark-submitted to the standalone cluster vs `local[2]`.

    .venv/bin/python -m bench.object_store [--meters 200] [--runs 3]

Starts infra/s3.sh and infra/spark-cluster.sh (both stay up). The day is one day of production
cadence (96 drops, the quick suite's 200 meters with its corrections and bad rows), loaded into a
fresh lake by each run.

- A. In one `local[2]` session, runs alternating: `ingest_paths` of the day, then `run_snapshot`
  of it, into a fresh lake on local disk and into a fresh lake under its own prefix on the
  object store (SeaweedFS on loopback, the jobs' identity: landing with boto3, Delta through
  S3A, leases taken). Each figure is the median of the runs; the ratio is object store / disk.
- B. `spark-submit jobs/ingest.py` then `jobs/snapshot.py`, the lake on the object store, to
  `spark://` (two workers of one core) vs `local[2]`: wall time of each command, JVM start and
  session included, as a scheduler sees it.

Writes bench/OBJECT_STORE_RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from bench.lakes import bench_settings
from meterlake.core.config import Settings, load_settings
from meterlake.core.jars import jar_paths
from meterlake.core.lake import Lake
from meterlake.core.spark import build_session, use_object_store
from meterlake.engine.ingest import ingest_paths
from meterlake.engine.snapshot import run_snapshot
from meterlake.sources.utility_drops import source as utility_drops_source
from meterlake.sources.utility_drops.generate import UtilityDropPlan, write_utility_drops
from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES

REPO = Path(__file__).resolve().parents[1]
S3_CONF = REPO / "conf" / "s3-local.yaml"
BIN = Path(sys.executable).parent
RESULTS = REPO / "bench" / "OBJECT_STORE_RESULTS.md"


def _script(name: str, *args: str) -> str:
    result = subprocess.run(["bash", str(REPO / "infra" / name), *args], capture_output=True,
                            text=True, check=True, timeout=1800)
    return result.stdout


def jobs_environment() -> dict[str, str]:
    lines = _script("s3.sh", "env", "jobs").splitlines()
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


def s3_settings(local: Settings, env: dict[str, str], prefix: str) -> Settings:
    shipped = load_settings(S3_CONF, env=env)
    return replace(local, lake_root=f"{shipped.lake_root}/bench/{prefix}",
                   landing_root=f"{shipped.landing_root}/bench/{prefix}",
                   object_store=shipped.object_store)


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def in_session(day: list[Path], runs: int, work: Path, env: dict[str, str]
               ) -> dict[str, dict[str, list[float]]]:
    """A: {store: {step: [seconds per run]}} for store in disk, s3."""
    settings = bench_settings(work / "session")
    spark = build_session(settings, "meterlake-bench-object-store")
    os.environ.update(env)
    dataset = utility_drops_source.SNAPSHOT
    times: dict[str, dict[str, list[float]]] = {
        store: {"ingest": [], "snapshot": []} for store in ("disk", "s3")}
    for run in range(-1, runs):  # run -1 warms the session up (code paths, S3A clients)
        for store in ("disk", "s3"):
            prefix = f"{store}-{run}-{uuid.uuid4().hex[:8]}"
            if store == "disk":
                lake_settings = bench_settings(work / prefix)
            else:
                lake_settings = s3_settings(settings, env, prefix)
                use_object_store(spark, lake_settings)
            lake = Lake(spark, lake_settings)
            ingest = timed(partial(ingest_paths, lake, UTILITY_DROP_FILES, day))
            snapshot = timed(partial(run_snapshot, lake, dataset))
            lake.release_leases()
            if run >= 0:
                times[store]["ingest"].append(ingest)
                times[store]["snapshot"].append(snapshot)
            print(f"A run {run} {store}: ingest {ingest:.2f} s, snapshot {snapshot:.2f} s",
                  flush=True)
    spark.stop()
    return times


def submitted(day_dir: Path, runs: int, work: Path, env: dict[str, str]
              ) -> dict[str, dict[str, list[float]]]:
    """B: {master: {job: [seconds per run]}} for the cluster and local[2], lake on S3."""
    archive = work / "meterlake.zip"
    subprocess.run([sys.executable, "-m", "zipfile", "-c", str(archive),
                    str(REPO / "lib" / "meterlake")], check=True)
    cluster = _script("spark-cluster.sh", "url").strip()
    jars = ",".join(str(p) for p in jar_paths())
    times: dict[str, dict[str, list[float]]] = {
        master: {"ingest": [], "snapshot": []} for master in ("cluster", "local[2]")}
    for run in range(runs):
        for master in ("cluster", "local[2]"):
            prefix = f"submit-{master[:5]}-{run}-{uuid.uuid4().hex[:8]}"
            job_env = {**os.environ, **env, "PYSPARK_PYTHON": sys.executable,
                       "SPARK_LOCAL_IP": "127.0.0.1",
                       "METERLAKE_LANDING": f"s3a://meterlake/landing/bench/{prefix}"}
            on = ["--conf", str(S3_CONF), "--lake", f"s3a://meterlake/lake/bench/{prefix}"]
            submit = [str(BIN / "spark-submit"),
                      "--master", cluster if master == "cluster" else "local[2]",
                      "--jars", jars, "--py-files", str(archive),
                      "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2",
                      "--conf", "spark.log.level=WARN"]
            for job, args in (("ingest", [*on, "utility_drops", str(day_dir)]),
                              ("snapshot", on)):
                started = time.perf_counter()
                subprocess.run([*submit, f"jobs/{job}.py", *args], cwd=REPO, env=job_env,
                               check=True, capture_output=True, timeout=1800)
                seconds = time.perf_counter() - started
                times[master][job].append(seconds)
                print(f"B run {run} {master} {job}: {seconds:.2f} s", flush=True)
    return times


def _row(name: str, values: list[float], baseline: list[float]) -> str:
    median, base = statistics.median(values), statistics.median(baseline)
    runs = ", ".join(f"{v:.2f}" for v in values)
    return f"| {name} | {median:.2f} | {median / base:.2f} | {runs} |"


def report(meters: int, drops: int, a: dict, b: dict) -> str:
    lines = [
        "# Object store and cluster",
        "",
        f"`make bench-object-store`: one day of {drops} drops for {meters} meters (bench/"
        "object_store.py). Medians over the runs listed; ratios against the baseline of the "
        "same section, measured in the same run.",
        "",
        "## A. Lake on the object store vs local disk (one local[2] session)",
        "",
        "| step | median s | ratio to disk | runs (s) |",
        "|---|---|---|---|",
    ]
    for step in ("ingest", "snapshot"):
        lines.append(_row(f"{step}, local disk (baseline)", a["disk"][step], a["disk"][step]))
        lines.append(_row(f"{step}, object store", a["s3"][step], a["disk"][step]))
    lines += [
        "",
        "## B. spark-submit to the standalone cluster vs local[2] (lake on the object store)",
        "",
        "| job | median s | ratio to local[2] | runs (s) |",
        "|---|---|---|---|",
    ]
    for job in ("ingest", "snapshot"):
        lines.append(_row(f"{job}, local[2] (baseline)", b["local[2]"][job], b["local[2]"][job]))
        lines.append(_row(f"{job}, cluster", b["cluster"][job], b["local[2]"][job]))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    _script("s3.sh", "start")
    _script("spark-cluster.sh", "start")
    env = jobs_environment()
    with tempfile.TemporaryDirectory(prefix="meterlake-bench-s3-") as tmp:
        work = Path(tmp)
        plan = UtilityDropPlan(meters=args.meters, days=1, seed=11, drops_per_day=96,
                               correction_rate=0.02, new_meters=1, bad_row_rate=0.0005)
        day = write_utility_drops(plan, work / "day")
        a = in_session(day, args.runs, work, env)
        b = submitted(work / "day", args.runs, work, env)
    text = report(args.meters, len(day), a, b)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
