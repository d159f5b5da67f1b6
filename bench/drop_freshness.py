"""Freshness of utility drops: from a drop written into the watched directory to the first
answer of the read API that contains it, with `meterlake watch` and `meterlake serve` running
as they would in production (issue 18: p95 <= 2 minutes with a 30 s poll).

Both run as subprocesses on a fresh lake (free port, chosen at run time; both stopped whatever
happens). The suite's update day (96 drops; the quick suite its first `freshness_drops`) is
written one drop at a time at a compressed cadence: each drop goes in under a dot-name and is
renamed into the directory, its write time taken after the rename. A drop "is in an answer"
when GET /v1/meters/{meter}/readings over one 15-minute interval returns that interval with
the drop's value, for a (meter, interval) that no other drop of the run carries: exact, and
never satisfied early by another drop. The baseline is the watcher's own cost: one poll that
took drops (land, bronze ingest, snapshot), read from its log.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.lakes import BenchContext
from bench.results import Figure, MemoryRow, Section
from bench.scales import DROPS_PER_DAY
from bench.timing import Memory, Timing, peak_rss_mib
from meterlake.serve.local_process import serve_locally

POLL_SECONDS = 30.0
CADENCE_SECONDS = 8.0
TARGET_P95_S = 120.0
PROBE_EVERY_S = 0.5
# How long after the last write unseen drops are still waited for before they count as lost.
DRAIN_SECONDS = 600.0
WATCHER_START_SECONDS = 180.0
KEY = "bench-freshness-key"
_INTERVAL_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:(00|15|30|45):00\.000Z$")
_POLL_RE = re.compile(r"poll: (\d+) files taken, (\d+) complete files left waiting; "
                      r"landed in ([\d.]+) s, loaded in ([\d.]+) s")
_LOAD_RE = re.compile(r"load: batch \S+, (\d+) rows to bronze in ([\d.]+) s, "
                      r"snapshot in ([\d.]+) s")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Probe:
    """What the API must answer once a drop is readable: this meter at this interval, this
    value."""

    drop: Path
    meter_id: str
    interval_start: datetime
    value: float


@dataclass(frozen=True)
class Poll:
    files: int
    left_waiting: int
    land_s: float
    load_s: float
    ingest_s: float
    snapshot_s: float

    @property
    def total_s(self) -> float:
        return self.land_s + self.load_s


def _valid_rows(drop: Path) -> list[tuple[str, str, float]]:
    """(meter_id, interval, energy_wh) of the rows the door and the rules accept."""
    rows = []
    with drop.open(newline="", encoding="utf-8") as handle:
        for fields in list(csv.reader(handle))[1:]:
            if len(fields) != 4 or not fields[1] or not _INTERVAL_RE.match(fields[2]):
                continue
            with contextlib.suppress(ValueError):
                energy = float(fields[3])
                if energy >= 0:
                    rows.append((fields[1], fields[2], energy))
    return rows


def probes(drops: list[Path], others: tuple[Path, ...] = ()) -> list[Probe]:
    """One probe per drop: its first valid row whose (meter, interval) is in no other drop,
    of `drops` or of `others` (also written into the lake)."""
    rows = {drop: _valid_rows(drop) for drop in [*drops, *others]}
    carried = Counter((meter, interval) for found in rows.values()
                      for meter, interval in {(m, i) for m, i, _ in found})
    chosen = []
    for drop in drops:
        meter, interval, value = next(r for r in rows[drop] if carried[r[0], r[1]] == 1)
        chosen.append(Probe(drop, meter, datetime.fromisoformat(interval), value))
    return chosen


def answer_contains(url: str, probe: Probe) -> bool:
    end = probe.interval_start + timedelta(minutes=15)
    query = urllib.parse.urlencode({"start": probe.interval_start.isoformat(),
                                    "end": end.isoformat()})
    request = urllib.request.Request(
        f"{url}/v1/meters/{probe.meter_id}/readings?{query}",
        headers={"Authorization": f"Bearer {KEY}"})
    try:
        with _DIRECT.open(request, timeout=10) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as refused:
        refused.close()
        if refused.code == 404:  # silver does not exist yet
            return False
        raise
    return any(datetime.fromisoformat(p["time"]) == probe.interval_start
               and p["value"] == probe.value for p in answer["points"])


def _write(drop: Path, inbox: Path) -> float:
    """Writes `drop` into `inbox` atomically; the instant it appeared there."""
    staging = inbox / f".{drop.name}.part"
    staging.write_bytes(drop.read_bytes())
    os.replace(staging, inbox / drop.name)
    return time.monotonic()


def _feed(drops: list[Path], inbox: Path, written: dict[Path, float]) -> None:
    started = time.monotonic()
    for number, drop in enumerate(drops):
        time.sleep(max(0.0, started + number * CADENCE_SECONDS - time.monotonic()))
        written[drop] = _write(drop, inbox)


def _waiting_in(inbox: Path) -> int:
    return sum(1 for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))


def _watch(ctx_work: Path, conf: Path, inbox: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "meterlake.cli", "watch", "utility_drops", str(inbox),
               "--conf", str(conf), "--interval", str(POLL_SECONDS)]
    with log.open("wb") as output:
        # Its own process group: stopping it stops the Spark JVM it started too.
        process = subprocess.Popen(command, cwd=ctx_work, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + WATCHER_START_SECONDS
    while f"watching {inbox} " not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"meterlake watch did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _memory_of(pid: int) -> Memory:
    """Lifetime peak RSS of `pid` and of the Spark JVM it started, if any (its child)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    jvms = [int(c) for c in children.read_text().split()] if children.exists() else []
    return Memory(peak_rss_mib(pid), sum(peak_rss_mib(j) for j in jvms) if jvms else None,
                  None)


