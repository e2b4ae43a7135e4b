// #/report : the scaling report for a range (and optionally one service): per service the
// summary, then its usage, headroom and recommendations (projections are the CLI's,
// `scalepilot report`), and the scaling events; JSON, CSV and Markdown downloads. A plain
// link cannot carry the token, so downloads are fetched and handed over as a Blob URL.

import { ApiError, get, qs, request } from "../api.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { t, tOr, tParts } from "../i18n.js";
import * as live from "../stream.js";
import { errorText, markReady, notice, rangeOptions, routeMissing, select, sourceMark, sourced, sourceTitle } from "../widgets.js";

const SUMMARY = [
  ["service", (s) => h("a", { href: `#/service/${encodeURIComponent(s.service)}`, text: s.service })],
  ["scalingActions", (s) => fmt.int(s.scaling_actions)],
  ["scaleUps", (s) => fmt.int(s.scale_ups)],
  ["scaleDowns", (s) => fmt.int(s.scale_downs)],
  ["manual", (s) => fmt.int(s.manual)],
  ["failed", (s) => fmt.int(s.failed)],
  ["replicaHours", (s) => h("span", { class: "fig", "data-source": "measured", title: sourceTitle("measured") }, fmt.num(s.replica_hours, 2), sourceMark("measured"))],
  ["replicaRange", (s) => (s.min_replicas === null || s.min_replicas === undefined ? fmt.DASH : `${fmt.int(s.min_replicas)}–${fmt.int(s.max_replicas)}`)],
  ["covered", (s) => fmt.duration(s.covered_seconds)],
];

// What each download asks the API for, and the file's extension.
const DOWNLOADS = { json: { accept: "application/json", ext: "json" }, csv: { accept: "text/csv", ext: "csv" }, markdown: { accept: "text/markdown", ext: "md" } };

// With a price: the cost over the covered time and at that rate for 30 days.
const COST = [
  ["cost", (s) => (s.cost ? sourced("measured", fmt.money(s.cost.cost), t("report.costDetail")) : fmt.DASH)],
  ["cost30", (s) => (s.cost ? sourced("measured", fmt.money(s.cost.per_30_days), t("report.costDetail")) : fmt.DASH)],
];

/** The price from the page's URL or field: a number ≥ 0 as text, else "" (none). */
function validPrice(text) {
  const v = Number(text);
  return text !== undefined && text !== null && String(text).trim() !== "" && Number.isFinite(v) && v >= 0 ? String(v) : "";
}

// The usage table's rows: the figure's catalog key, its field in ``usage``, how a value
// is written, and the note (the autoscaling target behind it, the minutes at the limits).
const USAGE = [
  ["traffic", "traffic_rps", fmt.rps, () => null],
  ["latency", "latency_p95_seconds", (v) => t("unit.ms", { value: fmt.num(v * 1000, 1) }), () => null],
  ["errors", "error_ratio", fmt.percent, () => null],
  ["cpu", "cpu_utilization_percent", (v) => fmt.percent(v / 100), (s) => targetNote(s, "cpu", (v) => fmt.percent(v / 100))],
  ["memory", "memory_utilization_percent", (v) => fmt.percent(v / 100), (s) => targetNote(s, "memory", (v) => fmt.percent(v / 100))],
  ["rpsPerReplica", "rps_per_replica", fmt.rps, (s) => targetNote(s, "rps", fmt.rps)],
  ["ready", "ready_replicas", (v) => fmt.num(v, 1), limitsNote],
];

