"""Load benchmark of POST /v1/dropzone: sustained requests/s, latency, fsyncs, lost requests.

    .venv/bin/python -m bench.http_load [--runs 3] [--duration 20] [--connections 16] [--workers 2]

Starts `meterlake serve` on 127.0.0.1 (a free port, a fresh lake in a temporary directory),
drives it with wrk (Debian package `wrk`) for a fixed duration, posting the reference payload
../shared/fixtures/dropzone/file.json with a valid key, then stops the server and audits the
landing zone: every landing id a 202 returned must be a complete landed object holding the bytes
sent. Lost = acknowledged ids without their object (the target is zero); requests still in
flight when wrk stops may land without wrk counting their answer (reported, not lost).

Every fsync the server's processes make is counted (a `sitecustomize` on the server's
PYTHONPATH wraps `os.fsync` and keeps each process's count in a file, FSYNC_COUNTER), and
divided by the objects landed: the disk cost of one acknowledged request (it agrees with
`strace -f -c -e trace=fsync`: 485 calls both). The CPU the server's processes and wrk used
while wrk ran is reported per request too, with the load average: the machine is shared.

The requirement is 1,000 requests per minute; the target is the worst of `--runs` runs (each a
fresh server and lake) at 60x that (1,000 requests/s) on this 2-core machine, which wrk and the
server share, with nothing lost in any run. Writes bench/HTTP_RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meterlake.receive.landing import list_landed
from meterlake.serve.local_process import LocalServer, serve_locally

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = REPO.parent / "shared" / "fixtures" / "dropzone" / "file.json"
KEY = "bench-key-0123456789abcdef"
REQUIRED_PER_SECOND = 1000 / 60
TARGET_MULTIPLE = 60
TARGET_PER_SECOND = TARGET_MULTIPLE * REQUIRED_PER_SECOND
FSYNC_DIR_VARIABLE = "METERLAKE_BENCH_FSYNC_DIR"  # as FSYNC_COUNTER reads it

# Loaded by every Python process of the server (uvicorn's workers are spawned interpreters):
# counts os.fsync calls in an 8-byte file mapped into memory, <dir>/<pid>. Mapped, because a
# worker stopped by SIGTERM dies by the signal re-raised after its shutdown, without atexit;
# the page cache keeps what was stored in the map. Only the server's environment has the
# variable and the PYTHONPATH entry.
FSYNC_COUNTER = """
import mmap
import os
import struct
import threading

_directory = os.environ.get("METERLAKE_BENCH_FSYNC_DIR")
if _directory:
    _path = os.path.join(_directory, str(os.getpid()))
    with open(_path, "wb") as _new:
        _new.write(bytes(8))
    with open(_path, "r+b") as _file:
        _count = mmap.mmap(_file.fileno(), 8)
    _lock = threading.Lock()
    _real_fsync = os.fsync

    def _counting_fsync(fd):
        with _lock:
            struct.pack_into("<Q", _count, 0, struct.unpack_from("<Q", _count)[0] + 1)
        return _real_fsync(fd)

    os.fsync = _counting_fsync
