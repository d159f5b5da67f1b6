"""Timing and memory of one measured call: median wall time over runs, peak RSS per job.

Peak RSS is the kernel's high-water mark (VmHWM), reset before each measured call by writing 5
to /proc/<pid>/clear_refs, for the Python driver and for the JVM (in local mode the JVM is the
Spark driver and its executors at once). The JVM heap peak is the sum of its heap pools' peaks
since the same reset: the part of the JVM's memory that follows the data, not its startup.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pyspark.sql import SparkSession

State = TypeVar("State")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    python_peak_mib: float
    jvm_peak_mib: float | None
    jvm_heap_peak_mib: float | None


@dataclass(frozen=True)
class Timing:
    median_s: float
    runs_s: tuple[float, ...]
    memory: Memory


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def _reset_peak(pid: int) -> None:
    # Where that is not permitted the figure is the process's lifetime peak.
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")


class MemoryProbe:
    """Peak memory of this process and of the session's JVM around a measured call."""

    def __init__(self, spark: SparkSession | None) -> None:
        self._jvm: Any = spark.sparkContext._jvm if spark is not None else None  # noqa: SLF001
        self.jvm_pid = int(self._jvm.java.lang.ProcessHandle.current().pid()) if self._jvm else None

    def _heap_pools(self) -> list[Any]:
        if self._jvm is None:
            return []
        pools = self._jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans()
        return [p for p in pools if p.getType().toString() == "Heap memory"]

    def reset(self) -> None:
        _reset_peak(os.getpid())
        if self.jvm_pid is not None:
            _reset_peak(self.jvm_pid)
        for pool in self._heap_pools():
            pool.resetPeakUsage()

    def read(self) -> Memory:
        heap = sum(int(p.getPeakUsage().getUsed()) for p in self._heap_pools())
        return Memory(
            python_peak_mib=peak_rss_mib(os.getpid()),
            jvm_peak_mib=peak_rss_mib(self.jvm_pid) if self.jvm_pid is not None else None,
            jvm_heap_peak_mib=heap / MIB if self._jvm is not None else None,
        )


def _peak(memories: list[Memory]) -> Memory:
    def most(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return max(known) if known else None

    return Memory(
        python_peak_mib=max(m.python_peak_mib for m in memories),
        jvm_peak_mib=most([m.jvm_peak_mib for m in memories]),
        jvm_heap_peak_mib=most([m.jvm_heap_peak_mib for m in memories]),
    )


def measure(
    runs: int,
    probe: MemoryProbe,
    prepare: Callable[[int], State],
    measured: Callable[[State], object],
) -> Timing:
    """Median wall time of `measured` over `runs`; `prepare` (not timed) makes each run's fresh
    state. Memory is the highest peak over the runs."""
    times, memories = [], []
    for run in range(runs):
        state = prepare(run)
        probe.reset()
        started = time.perf_counter()
        measured(state)
        times.append(time.perf_counter() - started)
        memories.append(probe.read())
    return Timing(statistics.median(times), tuple(times), _peak(memories))