export function mount(root, { params }) {
  document.title = `${t("nav.report")} · scalepilot`;
  const state = { range: params.range || "24h", service: params.service || "", price: validPrice(params.price) };
  const names = new Set((live.overview() ? live.overview().services : []).map((s) => s.name));
  if (state.service) names.add(state.service);
  const rangeSelect = select(rangeOptions(), state.range, { "data-testid": "report-range" });
  const serviceSelect = select([["", t("events.allServices")], ...[...names].sort().map((n) => [n, n])], state.service, { "data-testid": "report-service" });
  // A price per replica-hour (any currency) turns the measured replica-hours into a cost;
  // scalepilot knows no price of its own.
  const priceInput = h("input", { type: "number", min: "0", step: "any", inputmode: "decimal", value: state.price, placeholder: "0.04", "data-testid": "report-price" });
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const jsonButton = h("button", { type: "button", class: "button", "data-testid": "download-json", text: t("report.downloadJson"), onclick: (e) => download("json", e.currentTarget) });
  const csvButton = h("button", { type: "button", class: "button", "data-testid": "download-csv", text: t("report.downloadCsv"), onclick: (e) => download("csv", e.currentTarget) });
  const markdownButton = h("button", { type: "button", class: "button", "data-testid": "download-markdown", text: t("report.downloadMarkdown"), onclick: (e) => download("markdown", e.currentTarget) });
  const form = h(
    "form",
    { class: "filters card" },
    h("label", {}, h("span", { text: t("report.range") }), rangeSelect),
    h("label", {}, h("span", { text: t("events.service") }), serviceSelect),
    h("label", {}, h("span", { text: t("report.price") }), priceInput),
    h("div", { class: "actions" }, jsonButton, csvButton, markdownButton),
  );
  const body = h("div", { class: "report-body", "aria-busy": "true" });
  replace(root, h("div", { class: "page-head" }, h("h1", { text: t("nav.report") })), form, messages, body);
  let destroyed = false;

  function onChange() {
    state.range = rangeSelect.value;
    state.service = serviceSelect.value;
    state.price = validPrice(priceInput.value);
    history.replaceState(null, "", `#/report${qs(state)}`);
    load();
  }
  rangeSelect.addEventListener("change", onChange);
  serviceSelect.addEventListener("change", onChange);
  priceInput.addEventListener("change", onChange);
  form.addEventListener("submit", (e) => e.preventDefault());

  async function load() {
    body.setAttribute("aria-busy", "true");
    try {
      const report = await get(`/api/v1/report${qs({ range: state.range, service: state.service, price: state.price, format: "json" })}`);
      if (!destroyed) render(report);
    } catch (err) {
      if (destroyed || (err instanceof ApiError && err.status === 401)) return;
      replace(body, notice(routeMissing(err) ? t("report.missing") : errorText(err), routeMissing(err) ? "info" : "error", "page-error"));
    } finally {
      body.removeAttribute("aria-busy");
      markReady();
    }
  }

  function render(r) {
    const services = r.services || [];
    const priced = services.some((s) => s.cost);
    const columns = priced ? [...SUMMARY, ...COST] : SUMMARY;
    const events = r.events || [];
    replace(
      body,
      h("p", { class: "muted", "data-testid": "report-period", text: t("report.period", { start: fmt.dateTime(fmt.isoMs(r.start), { seconds: false }), end: fmt.dateTime(fmt.isoMs(r.end), { seconds: false }) }) }),
      h(
        "section",
        { class: "section" },
        h("h2", { text: t("report.summary") }),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "table stack", "data-testid": "report-summary" },
            h("thead", {}, h("tr", {}, columns.map(([k]) => h("th", { scope: "col", text: t(`report.col.${k}`) })))),
            h("tbody", {}, services.map((s) => h("tr", { "data-testid": "report-row" }, columns.map(([k, f]) => h("td", { "data-label": t(`report.col.${k}`) }, f(s)))))),
          ),
        ),
        r.sources && r.sources.replica_hours ? h("p", { class: "hint" }, sourceMark("measured"), " ", t("report.replicaHoursSource")) : null,
        priced ? h("p", { class: "hint", "data-testid": "report-cost-source" }, sourceMark("measured"), " ", t("report.costSource")) : null,
      ),
      services.filter((s) => s.usage).map(detail),
      h(
        "section",
        { class: "section" },
        h("h2", {}, t("report.events"), " ", h("span", { class: "count-pill", text: fmt.int(events.length) })),
        events.length
          ? h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                { class: "table stack", "data-testid": "report-events" },
                h("thead", {}, h("tr", {}, ["time", "service", "kind", "change", "actor", "reason"].map((k) => h("th", { scope: "col", text: t(`report.ev.${k}`) })))),
                h(
                  "tbody",
                  {},
                  events
                    .slice()
                    .reverse()
                    .map((e) =>
                      h(
                        "tr",
                        {},
                        h("td", { "data-label": t("report.ev.time"), text: fmt.dateTime(e.timestamp_ms) }),
                        h("td", { "data-label": t("report.ev.service"), text: e.service || fmt.DASH }),
                        h("td", { "data-label": t("report.ev.kind") }, h("span", { class: "tag", text: tOr(`kind.${e.kind}`, e.kind) })),
                        h("td", { "data-label": t("report.ev.change"), text: e.from === null || e.from === undefined ? fmt.DASH : `${e.from} → ${e.to ?? "?"}` }),
                        h("td", { "data-label": t("report.ev.actor"), text: e.actor || fmt.DASH }),
                        h("td", { "data-label": t("report.ev.reason"), class: "wrap", text: e.reason || "" }),
                      ),
                    ),
                ),
              ),
            )
          : h("p", { class: "muted", text: t("report.noEvents") }),
      ),
    );
  }

  async function download(format, button) {
    button.disabled = true;
    const { accept, ext } = DOWNLOADS[format];
    try {
      const res = await request(`/api/v1/report${qs({ range: state.range, service: state.service, price: state.price, format })}`, { accept });
      const blob = await res.blob();
      const disposition = res.headers.get("Content-Disposition") || "";
      const match = /filename="?([^";]+)"?/.exec(disposition);
      const name = match ? match[1] : `scalepilot-report-${state.range}.${ext}`;
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name.endsWith(`.${ext}`) ? name : `${name}.${ext}`, class: "visually-hidden" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      replace(messages, notice(t("report.downloaded", { name: a.download }), "info", "page-message"));
    } catch (err) {
      replace(messages, notice(errorText(err), "error", "page-error"));
    } finally {
      button.disabled = false;
    }
  }

  load();
  return {
    destroy() {
      destroyed = true;
    },
  };
}