"""

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
    fsyncs: int
    # The machine's 1-minute load average as wrk finished: other work sharing the 2 cores.
    load_average: float
    # CPU (user + system) while wrk ran: the server's processes, and wrk's.
    server_cpu_seconds: float
    wrk_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def multiple(self) -> float:
        """Of the required 1,000 requests per minute."""
        return self.per_second / REQUIRED_PER_SECOND

    @property
    def fsyncs_per_request(self) -> float:
        return self.fsyncs / self.landed if self.landed else float("nan")

    @property
    def cpu_ms_per_request(self) -> tuple[float, float]:
        """(server, wrk) CPU milliseconds per request answered."""
        return (1e3 * self.server_cpu_seconds / self.requests,
                1e3 * self.wrk_cpu_seconds / self.requests)


@contextmanager
def serving(lake: Path, workers: int, fsync_counts: Path) -> Iterator[LocalServer]:
    """`meterlake serve` of `lake` on a free loopback port until the block ends. Each of its
    processes counts its fsyncs in a file of `fsync_counts`."""
    conf = lake.parent / "bench.yaml"
    conf.write_text(f"lake_root: {lake}\n", encoding="utf-8")
    probe = lake.parent / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(FSYNC_COUNTER, encoding="utf-8")
    fsync_counts.mkdir()
    python_path = os.pathsep.join(filter(None, [str(probe), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "METERLAKE_API_KEYS": f"{KEY}:ingest", "PYTHONPATH": python_path,
           FSYNC_DIR_VARIABLE: str(fsync_counts)}
    with serve_locally(conf, lake.parent / "server.log", env=env, cwd=REPO,
                       extra_args=("--workers", str(workers), "--no-access-log")) as server:
        yield server


def _process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU so far of `pid` and its descendants alive now (/proc, Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            # Fields after the parenthesised command: utime and stime are the 12th and 13th.
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            pending += [int(child) for task in Path(f"/proc/{current}/task").iterdir()
                        for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue  # exited meanwhile
    return total


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        fsync_counts = work / "fsyncs"
        with serving(lake, workers, fsync_counts) as server:
            server_cpu, wrk_cpu = _process_tree_cpu_seconds(server.pid), _children_cpu_seconds()
            figures = run_wrk(server.url, work, seconds, connections, threads)
            load_average = os.getloadavg()[0]
            server_cpu = _process_tree_cpu_seconds(server.pid) - server_cpu
            wrk_cpu = _children_cpu_seconds() - wrk_cpu
        acknowledged, landed, lost, wrong = audit(lake / "landing", work)
        fsyncs = sum(int.from_bytes(f.read_bytes(), "little") for f in fsync_counts.iterdir())
        errors = sum(figures[k] for k in ("connect", "read", "write", "timeout"))
        return LoadResult(
            requests=figures["requests"], seconds=figures["duration_us"] / 1e6,
            p50_ms=figures["p50_us"] / 1e3, p99_ms=figures["p99_us"] / 1e3,
            max_ms=figures["max_us"] / 1e3, socket_errors=errors, non_2xx=figures["non_2xx"],
            acknowledged=acknowledged, landed=landed, lost=lost, wrong_bytes=wrong,
            fsyncs=fsyncs, load_average=load_average, server_cpu_seconds=server_cpu,
            wrk_cpu_seconds=wrk_cpu,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_row(number: int, result: LoadResult) -> str:
    server_ms, wrk_ms = result.cpu_ms_per_request
    return (f"| {number} | {result.per_second:,.0f} | {result.multiple:,.0f}x | "
            f"{result.fsyncs_per_request:.2f} | {server_ms:.2f} / {wrk_ms:.2f} | "
            f"{result.p50_ms:.1f} / {result.p99_ms:.1f} / "
            f"{result.max_ms:.1f} | {result.acknowledged:,} | {result.landed:,} | "
            f"{result.non_2xx} / {result.socket_errors} | {result.lost} | {result.wrong_bytes} | "
            f"{result.landed - result.acknowledged + result.lost} | {result.load_average:.1f} |")


def passes(results: list[LoadResult]) -> bool:
    """The worst run reaches the target, and no run lost, altered or refused a request."""
    return (min(r.per_second for r in results) >= TARGET_PER_SECOND
            and all(r.lost == 0 and r.wrong_bytes == 0 and r.non_2xx == 0 for r in results))


def report(results: list[LoadResult], args: argparse.Namespace) -> str:
    worst = min(results, key=lambda r: r.per_second)
    median = sorted(r.per_second for r in results)[len(results) // 2]
    return "\n".join([
        "# POST /v1/dropzone under load (bench/http_load.py)",
        "",
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s on 127.0.0.1, posting "
        f"file.json ({PAYLOAD.stat().st_size} bytes) with a valid key; `meterlake serve "
        f"--workers {args.workers} --no-access-log`, a fresh server and lake per run; "
        f"{os.cpu_count()} cores shared by wrk and the server; Python "
        f"{platform.python_version()}. Each 202 means: body written and fsynced, metadata "
        "written and fsynced, both linked to their names, and a directory fsync that started "
        "after the links completed (shared by the requests that were waiting for it: group "
        "commit). fsyncs per request = every fsync of the server's processes (new directories "
        "included) / objects landed.",
        "",
        "| run | requests/s | multiple of 1,000/min | fsyncs per request | CPU ms per request, "
        "server / wrk | latency p50 / p99 / "
        "max ms | answered 202 | landed | non-2xx / socket errors | lost | other bytes | "
        "landed after wrk's cutoff | load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_run_row(n, r) for n, r in enumerate(results, 1)),
        "",
        f"Worst of {len(results)} runs: **{worst.per_second:,.0f} requests/s = "
        f"{worst.multiple:,.0f}x** the required 1,000/min (target {TARGET_MULTIPLE}x = "
        f"{TARGET_PER_SECOND:,.0f} requests/s); median {median:,.0f} requests/s. "
        "Lost = a 202 whose landing id has no complete landed object. Load average: the "
        "machine's 1-minute load as wrk finished (2 cores; above 2, other processes took "
        "CPU from wrk and the server). CPU per request: user + system time of the server's "
        "processes and of wrk while wrk ran, over the requests it counted; their sum bounds "
        "what 2 idle cores could serve.",
        "",
        f"Verdict: **{'PASS' if passes(results) else 'FAIL'}**",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs, each a fresh server (3)")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load (default 20)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "HTTP_RESULTS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    results = []
    for number in range(1, args.runs + 1):
        results.append(measure(args.duration, args.connections, args.threads, args.workers))
        print(f"run {number}: {results[-1].per_second:,.0f} requests/s, "
              f"{results[-1].fsyncs_per_request:.2f} fsyncs per request", flush=True)
    text = report(results, args)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if all(r.lost == 0 and r.wrong_bytes == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
