"""The dashboard under /dashboard: sign-in, the pages, and the JSON its usage chart reads.

Same process and keys as the API: a key with the `read` scope signs in once for a session
cookie (`meterlake.serve.sessions`). A page without a valid session redirects to the sign-in;
a dashboard data call without one answers 401. The routes stay out of /openapi.json: they are
the browser's, not an API to build on (the JSON API keeps its bearer keys).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from meterlake.receive.http_auth import READ, find_key
from meterlake.serve import dashboard_pages as pages
from meterlake.serve import dashboard_reads as dreads
from meterlake.serve import delta_reads as reads
from meterlake.serve import sessions
from meterlake.serve.catalogue_pages import catalogue_html
from meterlake.serve.catalogue_routes import PAGE as CATALOGUE_PAGE
from meterlake.serve.catalogue_routes import build_catalogue
from meterlake.serve.dashboard_data import data_router
from meterlake.serve.dashboard_static import static_router

SIGN_IN = "/dashboard/sign-in"
HOME = "/dashboard/usage"
# Only the app's own fonts, styles, scripts and calls: nothing leaves for another origin.
# Inline style attributes carry the proportional bars of the tables (no script is inline).
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")


def current_session(request: Request) -> sessions.Session | None:
    return sessions.verify(request.app.state.session_secret,
                           request.cookies.get(sessions.COOKIE), request.app.state.api_keys)


def _safe_next(path: str | None) -> str:
    """Only a path of the dashboard itself: the sign-in never redirects elsewhere."""
    if path and path.startswith("/dashboard/") and not path.startswith("//") and "\\" not in path:
        return path
    return HOME


def require_page_session(request: Request) -> sessions.Session:
    """A page's session; without one, 303 to the sign-in, which comes back here."""
    session = current_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first",
                            headers={"Location": f"{SIGN_IN}?next={quote(target, safe='')}"})
    return session


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status, headers={"Content-Security-Policy": _CSP,
                                               "Cache-Control": "no-store"})


def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    return _html(pages.sign_in(_safe_next(next)))


def sign_in(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,  # noqa: A002
) -> Response:
    """Exchanges a key with the read scope for a session cookie; 401/403 show the form again
    with the reason."""
    key = find_key(request.app.state.api_keys, api_key.strip()) if api_key.strip() else None
    if key is None:
        return _html(pages.sign_in(_safe_next(next), "Invalid API key."), 401)
    if READ not in key.scopes:
        return _html(pages.sign_in(_safe_next(next), "This API key lacks the 'read' scope."), 403)
    lifetime = request.app.state.http.dashboard.session_hours * 3600
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        sessions.COOKIE, sessions.issue(request.app.state.session_secret, key, lifetime),
        max_age=lifetime, expires=lifetime, path=sessions.COOKIE_PATH, httponly=True,
        samesite="strict", secure=request.url.scheme == "https")
    return response


def sign_out(request: Request) -> RedirectResponse:
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH, httponly=True,
                           samesite="strict", secure=request.url.scheme == "https")
    return response


def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


def usage_page(request: Request) -> HTMLResponse:
    return _html(pages.usage(request.app.state.http.dashboard.time_zone))


