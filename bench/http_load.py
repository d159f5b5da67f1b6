"""Load benchmark of POST /v1/dropzone: sustained requests/s, latency, and lost requests.

    .venv/bin/python -m bench.http_load [--duration 20] [--connections 16] [--workers 2]

Starts `meterlake serve` on 127.0.0.1 (a free port, a fresh lake in a temporary directory),
drives it with wrk (Debian package `wrk`) for a fixed duration, posting the reference payload
../shared/fixtures/dropzone/file.json with a valid key, then stops the server and audits the
landing zone: every landing id a 202 returned must be a complete landed object holding the bytes
sent. Lost = acknowledged ids without their object (the target is zero); requests still in
flight when wrk stops may land without wrk counting their answer (reported, not lost).

The requirement is 1,000 requests per minute; the target is 30x that (500 requests/s) on this
2-core machine, which wrk and the server share. Writes bench/HTTP_RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meterlake.receive.landing import list_landed
from meterlake.serve.local_process import serve_locally

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = REPO.parent / "shared" / "fixtures" / "dropzone" / "file.json"
KEY = "bench-key-0123456789abcdef"
REQUIRED_PER_SECOND = 1000 / 60
TARGET_PER_SECOND = 30 * REQUIRED_PER_SECOND

# One Lua state per wrk thread: each counts its answers and appends the landing id of every 202
# to its own file; `done` prints wrk's latency percentiles (microseconds) as JSON.
WRK_SCRIPT = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  local f = io.open("{payload}", "rb")
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Authorization"] = "Bearer {key}"
  wrk.headers["Content-Type"] = "application/json"
  ids = io.open("{out}/ids_" .. id .. ".txt", "w")
  ids:setvbuf("line")
end
function response(status, headers, body)
  if status == 202 then
    ids:write(string.match(body, '"landing_id":"(%x+)"'), "\\n")
  else
    io.stderr:write("status ", status, "\\n")
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    non_2xx: int
    acknowledged: int
    landed: int
    lost: int
    wrong_bytes: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


@contextmanager
def serving(lake: Path, workers: int) -> Iterator[str]:
    """`meterlake serve` of `lake` on a free loopback port until the block ends; yields its URL."""
    conf = lake.parent / "bench.yaml"
    conf.write_text(f"lake_root: {lake}\n", encoding="utf-8")
    env = {**os.environ, "METERLAKE_API_KEYS": f"{KEY}:ingest"}
    with serve_locally(conf, lake.parent / "server.log", env=env, cwd=REPO,
                       extra_args=("--workers", str(workers), "--no-access-log")) as server:
        yield server.url


def run_wrk(url: str, work: Path, seconds: int, connections: int, threads: int) -> dict:
    """wrk's summary (the `@@` JSON line of the script's `done`)."""
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT.format(payload=PAYLOAD, key=KEY, out=work), encoding="utf-8")
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(script), f"{url}/v1/dropzone"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )
    summary = re.search(r"^@@(.*)$", result.stdout, re.MULTILINE)
    if summary is None:
        raise RuntimeError(f"no summary from wrk:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(summary.group(1))
    figures["non_2xx"] = result.stderr.count("status ")
    return dict(figures)


def audit(landing: Path, work: Path) -> tuple[int, int, int, int]:
    """(acknowledged ids, landed objects, acknowledged but not landed, landed with other bytes)."""
    acknowledged = {line for ids in work.glob("ids_*.txt")
                    for line in ids.read_text().split() if line}
    landed = {f.ingest_id: f for f in list_landed(landing, "dropzone")}
    expected_sha256 = hashlib.sha256(PAYLOAD.read_bytes()).hexdigest()
    wrong = sum(1 for i in acknowledged
                if i in landed and (landed[i].sha256 != expected_sha256
                                    or Path(landed[i].landing_path).read_bytes()
                                    != PAYLOAD.read_bytes()))
    return len(acknowledged), len(landed), len(acknowledged - set(landed)), wrong


def measure(seconds: int, connections: int, threads: int, workers: int) -> LoadResult:
    work = Path(tempfile.mkdtemp(prefix="meterlake-http-bench-"))
    try:
        lake = work / "lake"
        with serving(lake, workers) as url:
            figures = run_wrk(url, work, seconds, connections, threads)
        acknowledged, landed, lost, wrong = audit(lake / "landing", work)
        errors = sum(figures[k] for k in ("connect", "read", "write", "timeout"))
        return LoadResult(
            requests=figures["requests"], seconds=figures["duration_us"] / 1e6,
            p50_ms=figures["p50_us"] / 1e3, p99_ms=figures["p99_us"] / 1e3,
            max_ms=figures["max_us"] / 1e3, socket_errors=errors, non_2xx=figures["non_2xx"],
            acknowledged=acknowledged, landed=landed, lost=lost, wrong_bytes=wrong,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(result: LoadResult, args: argparse.Namespace) -> str:
    verdict = ("PASS" if result.per_second >= TARGET_PER_SECOND and result.lost == 0
               and result.wrong_bytes == 0 and result.non_2xx == 0 else "FAIL")
    multiple = result.per_second / REQUIRED_PER_SECOND
    return "\n".join([
        "# POST /v1/dropzone under load (bench/http_load.py)",
        "",
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s on 127.0.0.1, posting "
        f"file.json ({PAYLOAD.stat().st_size} bytes) with a valid key; `meterlake serve "
        f"--workers {args.workers} --no-access-log`; {os.cpu_count()} cores shared by wrk and "
        f"the server; Python {platform.python_version()}. Each 202 means: body written, "
        "fsynced, renamed, metadata written, fsynced, renamed, directory fsynced.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| sustained requests/s | {result.per_second:,.0f} |",
        f"| target (30 x 1,000/min) | {TARGET_PER_SECOND:,.0f} requests/s |",
        f"| achieved multiple of the required 1,000/min | {multiple:,.0f}x |",
        f"| latency p50 / p99 / max | {result.p50_ms:.1f} / {result.p99_ms:.1f} / "
        f"{result.max_ms:.1f} ms |",
        f"| requests answered 202 (landing ids collected) | {result.acknowledged:,} |",
        f"| non-2xx answers / socket errors | {result.non_2xx} / {result.socket_errors} |",
        f"| objects in the landing zone | {result.landed:,} |",
        f"| lost (202 without its landed object) | {result.lost} |",
        f"| landed with other bytes than sent | {result.wrong_bytes} |",
        f"| landed after wrk stopped counting (in flight at the cutoff) | "
        f"{result.landed - result.acknowledged + result.lost} |",
        "",
        f"Verdict: **{verdict}**",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load (default 20)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    result = measure(args.duration, args.connections, args.threads, args.workers)
    text = report(result, args)
    (Path(__file__).parent / "HTTP_RESULTS.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if result.lost == 0 and result.wrong_bytes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
