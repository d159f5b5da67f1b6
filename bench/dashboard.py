"""Dashboard benchmark: from a range change to the chart drawn, for one meter over a day, a
month and a year of 15-minute readings, browser included.

    .venv/bin/python -m bench.dashboard [--suite quick|full] [--runs 5] [--lake DIR]

The lake holds a year and a day of drops from meterlake's own generator (one drop a day, 2 %
corrections), ingested, snapshotted, gridded (with the hourly rollup) and optimized by
meterlake itself; `--lake DIR` keeps it there and reuses it on the next run. Then the real
`meterlake serve` (one worker) and Debian's chromium through Playwright:

- browser: the time the page measures from its range change (Apply) to uPlot's draw hook,
  which includes the series call, JSON parsing and drawing;
- server: GET /dashboard/api/series for the same ranges at the page's width, against the
  baseline measured in the same run: the read API returning every reading of the year
  (GET /v1/meters/{id}/readings without `points`).

Targets: a year costs at most 2x a day in the browser; the server's year is at least 20x faster
than returning every reading. Figures are medians of --runs runs after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from meterlake.core.config import Settings, SparkSettings
from meterlake.serve.local_process import serve_locally

CHROMIUM = "/usr/bin/chromium"
READ_KEY = "bench-dashboard-read-key"
START = datetime(2020, 6, 1, tzinfo=UTC)
YEAR_DAYS = 366
CHUNK_DAYS = 61
SUITES = {"quick": 20, "full": 200}  # meters, each with a year of 15-minute readings
TARGET_YEAR_VS_DAY = 2.0
TARGET_SERVER_SPEEDUP = 20.0
RESULTS = Path(__file__).parent


@dataclass(frozen=True)
class Ranges:
    end: datetime

    def named(self) -> dict[str, tuple[datetime, datetime]]:
        return {"day": (self.end - timedelta(days=1), self.end),
                "month": (self.end - timedelta(days=30), self.end),
                "year": (self.end - timedelta(days=365), self.end)}


def build_lake(root: Path, meters: int) -> None:
    """A year and a day of drops for `meters` meters, through ingest, snapshot, grid (and its
    hourly rollup) and optimize."""
    from meterlake.core.lake import Lake
    from meterlake.core.spark import build_session
    from meterlake.engine.ingest import ingest_paths
    from meterlake.engine.snapshot import run_snapshot
    from meterlake.gold.meter_intervals import run_grid
    from meterlake.maintenance import run_optimize
    from meterlake.sources.utility_drops import source as utility_drops_source
    from meterlake.sources.utility_drops.generate import UtilityDropPlan, write_utility_drops
    from meterlake.sources.utility_drops.parse import UTILITY_DROP_FILES

    plan = UtilityDropPlan(meters=meters, days=YEAR_DAYS, seed=17, start=START.date(),
                           drops_per_day=1, correction_rate=0.02)
    drops = write_utility_drops(plan, root / "drops")
    settings = Settings(lake_root=str(root / "lake"), landing_root=str(root / "landing"),
                        spark=SparkSettings(master="local[2]", shuffle_partitions=4,
                                            delta_snapshot_partitions=2,
                                            conf={"spark.driver.memory": "4g"}))
    spark = build_session(settings, "meterlake-bench-dashboard")
    lake = Lake(spark, settings)
    for first in range(0, len(drops), CHUNK_DAYS):
        ingest_paths(lake, UTILITY_DROP_FILES, drops[first:first + CHUNK_DAYS])
        run_snapshot(lake, utility_drops_source.SNAPSHOT)
        print(f"  {min(first + CHUNK_DAYS, len(drops))}/{len(drops)} days in silver", flush=True)
    run_grid(lake)
    run_optimize(lake)
    spark.stop()


def median_ms(runs: int, call: Callable[[], float]) -> tuple[float, list[float]]:
    call()  # warm-up: the first request opens the tables
    times = [call() for _ in range(runs)]
    return statistics.median(times), times


def timed_get(client: httpx.Client, path: str, params: dict[str, str | int]) -> float:
    started = time.perf_counter()
    answer = client.get(path, params=params)
    answer.raise_for_status()
    answer.json()
    return (time.perf_counter() - started) * 1000


def z(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def measure_server(url: str, meter: str, ranges: Ranges, width: int, runs: int
                   ) -> dict[str, tuple[float, list[float]]]:
    """Median ms of the series call per range, and of the baseline: every reading of the
    year from the read API (same server, same run)."""
    with httpx.Client(base_url=url, timeout=120) as client, httpx.Client(
            base_url=url, timeout=120, headers={"Authorization": f"Bearer {READ_KEY}"}) as api:
        client.post("/dashboard/sign-in", data={"api_key": READ_KEY})

        def series_of(start: datetime, end: datetime) -> Callable[[], float]:
            params: dict[str, str | int] = {"meters": meter, "start": z(start), "end": z(end),
                                            "points": width}
            return lambda: timed_get(client, "/dashboard/api/series", params)

        figures = {name: median_ms(runs, series_of(s, e))
                   for name, (s, e) in ranges.named().items()}
        start, end = ranges.named()["year"]
        figures["every reading of the year"] = median_ms(runs, lambda: timed_get(
            api, f"/v1/meters/{meter}/readings", {"start": z(start), "end": z(end)}))
    return figures


def measure_browser(url: str, meter: str, ranges: Ranges, runs: int
                    ) -> tuple[dict[str, tuple[float, list[float]]], int, list[str]]:
    """Median ms from Apply to the chart drawn per range; the chart's width; screenshots."""
    from playwright.sync_api import sync_playwright

    shots: list[str] = []
    out = Path("var/bench-artefacts/dashboard")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800},
                                   bypass_csp=True).new_page()
        page.goto("/dashboard/sign-in")
        page.get_by_label("API key with the read scope").fill(READ_KEY)
        page.get_by_role("button", name="Sign in").click()
        day = ranges.named()["day"]
        page.goto(f"/dashboard/usage?meters={meter}&from={z(day[0])}&to={z(day[1])}&tz=UTC")
        page.wait_for_function("window.__dashboard && window.__dashboard.renders > 0")
        width = int(page.evaluate("document.getElementById('chart').clientWidth"))

        def change_to(start: datetime, end: datetime) -> float:
            before = page.evaluate("window.__dashboard.renders")
            page.get_by_label("From", exact=True).fill(start.strftime("%Y-%m-%dT%H:%M"))
            page.get_by_label("To", exact=True).fill(end.strftime("%Y-%m-%dT%H:%M"))
            page.get_by_role("button", name="Apply range").click()
            page.wait_for_function(f"window.__dashboard.renders > {before}")
            return float(page.evaluate("window.__dashboard.lastRender.ms"))

        figures: dict[str, tuple[float, list[float]]] = {}
        for name, (start, end) in ranges.named().items():
            # Alternate with another range so each run is a real change of range.
            other = ranges.named()["day" if name != "day" else "month"]
            times = []
            for run in range(runs + 1):
                change_to(*other)
                elapsed = change_to(start, end)
                if run:
                    times.append(elapsed)
            figures[name] = (statistics.median(times), times)
            shot = out / f"{name}.png"
            page.screenshot(path=shot)
            shots.append(str(shot))
        browser.close()
    return figures, width, shots