function targetNote(s, metric, format) {
  const target = (s.configured && s.configured.targets ? s.configured.targets : {})[metric];
  if (target === null || target === undefined) return null;
  const above = (s.usage.above_target || {})[metric];
  const shown = sourced("configured", format(target));
  return above === null || above === undefined ? tParts("report.usage.target", { target: shown }) : tParts("report.usage.targetAbove", { target: shown, above: sourced("measured", fmt.percent(above)) });
}

function limitsNote(s) {
  const c = s.configured || {};
  if (!c.autoscaling) return null;
  const minutes = (n) => sourced("measured", fmt.duration((n || 0) * 60));
  return tParts("report.usage.atLimits", { max: sourced("configured", fmt.int(c.ceiling)), atMax: minutes(s.usage.minutes_at_max), min: sourced("configured", fmt.int(c.min_replicas)), atMin: minutes(s.usage.minutes_at_min) });
}

/** The minutes over the built-in alerts' critical thresholds, when there was something to count. */
function sloLine(s) {
  const c = s.configured || {};
  const u = s.usage;
  const parts = [];
  if (typeof u.slow_minutes === "number" && typeof c.latency_slo_seconds === "number") {
    parts.push(...tParts("report.slo.latency", { slo: sourced("configured", fmt.seconds(c.latency_slo_seconds)), minutes: sourced("measured", fmt.int(u.slow_minutes)), atMax: fmt.int(u.slow_at_max) }));
  }
  if (typeof u.failing_minutes === "number" && typeof c.error_slo_ratio === "number") {
    if (parts.length) parts.push(" · ");
    parts.push(...tParts("report.slo.errors", { slo: sourced("configured", fmt.percent(c.error_slo_ratio)), minutes: sourced("measured", fmt.int(u.failing_minutes)) }));
  }
  return parts.length ? h("p", { class: "hint wrap", "data-testid": "report-slo" }, `${t("report.slo")} `, ...parts) : null;
}

function configuredText(c) {
  if (c.autoscaling) return t("report.configured.autoscaling", { min: fmt.int(c.min_replicas), max: fmt.int(c.ceiling) });
  if (c.ceiling !== null && c.ceiling !== undefined) return t("report.configured.fixed", { count: fmt.int(c.ceiling) });
  return t("report.configured.none");
}

function headroomText(room, capacity) {
  if (room.peak_rps === null || room.peak_rps === undefined) return [t("report.headroom.none")];
  const params = { peak: sourced("measured", fmt.rps(room.peak_rps)), time: fmt.dateTime(room.peak_at_ms, { seconds: false }), ready: sourced("measured", fmt.num(room.ready_at_peak, 1)), ceiling: sourced("configured", fmt.int(room.ceiling)), room: fmt.num(room.replica_headroom, 2) };
  let key = "report.headroom.peak";
  if (room.replica_headroom !== null && room.replica_headroom !== undefined) key = room.replica_headroom > 1 ? "report.headroom.replicas" : "report.headroom.atCeiling";
  const out = tParts(key, params);
  if (room.capacity_rps !== null && room.capacity_rps !== undefined) {
    const from = capacity && capacity.source ? capacity.source : "";
    out.push(" ", ...tParts("report.headroom.capacity", { replicaRps: sourced("configured", fmt.rps(room.replica_rps), from), capacity: sourced("configured", fmt.rps(room.capacity_rps), from), growth: fmt.num(room.growth, 2) }));
  }
  return out;
}

