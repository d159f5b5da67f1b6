"""The dashboard's HTML: a page frame, the sign-in form and the server-rendered views.

Plain HTML with escaped values: the tables of the settlement and quality views need no script;
the usage view is a frame its script (static/dashboard.js) fills. Every script and style comes
from /dashboard/static (the page's Content-Security-Policy allows nothing else).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

_NAV = (("usage", "/dashboard/usage", "Meter usage"),
        ("settlements", "/dashboard/settlements", "Settlements"),
        ("quality", "/dashboard/quality", "Data quality"),
        ("catalog", "/dashboard/catalog", "Data catalogue"))


def page(title: str, body: str, active: str | None = None, scripts: Sequence[str] = ()) -> str:
    """A complete page: head with the app's styles, the navigation (when signed in), body."""
    nav = ""
    if active is not None:
        links = "".join(
            f'<li><a href="{href}"{" aria-current=page" if name == active else ""}>{label}</a>'
            f"</li>" for name, href, label in _NAV)
        nav = (f'<nav aria-label="Dashboard views"><ul>{links}</ul>'
               '<form method="post" action="/dashboard/sign-out">'
               '<button type="submit">Sign out</button></form></nav>')
    tags = "".join(f'<script src="{src}" defer></script>' for src in scripts)
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · meterlake</title>"
            '<link rel="stylesheet" href="/dashboard/static/vendor/uPlot.min.css">'
            f'<link rel="stylesheet" href="/dashboard/static/dashboard.css">{tags}</head>'
            f"<body><header><p class=brand>meterlake</p>{nav}</header>"
            f"<main id=main><h1>{escape(title)}</h1>{body}</main></body></html>")


def sign_in(next_path: str, error: str | None = None) -> str:
    alert = f'<p class=error role=alert id=sign-in-error>{escape(error)}</p>' if error else ""
    return page("Sign in", f"""{alert}
<form method=post action="/dashboard/sign-in" class=sign-in>
  <label for=api-key>API key with the read scope</label>
  <input id=api-key name=api_key type=password autocomplete=current-password required autofocus>
  <input type=hidden name=next value="{escape(next_path)}">
  <button type=submit>Sign in</button>
</form>""")


def usage(default_zone: str) -> str:
    config = escape(json.dumps({"defaultZone": default_zone}))
    body = f"""<div id=dashboard-config data-config="{config}" hidden></div>
<form id=controls class=controls aria-label="Chart controls">
  <fieldset><legend>Meters</legend>
    <label for=meter-search>Search by id</label>
    <input id=meter-search list=meter-options autocomplete=off
           aria-describedby=meter-help placeholder="meter id">
    <datalist id=meter-options></datalist>
    <button type=button id=meter-add>Add meter</button>
    <p id=meter-help class=help>Type part of an id, pick it, press Enter. Several meters share
      one chart.</p>
    <ul id=meter-list class=chips aria-label="Chosen meters"></ul>
  </fieldset>
  <fieldset><legend>Range</legend>
    <div class=quick role=group aria-label="Quick ranges (up to the latest reading)">
      <button type=button data-quick=day>Last 24 h</button>
      <button type=button data-quick=week>Last 7 days</button>
      <button type=button data-quick=month>This month</button>
      <button type=button data-quick=year>Last 365 days</button>
    </div>
    <label for=range-from>From</label> <input id=range-from type=datetime-local step=900>
    <label for=range-to>To</label> <input id=range-to type=datetime-local step=900>
    <button type=button id=range-apply>Apply range</button>
    <button type=button id=zoom-out>Zoom out</button>
  </fieldset>
  <fieldset><legend>Time axis</legend>
    <label for=time-zone>Time zone</label>
    <input id=time-zone list=zone-options autocomplete=off>
    <datalist id=zone-options></datalist>
  </fieldset>
</form>
<p id=status class=status role=status aria-live=polite>Pick a meter to draw its usage.</p>
<figure class=chart-frame><div id=chart></div>
  <figcaption id=chart-caption>Energy per 15-minute interval. Drag across the chart to zoom;
    click a point at 15-minute resolution for its history.</figcaption></figure>
<p><a id=download-csv href="#" download>Download the shown range as CSV</a></p>
<section aria-labelledby=history-title><h2 id=history-title>Reading history</h2>
  <div id=history aria-live=polite><p>Click a reading, or a corrected reading below.</p></div>
</section>
<section aria-labelledby=corrected-title><h2 id=corrected-title>Corrected readings shown</h2>
  <ul id=corrected-list></ul></section>"""
    return page("Meter usage", body, "usage",
                ["/dashboard/static/vendor/uPlot.iife.min.js", "/dashboard/static/dashboard.js"])


class Markup(str):
    """HTML built here from escaped parts: a table cell shows it as it is."""


def cell(value: Any) -> str:
    if isinstance(value, Markup):
        return value
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return escape(value.strftime("%Y-%m-%d %H:%M:%S UTC"))
    if isinstance(value, Decimal):
        return escape(f"{value:,}")
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
          table_id: str) -> str:
    head = "".join(f"<th scope=col>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(headers)}">nothing yet</td></tr>'
    return (f'<div class=table-scroll><table id="{table_id}"><caption>{escape(caption)}'
            f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def bar(value: Decimal | float, largest: Decimal | float) -> str:
    """A text value with a proportional bar drawn by CSS (the value stays readable)."""
    share = 0 if not largest else float(value) / float(largest) * 100
    return (f'<span class=bar style="--share:{share:.1f}%">'
            f"<span class=bar-value>{cell(value)}</span></span>")


def notice(message: str) -> str:
    return f"<p class=notice>{escape(message)}</p>"
