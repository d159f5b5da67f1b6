"""What a measurement returns, and bench/RESULTS.md written from it."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from bench.scales import Scale
from bench.timing import Memory, Timing


@dataclass(frozen=True)
class Figure:
    """One measured job against its baseline from the same run, and the target for the ratio."""

    measurement: str
    job: str
    timing: Timing
    baseline: str
    baseline_timing: Timing
    ratio: float
    ratio_means: str  # how to read `ratio`, e.g. "of bare throughput"
    target: str
    met: bool | None  # None: a comparison with no target


@dataclass(frozen=True)
class MemoryRow:
    job: str
    size: str
    memory: Memory


@dataclass(frozen=True)
class Growth:
    """One job timed at two sizes of its input, fitted to a fixed cost plus a cost per row: the
    model bench/README.md extrapolates to production."""

    job: str
    unit: str  # what a row is, e.g. "CSV rows of the drops"
    small_rows: int
    small: Timing
    large_rows: int
    large: Timing

    @property
    def per_row_s(self) -> float:
        return (self.large.median_s - self.small.median_s) / (self.large_rows - self.small_rows)

    @property
    def fixed_s(self) -> float:
        return self.small.median_s - self.small_rows * self.per_row_s


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    growth: list[Growth] = field(default_factory=list)


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _runs(timing: Timing) -> str:
    return " / ".join(f"{t:.2f}" for t in timing.runs_s)


def machine_lines(spark: SparkSession) -> list[str]:
    meminfo = Path("/proc/meminfo").read_text(encoding="ascii").splitlines()
    total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text(encoding="ascii").splitlines()
                  if line.startswith("model name")), platform.processor())
    jvm = spark.sparkContext._jvm  # noqa: SLF001
    java = jvm.java.lang.System.getProperty("java.version") if jvm else "unknown"
    return [
        f"- machine: {os.cpu_count()} cores ({model}), {total_kib / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- versions: Python {sys.version.split()[0]}, Spark {spark.version}, "
        f"delta-spark {importlib.metadata.version('delta-spark')}, Java {java}, "
        f"deltalake (delta-rs) {importlib.metadata.version('deltalake')}, "
        f"pyarrow {importlib.metadata.version('pyarrow')}",
        f"- Spark: master {spark.conf.get('spark.master')}, shuffle partitions "
        f"{spark.conf.get('spark.sql.shuffle.partitions')}, driver memory "
        f"{spark.conf.get('spark.driver.memory', '1g')}",
    ]


def render(suite: str, scale: Scale, runs: int, spark: SparkSession,
           sections: list[Section], elapsed_s: float) -> str:
    lines = [
        f"# meterlake benchmarks: suite `{suite}`",
        "",
        "Written by `python -m bench.run`; see bench/README.md for what the figures mean at "
        "production scale. Absolute seconds on this machine are noise; the ratios, measured side "
        "by side in one run, are the result.",
        "",
        f"- scale: {scale.describe()}",
        f"- each figure: median of {runs} runs (every run listed); suite took "
        f"{elapsed_s / 60:.1f} min",
        *machine_lines(spark),
        "",
        "## Figures",
        "",
        "| measurement | meterlake job | s | baseline | s | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sections:
        lines += [
            f"| {f.measurement} | {f.job} | {f.timing.median_s:.3f} | {f.baseline} | "
            f"{f.baseline_timing.median_s:.3f} | {f.ratio:.2f} {f.ratio_means} | {f.target} | "
            f"{'-' if f.met is None else 'yes' if f.met else '**no**'} |"
            for f in s.figures
        ]
    lines += ["", "Every run, seconds:", ""]
    for s in sections:
        lines += [f"- {f.job}: {_runs(f.timing)}; {f.baseline}: {_runs(f.baseline_timing)}"
                  for f in s.figures]
    lines += [
        "", "## Memory (peak RSS per job, MiB)", "",
        "Python = this process (the PySpark driver's Python side and delta-rs); JVM = the Spark "
        "driver and, in local mode, its executors; JVM heap = peak of the heap pools during the "
        "job (RSS keeps heap pages the JVM grew earlier, the heap peak does not).",
        "",
        "| job | size | Python | JVM RSS | JVM heap |",
        "|---|---|---|---|---|",
    ]
    for s in sections:
        lines += [f"| {m.job} | {m.size} | {_mib(m.memory.python_peak_mib)} | "
                  f"{_mib(m.memory.jvm_peak_mib)} | {_mib(m.memory.jvm_heap_peak_mib)} |"
                  for m in s.memory]
    growth = [g for s in sections for g in s.growth]
    if growth:
        lines += [
            "", "## Growth: fixed cost + cost per row", "",
            "Each job timed at two input sizes in this run (medians), fitted to fixed + rows x "
            "per-row; bench/README.md extrapolates the fits to production.",
            "",
            "| job | rows are | small: rows | s | large: rows | s | fixed s | per row, us |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {g.job} | {g.unit} | {g.small_rows:,} | {g.small.median_s:.3f} | "
                  f"{g.large_rows:,} | {g.large.median_s:.3f} | {g.fixed_s:.2f} | "
                  f"{g.per_row_s * 1e6:.3f} |" for g in growth]
    for s in sections:
        if s.notes:
            lines += ["", f"## {s.title}", "", *s.notes]
    return "\n".join(lines) + "\n"