def settlements_page(request: Request, partner: str | None = None) -> HTMLResponse:
    tables: reads.LatestTables = request.app.state.tables
    try:
        summary = tables.latest(dreads.GOLD_SETTLEMENT_SUMMARY)
        lines = tables.latest(dreads.GOLD_SETTLEMENT_LINES)
    except reads.MissingTableError as missing:
        return _html(pages.page("Settlements", pages.notice(str(missing)), "settlements"))
    known = dreads.partners(summary)
    chosen = partner if partner in known else (known[0] if known else None)
    options = "".join(f'<option{" selected" if p == chosen else ""}>{pages.cell(p)}</option>'
                      for p in known)
    picker = (f'<form method=get class=controls><label for=partner>Partner</label> '
              f'<select id=partner name=partner>{options}</select> '
              f'<button type=submit>Show</button></form>')
    windows = dreads.consumption_by_window(lines, chosen) if chosen else []
    largest = max((w["kwh_measured"] + w["kwh_estimated"] for w in windows), default=0)
    consumption = pages.table(
        f"{chosen}: energy per month and time-of-use window (latest revision of each month)",
        ["month", "revision", "window", "kWh measured + estimated", "kWh estimated", "amount",
         "currency"],
        [(w["month"], w["revision"], w["window"],
          pages.Markup(pages.bar(w["kwh_measured"] + w["kwh_estimated"], largest)),
          w["kwh_estimated"], w["amount"], w["currency"]) for w in windows],
        "consumption-by-window")
    runs = pages.table(
        "Settlement runs and their revisions (change from the previous revision)",
        ["partner", "month", "revision", "run", "meters", "kWh measured", "kWh change",
         "total amount", "amount change", "currency", "completeness"],
        [(r["partner"], r["month"], r["revision"], r["run_id"], r["meters"], r["kwh_measured"],
          r["kwh_change"], r["total_amount"], r["amount_change"], r["currency"],
          r["completeness"]) for r in dreads.settlement_runs(summary)],
        "settlement-runs")
    return _html(pages.page("Settlements", picker + consumption + runs, "settlements"))


def quality_page(request: Request) -> HTMLResponse:
    tables: reads.LatestTables = request.app.state.tables
    parts = []
    for ref, render in ((reads.INGEST_LOG, _files_table), (dreads.QUARANTINE, _quarantine_table),
                        (dreads.DQ_RESULTS, _expectations_table)):
        try:
            parts.append(render(tables.latest(ref)))
        except reads.MissingTableError as missing:
            parts.append(pages.notice(str(missing)))
    return _html(pages.page("Data quality", "".join(parts), "quality"))


def catalogue_page(request: Request) -> HTMLResponse:
    """Every table of the lake (meterlake.serve.catalogue), no script."""
    return _html(pages.page("Data catalogue", catalogue_html(build_catalogue(request)),
                            "catalog"))


def _files_table(log: reads.TableVersion) -> str:
    days = dreads.files_per_day(log, 31)
    return pages.table("Files received per UTC day (last 31 days with files)",
                       ["day", "loaded", "rejected", "duplicate"],
                       [(d["day"], d["loaded"], d["rejected"], d["duplicate"]) for d in days],
                       "files-per-day")


def _quarantine_table(quarantine: reads.TableVersion) -> str:
    return pages.table("Quarantined rows by reason", ["source", "field", "reason", "rows"],
                       [(q["source"], q["field"], q["reason"], q["rows"])
                        for q in dreads.quarantine_by_reason(quarantine)], "quarantine")


def _expectations_table(results: reads.TableVersion) -> str:
    return pages.table("Latest expectation results",
                       ["checked", "table", "version", "scope", "expectation", "passed",
                        "rows", "unexpected"],
                       [(r["checked_at"], r["table_name"], r["table_version"], r["scope"],
                         r["expectation"], r["success"], r["element_count"],
                         r["unexpected_count"]) for r in dreads.recent_expectations(results, 50)],
                       "expectations")


def dashboard_router() -> APIRouter:
    """Sign-in, the pages (behind a session), the data calls and the static files."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/dashboard", home, methods=["GET"])
    router.add_api_route(SIGN_IN, sign_in_form, methods=["GET"])
    router.add_api_route(SIGN_IN, sign_in, methods=["POST"])
    router.add_api_route("/dashboard/sign-out", sign_out, methods=["POST"])
    pages_router = APIRouter(dependencies=[Depends(require_page_session)])
    for path, route in ((HOME, usage_page), ("/dashboard/settlements", settlements_page),
                        ("/dashboard/quality", quality_page),
                        (CATALOGUE_PAGE, catalogue_page)):
        pages_router.add_api_route(path, route, methods=["GET"])
    router.include_router(pages_router)
    router.include_router(data_router())
    router.include_router(static_router())
    return router