def watcher_polls(log: Path) -> list[Poll]:
    """The polls that took files, from the watcher's log, in order."""
    polls, load = [], None
    for line in log.read_text(errors="replace").splitlines():
        if found := _LOAD_RE.search(line):
            load = (float(found[2]), float(found[3]))
        elif (found := _POLL_RE.search(line)) and load is not None:
            polls.append(Poll(int(found[1]), int(found[2]), float(found[3]), float(found[4]),
                              *load))
            load = None
    return polls


def _warm_up(drop: Path, url: str, inbox: Path, watcher: subprocess.Popen[bytes]) -> float:
    """Writes `drop` and waits until the API answers with it and the watcher moved it away:
    the tables exist and the watcher's JVM has run a whole poll, as in a watcher that has been
    running for a while. Returns how long that took."""
    probe = probes([drop])[0]
    written = _write(drop, inbox)
    while not answer_contains(url, probe) or (inbox / drop.name).exists():
        if watcher.poll() is not None:
            raise RuntimeError(f"meterlake watch exited with {watcher.returncode}")
        if time.monotonic() - written > DRAIN_SECONDS:
            raise RuntimeError(f"the warm-up drop {drop.name} was not loaded in "
                               f"{DRAIN_SECONDS:.0f} s")
        time.sleep(PROBE_EVERY_S)
    return time.monotonic() - written


