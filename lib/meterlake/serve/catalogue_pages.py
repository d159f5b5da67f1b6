"""The data catalogue rendered: JSON (`meterlake catalog --json`, `/v1/catalog`), text (`meterlake
catalog`) and an HTML page with no script (`/dashboard/catalog`). Every value on the page is
escaped (`dashboard_pages.cell`, `html.escape`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from typing import Any

from meterlake.core.table_description import REFERENCE, REFERENCES, is_landing, is_reference
from meterlake.serve import dashboard_pages as pages
from meterlake.serve.catalogue import Catalogue, Entry, Freshness, Quality
from meterlake.serve.delta_reads import jsonable

NOT_WRITTEN = "not written yet"
Instant = Callable[[datetime | None], str]


def catalogue_json(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "lake_root": catalogue.lake_root,
        "landing_root": catalogue.landing_root,
        "generated_at": jsonable(catalogue.generated_at),
        "landing": [{"name": z.name, "location": z.location,
                     "newest_arrival": jsonable(z.newest_arrival), "seen_in": z.seen_in}
                    for z in catalogue.landing],
        "references": [{"name": f"{REFERENCE}{name}", "description": text}
                       for name, text in REFERENCES.items()],
        "tables": [_entry_json(entry) for entry in catalogue.entries],
    }


def _entry_json(entry: Entry) -> dict[str, Any]:
    described = entry.description.to_dict()
    columns, fed_by = described.pop("columns"), described.pop("fed_by")
    checks = {"row_rules": described.pop("row_rules"),
              "expectations": described.pop("expectations")}
    return {
        "table": entry.description.qualified_name, **described, "location": entry.location,
        "status": "written" if entry.freshness else NOT_WRITTEN,
        "freshness": _freshness_json(entry.freshness),
        "quality": _quality_json(entry.quality),
        "lineage": {"fed_by": fed_by, "sources": list(entry.sources),
                    "feeds": list(entry.feeds)},
        "checks": checks,
        "columns": columns,
    }


def _freshness_json(freshness: Freshness | None) -> dict[str, Any] | None:
    if freshness is None:
        return None
    lag = freshness.lag_seconds
    return {"version": freshness.version, "committed_at": jsonable(freshness.committed_at),
            "data_changed_at": jsonable(freshness.data_changed_at),
            "lag_seconds": None if lag is None else round(lag, 3), "behind": freshness.behind}


def _quality_json(quality: Quality) -> dict[str, Any] | None:
    checks, hour = quality.checks, quality.sensor_hour
    if checks is None and hour is None:
        return None
    return {
        "checked_at": jsonable(checks.checked_at) if checks else None,
        "checked_version": checks.table_version if checks else None,
        "checks": len(checks.results) if checks else 0,
        "failed": list(quality.failed),
        "sensor_quality": None if hour is None else {
            "hour_start": jsonable(hour.hour_start),
            "mean_quality_indicator": round(hour.mean_indicator, 3), "sensors": hour.sensors},
    }


def _exact(value: datetime | None) -> str:
    """An instant for the command line: ISO 8601 UTC to the millisecond."""
    return "—" if value is None else str(jsonable(value))


def _readable(value: datetime | None) -> str:
    """An instant for the page: to the second."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    """A lag for people: `0 s`, `42.5 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    whole = int(seconds)
    for size, unit, smaller, small_unit in ((86_400, "d", 3600, "h"), (3600, "h", 60, "min"),
                                            (60, "min", 1, "s")):
        if whole >= size:
            return f"{whole // size} {unit} {whole % size // smaller} {small_unit}"
    return f"{whole} s"


def lag_text(freshness: Freshness, fed_by: Sequence[str]) -> str:
    if freshness.lag_seconds is None:
        if fed_by and all(is_reference(source) for source in fed_by):
            return "fed by files only"
        return "no input written yet"
    if freshness.behind is None:
        return "up to date with its inputs"
    return f"{duration(freshness.lag_seconds)} behind {freshness.behind}"


def freshness_text(entry: Entry, instant: Instant = _exact) -> str:
    freshness = entry.freshness
    if freshness is None:
        return NOT_WRITTEN
    return (f"version {freshness.version}, committed {instant(freshness.committed_at)}, rows "
            f"changed {instant(freshness.data_changed_at)}; "
            f"{lag_text(freshness, entry.description.fed_by)}")


def _short_freshness(entry: Entry) -> str:
    freshness = entry.freshness
    if freshness is None:
        return NOT_WRITTEN
    return (f"version {freshness.version}, {_readable(freshness.committed_at)}; "
            f"{lag_text(freshness, entry.description.fed_by)}")


def quality_text(entry: Entry, instant: Instant = _exact) -> str:
    quality, parts = entry.quality, []
    if quality.checks is not None:
        checks = quality.checks
        verdict = ("all passed" if not quality.failed else
                   f"{len(quality.failed)} failed: {'; '.join(quality.failed)}")
        parts.append(f"{len(checks.results)} checks on version {checks.table_version}, "
                     f"{verdict} (checked {instant(checks.checked_at)})")
    if quality.sensor_hour is not None:
        hour = quality.sensor_hour
        parts.append(f"sensor quality indicator {hour.mean_indicator:.1f} of 100 (mean of "
                     f"{hour.sensors} sensors, hour from {instant(hour.hour_start)})")
    if parts:
        return "; ".join(parts)
    if entry.description.expectations:
        return "not checked yet"
    if entry.description.row_rules:
        return "row rules only: a breaking row goes to bronze.quarantine"
    return "no expectations"


def _short_quality(entry: Entry) -> str:
    quality, parts = entry.quality, []
    if quality.checks is not None:
        total, failed = len(quality.checks.results), len(quality.failed)
        parts.append(f"{failed} of {total} checks failed" if failed
                     else f"{total} checks passed")
    if quality.sensor_hour is not None:
        parts.append(f"sensor indicator {quality.sensor_hour.mean_indicator:.1f}")
    return "; ".join(parts) or quality_text(entry)


def _layout(entry: Entry) -> str:
    d = entry.description
    return "; ".join(part for part in (
        f"key {', '.join(d.keys)}" if d.keys else "no key",
        f"ordered by {', '.join(d.ordering)}" if d.ordering else "",
        f"partitioned by {', '.join(d.partition_by)}" if d.partition_by else "") if part)


def _checks_text(entry: Entry) -> str:
    d = entry.description
    parts = [f"{len(d.row_rules)} row rules ({', '.join(d.row_rules)})" if d.row_rules else "",
             f"{len(d.expectations)} expectations" if d.expectations else ""]
    return "; ".join(p for p in parts if p) or "—"


def catalogue_text(catalogue: Catalogue) -> str:
    lines = [f"data catalogue of {catalogue.lake_root} (landing {catalogue.landing_root}), "
             f"{_exact(catalogue.generated_at)}", ""]
    for zone in catalogue.landing:
        lines.append(f"{zone.name}: {zone.location}, newest arrival "
                     f"{_exact(zone.newest_arrival)} ({zone.seen_in})")
    for entry in catalogue.entries:
        lines += ["", *_entry_text(entry)]
    return "\n".join(lines)


def _entry_text(entry: Entry) -> list[str]:
    d = entry.description
    width = max(len(c.name) for c in d.columns)
    return [
        f"{d.qualified_name} (owner: {d.owner}; retention: {d.retention}"
        f"{'; append-only' if d.is_append_only else ''})",
        f"  grain: {d.grain}",
        f"  {_layout(entry)}",
        f"  location: {entry.location}",
        f"  freshness: {freshness_text(entry)}",
        f"  quality: {quality_text(entry)}",
        f"  checks: {_checks_text(entry)}",
        f"  fed by: {', '.join(d.fed_by) or '—'}",
        f"  sources: {', '.join(entry.sources) or '—'}",
        f"  feeds: {', '.join(entry.feeds) or '—'}",
        "  columns:",
        *(f"    {c.name:<{width}}  {c.type}{'' if c.nullable else ' not null'}"
          f"{f' [{c.unit}]' if c.unit else ''}  {c.description}" for c in d.columns),
    ]


def _anchor(name: str) -> str:
    return f"table-{name}"


def _link(name: str) -> pages.Markup:
    """A link to a table's section; a landing zone or a reference file is text (a file with
    its description as a tooltip)."""
    if is_landing(name) or is_reference(name):
        title = REFERENCES.get(name.removeprefix(REFERENCE), "")
        return pages.Markup(f'<span title="{escape(title)}">{escape(name)}</span>'
                            if title else escape(name))
    return pages.Markup(f'<a href="#{escape(_anchor(name))}">{escape(name)}</a>')


def _links(names: Sequence[str]) -> pages.Markup:
    return pages.Markup(", ".join(_link(n) for n in names) if names else "—")


def catalogue_html(catalogue: Catalogue) -> str:
    """The page's body: a summary of every table, the landing zones, then each table."""
    summary = pages.table(
        f"Every table of the lake ({len(catalogue.entries)}), as of "
        f"{_readable(catalogue.generated_at)}",
        ["table", "grain", "owner", "freshness", "quality", "fed by"],
        [(_link(e.description.qualified_name), e.description.grain, e.description.owner,
          _short_freshness(e), _short_quality(e), _links(e.description.fed_by))
         for e in catalogue.entries], "catalogue-tables")
    landing = pages.table(
        "Landing zones: every object as received", ["zone", "location", "newest arrival",
                                                     "seen in"],
        [(z.name, z.location, _readable(z.newest_arrival), z.seen_in)
         for z in catalogue.landing], "catalogue-landing")
    intro = (f"<p class=catalogue-intro>Lake <code>{escape(catalogue.lake_root)}</code>, "
             f"landing zone <code>{escape(catalogue.landing_root)}</code>. Generated from the "
             "table contracts; times are UTC.</p>")
    return intro + summary + landing + "".join(_entry_html(e) for e in catalogue.entries)


def _entry_html(entry: Entry) -> str:
    d = entry.description
    facts = [
        ("grain", d.grain), ("key", ", ".join(d.keys) or "—"),
        ("ordering", ", ".join(d.ordering) or "—"),
        ("partitioned by", ", ".join(d.partition_by) or "—"), ("owner", d.owner),
        ("retention", d.retention + ("; append-only" if d.is_append_only else "")),
        ("location", entry.location), ("freshness", freshness_text(entry, _readable)),
        ("quality", quality_text(entry, _readable)),
        ("row rules", ", ".join(d.row_rules) or "—"),
        ("expectations", "; ".join(d.expectations) or "—"),
        ("fed by", _links(d.fed_by)), ("sources", _links(entry.sources)),
        ("feeds", _links(entry.feeds)),
    ]
    listed = "".join(f"<dt>{escape(label)}</dt><dd>{pages.cell(value)}</dd>"
                     for label, value in facts)
    name = escape(d.qualified_name)
    columns = pages.table(
        f"Columns of {d.qualified_name}", ["column", "type", "nullable", "unit", "description"],
        [(c.name, c.type, c.nullable, c.unit, c.description) for c in d.columns],
        f"columns-{name}")
    return (f'<section id="{escape(_anchor(d.qualified_name))}" aria-labelledby="title-{name}">'
            f'<h2 id="title-{name}">{name}</h2><dl class=facts>{listed}</dl>{columns}'
            "</section>")
