"""meterlake's benchmark suite: each job against a baseline measured side by side in one run.

    .venv/bin/python -m bench.run [--suite quick|full] [--runs 3] [--only ingest snapshot]

`make bench` runs the quick suite (a few minutes), `make bench-full` the full one (under an
hour) into bench/RESULTS-full.md; `--out` defaults to bench/RESULTS.md. Drops come from
meterlake's own deterministic generator at the suite's scale factors (bench/scales.py).
Measurements:

1. ingest (bench/ingest.py): a day of drops through bronze ingest vs a bare CSV -> Delta append.
2. snapshot (bench/snapshot.py): the same update MERGEd at 1x, 3x, 10x; rebuild at 10x.
3. reads (bench/reads.py): one meter-month through the API reader vs a full scan of silver.
4. settlement (bench/settlement.py): a month for every meter vs a bare month group-by.
5. sql (bench/sql_engines.py): one meter's month and a full aggregate, Trino vs Spark SQL, and
   Trino's month vs its own full scan (starts infra/trino.sh when it is not running); alone
   (`--only sql`) it builds the largest lake itself.
6. freshness (bench/drop_freshness.py): drops written one by one into a directory that
   `meterlake watch` polls, each timed until `meterlake serve`'s read API answers with it.

Peak memory of every job is recorded with its timing (bench/timing.py). A new measurement is a
function `BenchContext -> Section` added to MEASUREMENTS.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.drop_freshness import measure_drop_freshness
from bench.ingest import measure_ingest
from bench.lakes import BenchContext, bench_settings, generate_drops
from bench.reads import measure_reads
from bench.results import Section, render
from bench.scales import SUITES
from bench.settlement import measure_settlement
from bench.snapshot import measure_snapshot
from bench.sql_engines import measure_sql_engines
from bench.timing import MemoryProbe
from meterlake.core.spark import build_session

# In this order: reads uses the largest lake the snapshot measurement leaves behind, and sql
# that lake after reads has optimized it (alone, sql builds it).
MEASUREMENTS: dict[str, Callable[[BenchContext], Section]] = {
    "ingest": measure_ingest,
    "snapshot": measure_snapshot,
    "reads": measure_reads,
    "settlement": measure_settlement,
    "sql": measure_sql_engines,
    "freshness": measure_drop_freshness,
}
RESULTS = Path(__file__).parent / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="quick")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median); >= 3")
    parser.add_argument("--only", nargs="*", choices=list(MEASUREMENTS), default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the figures are medians)")
    if args.only and "reads" in args.only and "snapshot" not in args.only:
        parser.error("reads needs snapshot (it reads the lake snapshot leaves)")
    if args.only and "sql" in args.only and "snapshot" in args.only and "reads" not in args.only:
        parser.error("sql after snapshot needs reads (it queries the lake they leave, optimized)")
    started = time.perf_counter()
    scale = SUITES[args.suite]
    work = Path(tempfile.mkdtemp(prefix=f"meterlake-bench-{scale.name}-"))
    print(f"bench {scale.name}: {scale.describe()}; work dir {work}", flush=True)
    drops = generate_drops(scale, work / "drops")
    spark = build_session(bench_settings(work / "session"), "meterlake-bench")
    ctx = BenchContext(spark, scale, args.runs, work, drops, MemoryProbe(spark))
    sections = []
    for name, measurement in MEASUREMENTS.items():
        if args.only is None or name in args.only:
            print(f"measuring {name} ({time.perf_counter() - started:.0f} s in)", flush=True)
            sections.append(measurement(ctx))
            # Written after every measurement: a later failure keeps what was measured.
            report = render(scale.name, scale, args.runs, spark, sections,
                            time.perf_counter() - started)
            args.out.write_text(report, encoding="utf-8")
    print(report)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
