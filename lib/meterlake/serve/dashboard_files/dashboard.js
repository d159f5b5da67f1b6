// The meter usage view: meter picker, range and time zone, a uPlot chart of the server's
// min/max buckets, the history of a reading, CSV download. State lives in the URL
// (?meters=a,b&from=<UTC ISO>&to=<UTC ISO>&tz=<zone>) so a view can be shared.
"use strict";

(function () {
  const HOUR = 3600e3, DAY = 24 * HOUR;
  const config = JSON.parse(document.getElementById("dashboard-config").dataset.config);
  const $ = (id) => document.getElementById(id);
  const state = { meters: [], spans: {}, start: null, end: null, tz: config.defaultZone };
  // What tests and the benchmark read: the last series drawn and how long it took.
  const probe = (window.__dashboard = { plot: null, series: null, renders: 0, lastRender: null });
  let plot = null, requestId = 0, renderStarted = 0;

  // ---- time zones: the axis and the from/to inputs are in state.tz, everything else UTC ----
  function wallParts(ms, tz) {
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms));
    const get = (t) => Number(parts.find((p) => p.type === t).value);
    return { y: get("year"), mo: get("month"), d: get("day"), h: get("hour"), mi: get("minute"),
             s: get("second") };
  }
  const offsetAt = (ms, tz) => {
    const p = wallParts(ms, tz);
    return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
  };
  function wallToUtc(y, mo, d, h, mi, tz) {
    const wall = Date.UTC(y, mo - 1, d, h, mi);
    const guess = wall - offsetAt(wall, tz);
    return wall - offsetAt(guess, tz);
  }
  const pad = (n) => String(n).padStart(2, "0");
  function toLocalInput(ms, tz) {
    const p = wallParts(ms, tz);
    return `${p.y}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}`;
  }
  function fromLocalInput(text, tz) {
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(text);
    return m ? wallToUtc(+m[1], +m[2], +m[3], +m[4], +m[5], tz) : null;
  }
  const isoZ = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");
  function validZone(tz) {
    try { new Intl.DateTimeFormat("en", { timeZone: tz }); return true; } catch { return false; }
  }

  // ---- URL state ----
  function readUrl() {
    const q = new URLSearchParams(location.search);
    state.meters = (q.get("meters") || "").split(",").filter(Boolean);
    const tz = q.get("tz");
    state.tz = tz && validZone(tz) ? tz : config.defaultZone;
    const from = Date.parse(q.get("from") || ""), to = Date.parse(q.get("to") || "");
    [state.start, state.end] = isNaN(from) || isNaN(to) ? [null, null] : [from, to];
  }
  function writeUrl(push) {
    const q = new URLSearchParams();
    if (state.meters.length) q.set("meters", state.meters.join(","));
    if (state.start !== null) { q.set("from", isoZ(state.start)); q.set("to", isoZ(state.end)); }
    q.set("tz", state.tz);
    history[push ? "pushState" : "replaceState"](null, "", `${location.pathname}?${q}`);
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.status === 401) { location.assign(signInUrl()); throw new Error("signed out"); }
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || response.statusText);
    return body;
  }
  const signInUrl = () =>
    `/dashboard/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`;
  const status = (text, isError) => { $("status").textContent = text;
                                      $("status").classList.toggle("error", !!isError); };

  // ---- meters ----
  async function searchMeters() {
    const q = $("meter-search").value.trim();
    const found = await getJson(`/dashboard/api/meters?q=${encodeURIComponent(q)}`);
    $("meter-options").replaceChildren(...found.meters.map((m) => new Option(m.meter_id)));
    for (const m of found.meters) state.spans[m.meter_id] = m;
  }
  async function addMeter() {
    const id = $("meter-search").value.trim();
    if (!id || state.meters.includes(id)) return;
    try {
      const found = await getJson(`/dashboard/api/meters?ids=${encodeURIComponent(id)}`);
      state.spans[id] = found.meters[0];
    } catch (error) { status(error.message, true); return; }
    state.meters.push(id);
    $("meter-search").value = "";
    if (state.start === null) quickRange("week"); else { writeUrl(true); refresh(); }
  }
  function removeMeter(id) {
    state.meters = state.meters.filter((m) => m !== id);
    writeUrl(true); refresh();
  }
  function drawMeterList() {
    $("meter-list").replaceChildren(...state.meters.map((id) => {
      const item = document.createElement("li"), button = document.createElement("button");
      button.type = "button"; button.textContent = `${id} ✕`;
      button.setAttribute("aria-label", `Remove meter ${id}`);
      button.addEventListener("click", () => removeMeter(id));
      item.append(button); return item;
    }));
  }

  // ---- range: quick ranges end at the latest reading of the chosen meters (the lake's data
  // is not live, so "now" would often show nothing) ----
  function latestReading() {
    const ends = state.meters.map((m) => state.spans[m] && Date.parse(state.spans[m].end));
    return Math.max(...ends.filter(Boolean));
  }
  function quickRange(kind) {
    const anchor = latestReading();
    if (!isFinite(anchor)) return;
    if (kind === "month") {
      const p = wallParts(anchor - 1, state.tz);
      state.start = wallToUtc(p.y, p.mo, 1, 0, 0, state.tz);
      state.end = wallToUtc(p.mo === 12 ? p.y + 1 : p.y, p.mo === 12 ? 1 : p.mo + 1, 1, 0, 0,
                            state.tz);
    } else {
      state.end = anchor;
      state.start = anchor - { day: DAY, week: 7 * DAY, year: 365 * DAY }[kind];
    }
    setRange(state.start, state.end);
  }
  function setRange(start, end) {
    if (!(start < end)) { status("The range must start before it ends.", true); return; }
    state.start = Math.round(start); state.end = Math.round(end);
    writeUrl(true); refresh();
  }
  function applyInputs() {
    setRange(fromLocalInput($("range-from").value, state.tz),
             fromLocalInput($("range-to").value, state.tz));
  }
  function zoomOut() {
    if (state.start === null) return;
    const half = (state.end - state.start) / 2;
    setRange(state.start - half, state.end + half);
  }

  // ---- the chart ----
  const COLOURS = ["#1f5fa8", "#b5460f", "#2b7a3d", "#7b3fa0", "#a3154d", "#00707a", "#6b5a00",
                   "#444"];
  function chartData(series) {
    const data = [series.times], lines = [{ label: `Time (${state.tz})` }], bands = [];
    series.meters.forEach((m, i) => {
      const colour = COLOURS[i % COLOURS.length];
      if (series.bucket_minutes === 15) {
        data.push(m.mean);
        lines.push({ label: m.meter_id, stroke: colour, width: 1.5, spanGaps: false,
                     value: (u, v) => v === null ? "gap" : `${v} Wh` });
        data.push(m.mean.map((v, j) => (m.corrected[j] ? v : null)));
        lines.push({ label: `${m.meter_id} corrected`, stroke: colour, width: 0,
                     paths: () => null, points: { show: true, size: 12, fill: "#f0a500",
                                                   stroke: "#1b1f24", width: 2 } });
      } else {
        const base = data.length;
        data.push(m.max, m.mean, m.min);
        lines.push({ label: `${m.meter_id} max`, stroke: colour, width: 0.5, spanGaps: false },
                   { label: `${m.meter_id} mean`, stroke: colour, width: 1.5, spanGaps: false },
                   { label: `${m.meter_id} min`, stroke: colour, width: 0.5, spanGaps: false });
        bands.push({ series: [base, base + 2], fill: colour + "33" });
      }
    });
    return { data, lines, bands };
  }
  function chartSize() {
    const width = Math.max(280, $("chart").clientWidth);
    return { width, height: Math.round(Math.min(420, Math.max(240, width * 0.45))) };
  }
  function draw(series) {
    const { data, lines, bands } = chartData(series);
    const size = chartSize();
    if (plot) plot.destroy();
    const unitLabel = series.bucket_minutes === 15 ? "Energy per 15-min interval (Wh)"
      : `Wh per 15 min: min–mean–max per ${bucketLabel(series.bucket_minutes)}`;
    plot = new uPlot({
      ...size, series: lines, bands,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), state.tz),
      scales: { x: { time: true } },
      axes: [{ label: `Time (${state.tz})` }, { label: unitLabel, size: 70 }],
      cursor: { drag: { x: true, y: false, setScale: false }, sync: { key: "usage" } },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const from = u.posToVal(u.select.left, "x"), to = u.posToVal(
            u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          setRange(from * 1000, to * 1000);
        }],
        draw: [() => {
          probe.renders += 1;
          probe.lastRender = { ms: performance.now() - renderStarted,
                               buckets: series.times.length,
                               bucketMinutes: series.bucket_minutes };
        }],
      },
    }, data, $("chart"));
    plot.over.addEventListener("click", () => pointClicked(series));
    probe.plot = plot; probe.series = series;
  }
  function pointClicked(series) {
    const i = plot.cursor.idx;
    if (i === null || i === undefined) return;
    if (series.bucket_minutes !== 15) {
      $("history").textContent =
        "Zoom in to 15-minute resolution (a day or two) to see one reading's history.";
      return;
    }
    const top = plot.cursor.top;
    let best = series.meters[0], distance = Infinity;
    for (const m of series.meters) {
      const v = m.mean[i];
      if (v === null) continue;
      const d = Math.abs(plot.valToPos(v, "y") - top);
      if (d < distance) { best = m; distance = d; }
    }
    showHistory(best.meter_id, series.times[i] * 1000);
  }

  async function showHistory(meter, ms) {
    const box = $("history");
    box.textContent = "Loading…";
    try {
      const found = await getJson(`/dashboard/api/history?meter=${encodeURIComponent(meter)}` +
                                  `&interval=${encodeURIComponent(isoZ(ms))}`);
      const caption = document.createElement("caption");
      caption.textContent = `${meter} at ${found.interval_start} (${toLocalInput(ms, state.tz)
        .replace("T", " ")} ${state.tz}): ${found.versions.length} versions`;
      const table = document.createElement("table");
      table.id = "history-table";
      table.append(caption);
      const head = table.createTHead().insertRow();
      for (const h of ["value (Wh)", "current", "source", "file", "line", "received (UTC)",
                       "landing path"]) {
        const th = document.createElement("th"); th.scope = "col"; th.textContent = h;
        head.append(th);
      }
      const body = table.createTBody();
      for (const v of found.versions) {
        const row = body.insertRow();
        for (const cell of [v.value, v.is_current ? "yes" : "", v.source, v.file, v.line,
                            v.received_at, v.landing_path || "—"]) {
          row.insertCell().textContent = String(cell);
        }
      }
      box.replaceChildren(found.versions.length ? table : "No version found in bronze.");
    } catch (error) { box.textContent = error.message; }
  }

  function listCorrected(series) {
    const items = [];
    for (const m of series.meters) {
      (m.corrected || []).forEach((isCorrected, i) => {
        if (!isCorrected) return;
        const button = document.createElement("button");
        const ms = series.times[i] * 1000;
        button.type = "button";
        button.textContent = `${m.meter_id} ${toLocalInput(ms, state.tz).replace("T", " ")}`;
        button.setAttribute("aria-label", `History of ${m.meter_id} at ${isoZ(ms)}`);
        button.addEventListener("click", () => showHistory(m.meter_id, ms));
        const item = document.createElement("li"); item.append(button); items.push(item);
      });
    }
    if (!items.length) {
      const item = document.createElement("li");
      item.textContent = series.bucket_minutes === 15 ? "none in this range"
        : "shown at 15-minute resolution (zoom in)";
      items.push(item);
    }
    $("corrected-list").replaceChildren(...items);
  }

  const bucketLabel = (m) => (m % 1440 === 0 ? `${m / 1440} d` : m % 60 === 0 ? `${m / 60} h`
    : `${m} min`);
  function describe(series, ms) {
    const missing = series.meters.reduce((n, m) => n + m.missing.reduce((a, b) => a + b, 0), 0);
    const what = series.bucket_minutes === 15 ? "15-minute readings"
      : `buckets of ${bucketLabel(series.bucket_minutes)} (min, mean, max)`;
    return `${series.times.length} ${what} from ${series.source}; ${missing} missing ` +
           `intervals drawn as gaps; fetched in ${Math.round(ms)} ms.`;
  }

  async function refresh() {
    drawMeterList();
    $("time-zone").value = state.tz;
    if (state.start !== null) {
      $("range-from").value = toLocalInput(state.start, state.tz);
      $("range-to").value = toLocalInput(state.end, state.tz);
    }
    if (!state.meters.length || state.start === null) {
      if (plot) { plot.destroy(); plot = null; }
      status("Pick a meter to draw its usage.");
      return;
    }
    const mine = ++requestId;
    renderStarted = performance.now();
    const params = new URLSearchParams({ meters: state.meters.join(","),
      start: isoZ(state.start), end: isoZ(state.end), points: String(chartSize().width) });
    $("download-csv").href = `/dashboard/api/series.csv?${params}&tz=${
      encodeURIComponent(state.tz)}`;
    status("Loading…");
    try {
      const series = await getJson(`/dashboard/api/series?${params}`);
      if (mine !== requestId) return;  // a newer range was asked for meanwhile
      for (const m of series.meters) state.spans[m.meter_id] = m;
      draw(series);
      listCorrected(series);
      status(describe(series, performance.now() - renderStarted));
    } catch (error) { if (mine === requestId) status(error.message, true); }
  }

  function bind() {
    $("meter-search").addEventListener("input", () => searchMeters().catch(() => {}));
    $("meter-search").addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); addMeter(); } });
    $("meter-add").addEventListener("click", addMeter);
    for (const b of document.querySelectorAll("[data-quick]")) {
      b.addEventListener("click", () => quickRange(b.dataset.quick));
    }
    $("range-apply").addEventListener("click", applyInputs);
    $("zoom-out").addEventListener("click", zoomOut);
    $("controls").addEventListener("submit", (e) => e.preventDefault());
    $("time-zone").addEventListener("change", () => {
      const tz = $("time-zone").value.trim();
      if (!validZone(tz)) { status(`Not a time zone: ${tz}`, true); return; }
      state.tz = tz; writeUrl(true); refresh();
    });
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
    $("zone-options").replaceChildren(...["UTC", ...zones].map((z) => new Option(z)));
    window.addEventListener("popstate", () => { readUrl(); refresh(); });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer); resizeTimer = setTimeout(refresh, 250); });
  }

  async function start() {
    bind();
    readUrl();
    if (state.meters.length) {
      try {
        const found = await getJson(
          `/dashboard/api/meters?ids=${encodeURIComponent(state.meters.join(","))}`);
        for (const m of found.meters) state.spans[m.meter_id] = m;
      } catch (error) { status(error.message, true); return; }
      if (state.start === null) { quickRange("week"); return; }
    }
    writeUrl(false);
    refresh();
    searchMeters().catch(() => {});
  }
  start();
})();
