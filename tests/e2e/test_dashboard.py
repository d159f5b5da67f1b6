"""The dashboard end to end: the real `meterlake serve` on a lake built by the real jobs, its
HTTP contract (sign-in, session cookie, series, history, CSV, errors), then Debian's chromium
driven by Playwright through the pages. One lake, one server and one browser for the module;
screenshots go to var/test-artefacts/dashboard/."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pyspark.sql import SparkSession

from meterlake.audit.readings import reading_history
from meterlake.gold.settlement.tables import GOLD_SETTLEMENT_SUMMARY
from meterlake.receive.http_auth import parse_api_keys
from meterlake.serve import sessions
from meterlake.serve.sessions import SECRET_VARIABLE
from tests.helpers.dashboard_case import (
    CORRECTED_AT,
    CORRECTED_WH,
    METER,
    DashboardLake,
    build_dashboard_lake,
    expected_buckets,
    readings,
)
from tests.helpers.http_server import INGEST_KEY, READ_KEY, Server, running_server

pytestmark = pytest.mark.slow
SECRET = "dashboard-test-session-secret"
CHROMIUM = "/usr/bin/chromium"
DAY = (datetime(2020, 6, 3, tzinfo=UTC), datetime(2020, 6, 4, tzinfo=UTC))


@pytest.fixture(scope="module")
def case(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DashboardLake:
    return build_dashboard_lake(spark, tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="module")
def server(case: DashboardLake) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_VARIABLE, SECRET)
        with running_server(Path(case.lake.settings.lake_root)) as up:
            yield up


@pytest.fixture(scope="module")
def signed_in(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post("/dashboard/sign-in", data={"api_key": READ_KEY})
        assert answer.status_code == 303
        yield client


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_sign_in_sets_a_strict_http_only_expiring_cookie(server: Server) -> None:
    answer = httpx.post(f"{server.url}/dashboard/sign-in",
                        data={"api_key": READ_KEY, "next": "/dashboard/quality"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/quality")
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert attributes == {"expires", "httponly", "max-age", "path", "samesite"}
    assert "Max-Age=28800" in cookie and "Path=/dashboard" in cookie
    assert "SameSite=strict" in cookie and "Secure" not in cookie  # plain HTTP on loopback
    token = cookie.split(";")[0].split("=", 1)[1]
    page = httpx.get(f"{server.url}/dashboard/usage", cookies={sessions.COOKIE: token})
    assert page.status_code == 200 and "script-src 'self'" in page.headers[
        "content-security-policy"]


@pytest.mark.parametrize(("key", "status", "message"), [
    ("not-a-key", 401, "Invalid API key."),
    (INGEST_KEY, 403, "This API key lacks the &#x27;read&#x27; scope."),
])
def test_a_wrong_key_shows_the_sign_in_error(server: Server, key: str, status: int,
                                             message: str) -> None:
    answer = httpx.post(f"{server.url}/dashboard/sign-in", data={"api_key": key})
    assert answer.status_code == status and message in answer.text
    assert "set-cookie" not in answer.headers


def test_no_expired_or_forged_session_passes(server: Server) -> None:
    (read,) = parse_api_keys(f"{READ_KEY}:read")
    expired = sessions.issue(SECRET.encode(), read, 60, now=time.time() - 120)
    forged = sessions.issue(b"another secret", read, 3600)
    for token in (None, expired, forged, "garbage.token"):
        cookies = {sessions.COOKIE: token} if token else {}
        page = httpx.get(f"{server.url}/dashboard/usage?meters=M1", cookies=cookies)
        assert (page.status_code, page.headers["location"]) == (
            303, "/dashboard/sign-in?next=%2Fdashboard%2Fusage%3Fmeters%3DM1")
        data = httpx.get(f"{server.url}/dashboard/api/meters", cookies=cookies)
        assert data.status_code == 401


def test_a_day_is_every_reading_of_the_grid_with_gaps_and_the_correction(
    signed_in: httpx.Client, server: Server
) -> None:
    series = signed_in.get("/dashboard/api/series", params={
        "meters": METER, "start": z(DAY[0]), "end": z(DAY[1]), "points": 800}).json()
    values = readings(METER)
    times = [DAY[0].replace(tzinfo=None) + timedelta(minutes=15 * i) for i in range(96)]
    assert (series["bucket_minutes"], series["source"], series["unit"]) == (
        15, "gold.meter_intervals_15min", "Wh")
    assert series["times"] == [int(t.replace(tzinfo=UTC).timestamp()) for t in times]
    line = series["meters"][0]
    assert line["mean"] == [values.get(t) for t in times]
    assert sum(line["missing"]) == 20 and line["mean"][76:] == [None] * 20
    assert [times[i] for i, c in enumerate(line["corrected"]) if c] == [CORRECTED_AT]
    with server.client(READ_KEY) as api:
        readings_api = api.get(f"/v1/meters/{METER}/readings", params={
            "start": z(DAY[0]), "end": z(DAY[1])}).json()["points"]
    drawn = {t: v for t, v in zip(series["times"], line["mean"], strict=True) if v is not None}
    assert drawn == {int(datetime.fromisoformat(p["time"]).timestamp()): p["value"]
                     for p in readings_api}


def test_a_long_range_keeps_min_and_max_per_bucket_from_the_hourly_rollup(
    signed_in: httpx.Client,
) -> None:
    start, end = datetime(2020, 5, 31, 13, 7, tzinfo=UTC), datetime(2020, 6, 8, tzinfo=UTC)
    series = signed_in.get("/dashboard/api/series", params={
        "meters": METER, "start": z(start), "end": z(end), "points": 24}).json()
    # 7 days 10 h 53 min in 24 buckets: the ladder's 12 h, aligned on the epoch.
    assert (series["bucket_minutes"], series["source"]) == (720, "gold.meter_usage_hourly")
    assert (series["start"], series["end"]) == ("2020-05-31T12:00:00Z", "2020-06-08T00:00:00Z")
    expected = expected_buckets(METER, datetime(2020, 5, 31, 12), datetime(2020, 6, 8),
                                timedelta(hours=12))
    line = series["meters"][0]
    assert [(b.mean, b.low, b.high, b.intervals, b.missing) for b in expected] == [
        (pytest.approx(m) if m is not None else None, lo, hi, n, gaps)
        for m, lo, hi, n, gaps in zip(line["mean"], line["min"], line["max"],
                                      line["intervals"], line["missing"], strict=True)]
    assert max(v for v in line["max"] if v is not None) == max(readings(METER).values())


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"start": "2020-06-03T00:00:00"}, 422, "start: needs a UTC offset, e.g. "
     "2020-06-03T00:00:00Z"),
    ({"start": "2020-06-05T00:00:00Z"}, 422, "start must be before end"),
    ({"meters": "bad id!"}, 422, "meters: not a meter id: 'bad id!'"),
    ({"meters": "no-such-meter"}, 404, "no 15-minute readings for meters ['no-such-meter']"),
    ({"meters": ",".join(f"m{i}" for i in range(9))}, 422, "meters: at most 8 at once, got 9"),
])
def test_bad_series_input_is_refused_with_a_message(
    signed_in: httpx.Client, params: dict, status: int, message: str
) -> None:
    query = {"meters": METER, "start": z(DAY[0]), "end": z(DAY[1]), **params}
    answer = signed_in.get("/dashboard/api/series", params=query)
    assert (answer.status_code, answer.json()) == (status, {"detail": message})


def test_the_history_of_a_point_is_the_audit_history(
    signed_in: httpx.Client, case: DashboardLake
) -> None:
    found = signed_in.get("/dashboard/api/history", params={
        "meter": METER, "interval": "2020-06-03T14:00:00+02:00"}).json()
    audit = reading_history(case.lake, METER, CORRECTED_AT.replace(tzinfo=UTC)).collect()
    assert [(v["value"], v["file"], v["line"], v["received_at"], v["landing_path"],
             v["is_current"]) for v in found["versions"]] == [
        (r["value"], r["_source_file"], r["_source_line"],
         r["_received_at"].isoformat() + "Z", r["landing_path"], r["is_current"]) for r in audit]
    assert [v["value"] for v in found["versions"]] == [1006.6, CORRECTED_WH]
    assert found["versions"][-1]["file"] == case.correction.name


def test_the_csv_holds_the_shown_series_with_local_times(signed_in: httpx.Client) -> None:
    params = {"meters": METER, "start": z(DAY[0]), "end": z(DAY[1]), "points": 800}
    series = signed_in.get("/dashboard/api/series", params=params).json()
    answer = signed_in.get("/dashboard/api/series.csv", params={**params, "tz": "Europe/Paris"})
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert answer.headers["content-disposition"] == (
        'attachment; filename="meterlake-usage-20200603T0000Z-20200604T0000Z.csv"')
    assert [(r["bucket_start_utc"], r["bucket_start_local"], r["mean_Wh"]) for r in rows[:2]] == [
        ("2020-06-03T00:00:00Z", "2020-06-03T02:00:00+02:00", repr(series["meters"][0]["mean"][0])),
        ("2020-06-03T00:15:00Z", "2020-06-03T02:15:00+02:00", repr(series["meters"][0]["mean"][1])),
    ]
    assert [r["mean_Wh"] or None for r in rows] == [
        None if v is None else repr(v) for v in series["meters"][0]["mean"]]
    bad = signed_in.get("/dashboard/api/series.csv", params={**params, "tz": "Mars/Base"})
    assert (bad.status_code, bad.json()) == (422, {"detail": "tz: not a known time zone: "
                                                             "'Mars/Base'"})


def test_settlement_runs_show_the_amount_changed_by_the_correction(
    signed_in: httpx.Client, spark: SparkSession, case: DashboardLake
) -> None:
    totals = {r["revision"]: r["total_amount"] for r in
              case.lake.read(GOLD_SETTLEMENT_SUMMARY).collect()}
    page = signed_in.get("/dashboard/settlements").text
    change = totals[2] - totals[1]
    assert change > 0
    assert f"<td>{change:,}</td>" in page and "<td>peak</td>" in page and "<td>offpeak</td>" in page


def test_quality_shows_loads_quarantine_and_expectations(signed_in: httpx.Client) -> None:
    page = signed_in.get("/dashboard/quality").text
    today = datetime.now(UTC).date().isoformat()
    assert f"<tr><td>{today}</td><td>11</td><td>0</td><td>0</td></tr>" in page
    assert ("<td>utility_drops</td><td>energy_wh</td><td>energy_wh: negative energy</td>"
            "<td>1</td>") in page
    assert "ExpectCompoundColumnsToBeUnique" in page


def test_the_dashboard_routes_stay_out_of_the_openapi_document(server: Server) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard")]


def host_of(url: str) -> str | None:
    return urlsplit(url).hostname


# ---- in the browser: Debian's chromium through Playwright (pytest-playwright's `browser`) ----

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "dashboard"
REQUESTED: list[str] = []


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    # Debian's binary: `playwright install` downloads a browser and cannot work here.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True}


@pytest.fixture(scope="module")
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    # The pages' CSP forbids eval, which Playwright's wait_for_function needs; the header
    # itself is checked over HTTP above.
    made = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800},
                               bypass_csp=True)
    made.on("request", lambda request: REQUESTED.append(request.url))
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    yield opened
    opened.close()


def wait_for_chart(page: Page, renders_before: int = 0) -> dict:
    page.wait_for_function(f"window.__dashboard && window.__dashboard.renders > {renders_before}"
                           " && document.getElementById('status').textContent.includes('from')")
    return page.evaluate("""() => ({series: window.__dashboard.series,
        drawn: window.__dashboard.plot.data, renders: window.__dashboard.renders,
        url: location.href})""")


def api_series(signed_in: httpx.Client, series: dict, points: int) -> dict:
    return signed_in.get("/dashboard/api/series", params={
        "meters": ",".join(m["meter_id"] for m in series["meters"]), "start": series["start"],
        "end": series["end"], "points": points}).json()


def test_browser_sign_in_error_then_sign_in(page: Page) -> None:
    page.goto("/dashboard/usage")
    assert "/dashboard/sign-in?next=%2Fdashboard%2Fusage" in page.url
    page.get_by_label("API key with the read scope").fill("wrong-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text("Invalid API key.")
    page.screenshot(path=ARTEFACTS / "sign-in-error.png")
    page.get_by_label("API key with the read scope").fill(READ_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/usage"))


def test_pick_a_meter_by_keyboard_and_draw_the_api_numbers(page: Page,
                                                          signed_in: httpx.Client) -> None:
    page.goto("/dashboard/usage")
    page.get_by_label("Search by id").focus()
    page.keyboard.type(METER[:8])
    page.keyboard.press("Enter")  # an incomplete id is refused...
    expect(page.locator("#status")).to_contain_text("no 15-minute readings")
    page.get_by_label("Search by id").fill(METER)
    page.keyboard.press("Enter")  # ...the full one is added, with the last 7 days
    shown = wait_for_chart(page)
    assert shown["series"]["meters"][0]["meter_id"] == METER
    assert (shown["series"]["start"], shown["series"]["end"]) == (
        "2020-06-01T00:00:00Z", "2020-06-08T00:00:00Z")
    width = int(page.evaluate("document.getElementById('chart').clientWidth"))
    # 672 quarter-hours fit 1,248 pixels: the readings themselves, and the corrected marker.
    week = api_series(signed_in, shown["series"], width)
    line = week["meters"][0]
    assert week["bucket_minutes"] == 15
    assert shown["drawn"] == [week["times"], line["mean"],
                              [v if c else None for v, c in zip(line["mean"], line["corrected"],
                                                                strict=True)]]
    page.screenshot(path=ARTEFACTS / "usage-week-1280.png", full_page=True)
    page.get_by_role("button", name="Last 365 days").focus()
    page.keyboard.press("Enter")
    year = wait_for_chart(page, shown["renders"])
    again = api_series(signed_in, year["series"], width)
    line = again["meters"][0]
    assert (again["bucket_minutes"], again["end"]) == (720, "2020-06-08T00:00:00Z")
    assert year["drawn"] == [again["times"], line["max"], line["mean"], line["min"]]
    page.screenshot(path=ARTEFACTS / "usage-year-1280.png", full_page=True)


def test_change_the_range_to_a_day_shows_readings_gaps_and_zoom(
    page: Page, server: Server
) -> None:
    page.goto(f"/dashboard/usage?meters={METER}&from=2020-06-01T00:00:00Z"
              "&to=2020-06-08T00:00:00Z&tz=UTC")
    before = wait_for_chart(page)["renders"]
    page.get_by_label("From", exact=True).fill("2020-06-03T00:00")
    page.get_by_label("To", exact=True).fill("2020-06-04T00:00")
    page.get_by_role("button", name="Apply range").click()
    shown = wait_for_chart(page, before)
    assert "from=2020-06-03T00%3A00%3A00Z&to=2020-06-04T00%3A00%3A00Z" in shown["url"]
    with server.client(READ_KEY) as api:
        points = api.get(f"/v1/meters/{METER}/readings", params={
            "start": z(DAY[0]), "end": z(DAY[1])}).json()["points"]
    by_time = {int(datetime.fromisoformat(p["time"]).timestamp()): p["value"] for p in points}
    times, values = shown["drawn"][0], shown["drawn"][1]
    assert len(times) == 96 and [by_time.get(t) for t in times] == values
    assert values[76:] == [None] * 20  # 19:00-24:00 missing in the grid: a gap, not a line
    page.screenshot(path=ARTEFACTS / "usage-day-gap.png")
    box = page.locator("#chart .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 20, steps=5)
    page.mouse.up()
    zoomed = wait_for_chart(page, shown["renders"])
    start = datetime.fromisoformat(zoomed["series"]["start"]).timestamp()
    end = datetime.fromisoformat(zoomed["series"]["end"]).timestamp()
    assert times[20] <= start <= times[28] and times[44] <= end <= times[52]
    assert zoomed["series"]["bucket_minutes"] == 15 and len(zoomed["drawn"][0]) < 40


def test_clicking_a_corrected_reading_shows_its_history(page: Page) -> None:
    page.goto(f"/dashboard/usage?meters={METER}&from=2020-06-03T10:00:00Z"
              "&to=2020-06-03T14:00:00Z&tz=Europe/Paris")
    shown = wait_for_chart(page)
    corrected = int(CORRECTED_AT.replace(tzinfo=UTC).timestamp())
    index = shown["drawn"][0].index(corrected)
    assert shown["drawn"][2][index] == CORRECTED_WH  # the marker series: corrected only
    assert [v for v in shown["drawn"][2] if v is not None] == [CORRECTED_WH]
    x, y = page.evaluate(f"""() => {{ const u = window.__dashboard.plot;
        const r = u.over.getBoundingClientRect();
        return [r.left + u.valToPos({corrected}, 'x'), r.top + u.valToPos({CORRECTED_WH}, 'y')];
    }}""")
    page.mouse.click(x, y)
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    assert rows.nth(1).locator("td").all_inner_texts()[:5] == [
        "2006.6", "yes", "utility_drops", "correction_20200610.csv", "2"]
    expect(page.locator("#history-table caption")).to_contain_text(
        "2020-06-03 14:00 Europe/Paris")
    expect(page.locator(".u-axis").first).to_be_visible()
    assert "Time (Europe/Paris)" in page.locator("#chart").inner_text()
    page.screenshot(path=ARTEFACTS / "history.png", full_page=True)


def test_readable_on_a_phone(browser: Browser, context: BrowserContext, server: Server) -> None:
    phone = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844},
                                storage_state=context.storage_state(), bypass_csp=True)
    phone.on("request", lambda request: REQUESTED.append(request.url))
    page = phone.new_page()
    page.goto(f"/dashboard/usage?meters={METER}&from=2020-06-01T00:00:00Z"
              "&to=2020-06-08T00:00:00Z&tz=UTC")
    shown = wait_for_chart(page)
    assert len(shown["drawn"][0]) <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTEFACTS / "usage-phone-390.png", full_page=True)
    phone.close()


@pytest.mark.parametrize("view", ["settlements", "quality"])
def test_the_other_views_render(page: Page, view: str) -> None:
    page.goto(f"/dashboard/{view}")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        {"settlements": "Settlements", "quality": "Data quality"}[view])
    expect(page.locator("table").first).to_be_visible()
    page.screenshot(path=ARTEFACTS / f"{view}.png", full_page=True)


def test_no_request_left_127_0_0_1() -> None:
    assert REQUESTED and {host_of(url) for url in REQUESTED} == {"127.0.0.1"}