def report(suite: str, meters: int, runs: int, browser: dict, server: dict, width: int,
           shots: list[str]) -> str:
    def row(label: str, figure: tuple[float, list[float]]) -> str:
        return f"| {label} | {figure[0]:.1f} | {', '.join(f'{t:.1f}' for t in figure[1])} |"

    year_vs_day = browser["year"][0] / browser["day"][0]
    speedup = server["every reading of the year"][0] / server["year"][0]
    lines = [
        f"# Dashboard benchmark ({suite}: {meters} meters x {YEAR_DAYS} days of 15-minute "
        f"readings, chart {width} px wide, median of {runs} runs)", "",
        "| measured | median ms | runs ms |", "|---|---|---|",
        *(row(f"browser: range change to chart drawn, one {n}", browser[n])
          for n in ("day", "month", "year")),
        *(row(f"server: dashboard series, one {n}", server[n]) for n in ("day", "month", "year")),
        row("server baseline: /v1 readings, every reading of the year",
            server["every reading of the year"]), "",
        f"- browser year / day: {year_vs_day:.2f} (target <= {TARGET_YEAR_VS_DAY}): "
        f"{'met' if year_vs_day <= TARGET_YEAR_VS_DAY else 'NOT met'}",
        f"- server: every reading / series of the year: {speedup:.1f}x (target >= "
        f"{TARGET_SERVER_SPEEDUP}x): {'met' if speedup >= TARGET_SERVER_SPEEDUP else 'NOT met'}",
        f"- screenshots: {', '.join(shots)}",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="quick")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lake", type=Path, help="build the lake here, or reuse it")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the figures are medians)")
    meters = SUITES[args.suite]
    root = args.lake or Path(tempfile.mkdtemp(prefix="meterlake-bench-dashboard-"))
    if not (root / "lake" / "gold" / "meter_usage_hourly").is_dir():
        print(f"building the lake in {root} ({meters} meters x {YEAR_DAYS} days)", flush=True)
        build_lake(root, meters)
    meter = _a_meter(root)
    ranges = Ranges(START + timedelta(days=YEAR_DAYS))
    conf = root / "serve.yaml"
    conf.write_text(f"lake_root: {root / 'lake'}\n", encoding="utf-8")
    env = {**os.environ, "METERLAKE_API_KEYS": f"{READ_KEY}:read"}
    with serve_locally(conf, root / "serve.log", env=env,
                       extra_args=("--workers", "1", "--no-access-log")) as server:
        browser, width, shots = measure_browser(server.url, meter, ranges, args.runs)
        figures = measure_server(server.url, meter, ranges, width, args.runs)
    text = report(args.suite, meters, args.runs, browser, figures, width, shots)
    name = "DASHBOARD_RESULTS.md" if args.suite == "quick" else "DASHBOARD_RESULTS-full.md"
    (RESULTS / name).write_text(text, encoding="utf-8")
    print(text)
    return 0


def _a_meter(root: Path) -> str:
    """The first meter id of the first drop (every meter reads from the first day)."""
    first = sorted((root / "drops").iterdir())[0]
    return first.read_text(encoding="utf-8").splitlines()[1].split(",")[1]


if __name__ == "__main__":
    raise SystemExit(main())