def _settle(inbox: Path, watcher: subprocess.Popen[bytes]) -> None:
    """Waits for the poll in flight to move its files (its timings reach the log)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while _waiting_in(inbox) and watcher.poll() is None and time.monotonic() < deadline:
        time.sleep(PROBE_EVERY_S)


def _measure(drops: list[Path], others: tuple[Path, ...], url: str, inbox: Path,
             watcher: subprocess.Popen[bytes]) -> tuple[dict[Path, float], list[int]]:
    """Latency of each drop seen, and the drops written but not readable, sampled each round."""
    chosen = probes(drops, others)
    written: dict[Path, float] = {}
    seen: dict[Path, float] = {}
    pending_samples: list[int] = []
    feeder = threading.Thread(target=_feed, args=(drops, inbox, written), daemon=True)
    feeder.start()
    deadline = None
    while len(seen) < len(drops):
        if deadline is None and not feeder.is_alive():
            deadline = time.monotonic() + DRAIN_SECONDS
        if deadline is not None and time.monotonic() > deadline:
            break
        if watcher.poll() is not None:
            raise RuntimeError(f"meterlake watch exited with {watcher.returncode}")
        round_started = time.monotonic()
        waiting = [p for p in chosen if p.drop in written and p.drop not in seen]
        pending_samples.append(len(waiting))
        for probe in waiting:
            if answer_contains(url, probe):
                seen[probe.drop] = time.monotonic() - written[probe.drop]
        time.sleep(max(0.0, PROBE_EVERY_S - (time.monotonic() - round_started)))
    feeder.join()
    return seen, pending_samples


def _nearest_rank(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_drop_freshness(ctx: BenchContext) -> Section:
    section = Section("Freshness: a drop in the watched directory to the read API")
    drops = ctx.update[: ctx.scale.freshness_drops]
    warm_up = ctx.days(range(ctx.scale.update_day - 1, ctx.scale.update_day))[-1]
    root = ctx.work / "freshness"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    conf = root / "freshness.yaml"
    conf.write_text(f"lake_root: {root / 'lake'}\n", encoding="utf-8")
    env = {**os.environ, "METERLAKE_API_KEYS": f"{KEY}:read"}
    watch_log = root / "watch.log"
    with serve_locally(conf, root / "serve.log", env=env, extra_args=["--no-access-log"],
                       cwd=root) as server:
        watcher = _watch(root, conf, inbox, watch_log)
        try:
            warm_up_s = _warm_up(warm_up, server.url, inbox, watcher)
            warm_polls = len(watcher_polls(watch_log))
            load_before = os.getloadavg()
            seen, pending = _measure(drops, (warm_up,), server.url, inbox, watcher)
            load_after = os.getloadavg()
            _settle(inbox, watcher)
            watcher_memory = _memory_of(watcher.pid)
            serve_memory = _memory_of(server.pid)
            left_in_inbox = _waiting_in(inbox)
        finally:
            _stop(watcher)
    every_poll = watcher_polls(watch_log)
    warm_up_poll, polls = every_poll[warm_polls - 1], every_poll[warm_polls:]
    latencies = [seen[d] for d in drops if d in seen]
    lost = [d.name for d in drops if d not in seen]
    ordered = sorted(latencies)
    p50, p95 = statistics.median(ordered), _nearest_rank(ordered, 0.95)
    cycles = [p.total_s for p in polls]
    memory = watcher_memory
    section.memory += [MemoryRow("meterlake watch (whole run)", "-", watcher_memory),
                       MemoryRow("meterlake serve (whole run)", "-", serve_memory)]
    section.figures.append(Figure(
        "freshness", f"drop written -> in the API answer, p50 of {len(drops)} drops "
        f"(watch --interval {POLL_SECONDS:.0f})",
        Timing(p50, tuple(latencies), memory),
        "one watcher poll that took drops: land + ingest + snapshot (median of the polls)",
        Timing(statistics.median(cycles), tuple(cycles), memory),
        p50 / statistics.median(cycles), "x a poll's work",
        f"p95 <= {TARGET_P95_S:.0f} s", p95 <= TARGET_P95_S and not lost))
    compression = 24 * 3600 / DROPS_PER_DAY / CADENCE_SECONDS
    section.notes += [
        f"{len(drops)} drops of the update day ({sum(d.stat().st_size for d in drops) / 1e6:.1f}"
        f" MB), one written every {CADENCE_SECONDS:.0f} s instead of every 15 minutes "
        f"({compression:.1f}x compressed); the watcher polls every {POLL_SECONDS:.0f} s as in "
        f"production, so each poll finds ~{POLL_SECONDS / CADENCE_SECONDS:.1f} drops instead "
        f"of one every {15 * 60 / POLL_SECONDS:.0f} polls. A fresh lake; `meterlake watch` and "
        "`meterlake serve` as subprocesses, the API asked every "
        f"{PROBE_EVERY_S} s for each drop written and not yet seen. Before the first: one "
        f"warm-up drop (the day before's last) until readable and moved, untimed: "
        f"{warm_up_s:.0f} s, its poll {warm_up_poll.land_s:.1f}+{warm_up_poll.ingest_s:.1f}+"
        f"{warm_up_poll.snapshot_s:.1f} s (land+ingest+snapshot: creating the tables, a cold "
        f"JVM). Load average of the machine (2 cores) at the first write and after the last "
        f"drop was seen: {load_before[0]:.1f} and {load_after[0]:.1f} (1 min), "
        f"{load_after[2]:.1f} (15 min).",
        f"- p50 {p50:.1f} s, p95 {p95:.1f} s, max {ordered[-1]:.1f} s, min {ordered[0]:.1f} s; "
        f"met: {'yes' if p95 <= TARGET_P95_S and not lost else '**no**'}"
        + (f"; **not readable {DRAIN_SECONDS:.0f} s after the last write**: {', '.join(lost)}"
           if lost else ""),
        f"- every drop, in write order, s: {' / '.join(f'{x:.1f}' for x in latencies)}",
        f"- drops written and not yet readable: max {max(pending)}, median "
        f"{statistics.median(pending):.0f} over {len(pending)} probe rounds; files left in the "
        f"directory at the end: {left_in_inbox}",
        f"- watcher polls that took drops: {len(polls)}; drops per poll "
        f"{' / '.join(str(p.files) for p in polls)}; complete files left waiting after each "
        f"poll: max {max((p.left_waiting for p in polls), default=0)}",
        f"- per poll, s (median, max): land {_median_max([p.land_s for p in polls])}, ingest "
        f"{_median_max([p.ingest_s for p in polls])}, snapshot "
        f"{_median_max([p.snapshot_s for p in polls])}, whole {_median_max(cycles)}",
        f"- every poll's land + ingest + snapshot, s: "
        f"{' / '.join(f'{p.land_s:.1f}+{p.ingest_s:.1f}+{p.snapshot_s:.1f}' for p in polls)}",
    ]
    return section


def _median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}, {max(values):.1f}" if values else "n/a"