function recommendation(r) {
  const sources = r.source ? r.source.split(" and ") : [];
  return h(
    "li",
    { class: "rec", "data-testid": "report-recommendation", "data-kind": r.kind, "data-source": r.source || null },
    h(
      "div",
      { class: "rec-head" },
      h("span", { class: "tag", "data-testid": "rec-kind", text: tOr(`report.rec.kind.${r.kind}`, r.kind) }),
      sources.length ? h("span", { class: "rec-source", "data-testid": "rec-source", title: sources.map((x) => sourceTitle(x)).join(" · ") }, sources.map((x) => h("span", { class: "legend-item" }, sourceMark(x), tOr(`source.${x}`, x)))) : null,
    ),
    h("p", { class: "rec-text wrap", "data-testid": "rec-text" }, localized(r, "text")),
    h("p", { class: "hint wrap", "data-testid": "rec-evidence" }, `${t("report.rec.evidence")} `, localized(r, "evidence")),
  );
}

/** A recommendation's ``text`` or ``evidence`` in the page's language when the catalog
 * has its ``key``, its figures written the reader's way; else the server's English. */
function localized(r, part) {
  const key = r.key ? `report.rec.${part}.${r.key}` : "";
  if (!key || tOr(key, null) === null) return h("span", { lang: "en", text: r[part] });
  return h("span", { text: t(key, shownParams(r)) });
}

// Parameters that are percentages (0–100) in each kind of recommendation.
const PERCENT_PARAMS = { raise_max_replicas: ["share"], saturated: ["p95", "max"], lower_min_replicas: ["share", "p95", "target"] };

function shownParams(r) {
  const p = r.params || {};
  const out = {};
  for (const [k, v] of Object.entries(p)) out[k] = typeof v === "number" ? fmt.num(v, Number.isInteger(v) ? 0 : 1) : String(v);
  for (const k of PERCENT_PARAMS[r.kind] || []) if (typeof p[k] === "number") out[k] = fmt.percent(p[k] / 100);
  if (typeof p.change === "number") out.change = `${p.change > 0 ? "+" : ""}${fmt.num(p.change, 0)}`;
  if (r.kind === "rightsize_cpu") for (const k of ["current", "recommended"]) out[k] = fmt.cores(p[k]);
  if (r.kind === "rightsize_memory") for (const k of ["current", "recommended"]) out[k] = fmt.bytes(p[k]);
  if (r.kind === "saturated") out.cores = fmt.cores(p.cores);
  return out;
}

/** One service's usage, headroom and recommendations (``GET /api/v1/report``'s new keys). */
function detail(s) {
  const u = s.usage;
  const recs = s.recommendations || [];
  const col = (k) => t(`report.usage.col.${k}`);
  return h(
    "section",
    { class: "section report-detail", "data-testid": "report-detail", "data-service": s.service },
    h("h2", { text: t("report.detail", { service: s.service }) }),
    s.configured ? h("p", { class: "hint", "data-testid": "report-configured" }, sourceMark("configured"), configuredText(s.configured)) : null,
    h("h3", { text: t("report.usage") }),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table stack", "data-testid": "report-usage" },
        h("thead", {}, h("tr", {}, ["figure", "mean", "p95", "max", "note"].map((k) => h("th", { scope: "col", text: col(k) })))),
        h(
          "tbody",
          {},
          USAGE.map(([key, field, format, note]) => {
            const st = u[field];
            const cells = st
              ? ["mean", "p95", "max"].map((k) => h("td", { "data-label": col(k), "data-testid": `usage-${k}` }, sourced("measured", format(st[k]))))
              : [h("td", { colspan: "3", class: "muted", "data-label": col("mean"), "data-testid": "usage-none", text: t("report.usage.noData") })];
            return h("tr", { "data-testid": "usage-row", "data-figure": key }, h("td", { class: "usage-figure", "data-label": col("figure"), text: t(`report.usage.${key}`) }), cells, h("td", { "data-label": col("note"), class: "wrap", "data-testid": "usage-note" }, h("span", {}, note(s))));
          }),
        ),
      ),
    ),
    h("p", { class: "hint" }, sourceMark("measured"), t("report.usage.covered", { minutes: fmt.duration((u.covered_minutes || 0) * 60) })),
    sloLine(s),
    h("h3", { text: t("report.headroom") }),
    h("p", { class: "wrap", "data-testid": "report-headroom" }, s.headroom ? headroomText(s.headroom, s.capacity) : t("report.headroom.none")),
    h("h3", {}, t("report.recommendations"), " ", h("span", { class: "count-pill", text: fmt.int(recs.length) })),
    recs.length ? h("ul", { class: "recs", "data-testid": "report-recommendations" }, recs.map(recommendation)) : h("p", { class: "muted", "data-testid": "report-no-recommendations", text: t("report.noRecommendations") }),
    h("p", { class: "hint", "data-testid": "report-projections" }, tParts("report.projections", { command: h("code", { text: "scalepilot report" }) })),
  );
}
