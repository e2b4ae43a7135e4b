// #/ : every service at a glance, updated in place from the live overview.

import { h, replace, setAttr, setText } from "../dom.js";
import * as fmt from "../format.js";
import { t, tOr } from "../i18n.js";
import * as live from "../stream.js";
import { FIGURES, errorText, figure, markReady, notice, sourceLegend, sourceMark, sourceTitle, statusBadge, updateStatus } from "../widgets.js";

const COLUMNS = [
  ["service", "overview.col.service"],
  ["status", "overview.col.status"],
  ["replicas", "overview.col.replicas"],
  ["load", "overview.col.load"],
  ["p95", "overview.col.p95"],
  ["errors", "overview.col.errors"],
  ["cpu", "overview.col.cpu"],
  ["memory", "overview.col.memory"],
  ["alerts", "overview.col.alerts"],
];
const COUNTS = ["healthy", "degraded", "down", "unknown"];

export function mount(root) {
  document.title = `${t("nav.overview")} · scalepilot`;
  const counts = {};
  const countBar = h(
    "ul",
    { class: "counts", "data-testid": "counts" },
    COUNTS.map((k) => {
      counts[k] = h("span", { class: "count-value", "data-testid": `count-${k}`, text: "–" });
      return h("li", { class: `count count-${k}` }, counts[k], h("span", { class: "count-label", text: t(`status.${k}`) }));
    }),
    h("li", { class: "count count-alerts" }, (counts.alerts = h("span", { class: "count-value", "data-testid": "count-alerts", text: "–" })), h("span", { class: "count-label", text: t("overview.alertsFiring") })),
  );
  const updated = h("span", { class: "muted", "data-testid": "updated" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "table stack overview-table", "data-testid": "services-table" },
    h("caption", { class: "visually-hidden", text: t("overview.caption") }),
    h("thead", {}, h("tr", {}, COLUMNS.map(([key, label]) => h("th", { scope: "col", class: `col-${key}`, text: t(label) })))),
    body,
  );
  const holder = h("div", { class: "table-wrap" }, h("p", { class: "muted", text: t("common.loading") }));
  replace(
    root,
    h("div", { class: "page-head" }, h("h1", { text: t("nav.overview") }), updated),
    countBar,
    sourceLegend(),
    holder,
  );

  const rows = new Map();
  let shown = false;

  function render(ov) {
    if (!ov) return;
    for (const k of COUNTS) setText(counts[k], fmt.int(ov.counts ? ov.counts[k] : null));
    const firing = ov.alerts ? ov.alerts.firing : (ov.services || []).reduce((n, s) => n + (s.alerts_firing || []).length, 0);
    setText(counts.alerts, fmt.int(firing));
    setText(updated, t("overview.updated", { time: fmt.time(ov.generated_at_ms) }));
    const services = ov.services || [];
    if (!services.length) {
      replace(holder, notice(t("overview.empty"), "info", "no-services"));
      shown = false;
      rows.clear();
      markReady();
      return;
    }
    if (!shown) {
      replace(holder, table);
      shown = true;
    }
    const seen = new Set();
    services.forEach((s, i) => {
      seen.add(s.name);
      let row = rows.get(s.name);
      if (!row) {
        row = makeRow(s.name);
        rows.set(s.name, row);
      }
      if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] || null);
      row.update(s);
    });
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    markReady();
  }

  const off = live.onOverview(render);
  if (live.overview()) render(live.overview());
  else
    live.fetchOverview().then(render, (err) => {
      if (err && err.status !== 401) replace(holder, notice(errorText(err), "error"));
    });
  return { destroy: off };
}

function cell(key, ...children) {
  const label = COLUMNS.find(([k]) => k === key)[1];
  return h("td", { class: `col-${key}`, "data-label": t(label) }, children);
}

function makeRow(name) {
  const link = h("a", { href: `#/service/${encodeURIComponent(name)}`, class: "service-link", "data-testid": "service-link", text: name });
  const labels = h("span", { class: "labels" });
  const status = statusBadge("unknown");
  const paused = h("span", { class: "tag tag-warn", "data-testid": "paused", text: t("service.paused") });
  const desired = h("span", { "data-testid": "replicas-desired" });
  const ready = h("span", { "data-testid": "replicas-ready" });
  const range = h("span", { class: "fig-sub", "data-testid": "replicas-range", "data-source": "configured", title: sourceTitle("configured") });
  const replicas = h(
    "span",
    { class: "replicas" },
    h("span", { class: "fig", "data-source": "measured", title: `${t("overview.replicasTitle")} · ${t("source.measured")}` }, desired, h("span", { class: "sep", text: " / " }), ready, sourceMark("measured")),
    range,
  );
  const figs = {
    load: figure("figure-load"),
    forecast: figure("figure-forecast"),
    p95: figure("figure-p95"),
    errors: figure("figure-errors"),
    cpu: figure("figure-cpu"),
    memory: figure("figure-memory"),
  };
  const forecastLine = h("span", { class: "fig-sub" }, h("span", { class: "muted", text: `${t("overview.forecast")} ` }), figs.forecast.el);
  const alerts = h("span", { class: "alert-count", "data-testid": "alerts-firing" });
  const tr = h(
    "tr",
    { "data-testid": "service-row", "data-service": name },
    cell("service", h("span", { class: "service-name" }, link, labels)),
    cell("status", h("span", { class: "status-cell" }, status, paused)),
    cell("replicas", replicas),
    cell("load", figs.load.el, forecastLine),
    cell("p95", figs.p95.el),
    cell("errors", figs.errors.el),
    cell("cpu", figs.cpu.el),
    cell("memory", figs.memory.el),
    cell("alerts", alerts),
  );
  return {
    tr,
    update(s) {
      const text = Object.entries(s.labels || {}).map(([k, v]) => `${k}=${v}`).join(" ");
      setText(labels, text);
      labels.hidden = !text;
      updateStatus(status, s.status, s.status_details || s.status_reasons);
      tr.dataset.status = s.status;
      const a = s.autoscaling;
      paused.hidden = !(a && a.paused);
      const r = s.replicas;
      setText(desired, r ? fmt.int(r.desired) : fmt.DASH);
      setText(ready, r ? fmt.int(r.ready) : fmt.DASH);
      replicas.hidden = false;
      if (r && r.min !== null && r.min !== undefined) {
        range.hidden = false;
        replace(range, sourceMark("configured"), t("overview.range", { min: fmt.int(r.min), max: fmt.int(r.max) }));
      } else {
        range.hidden = !!r;
        replace(range, r ? "" : t("overview.watchOnly"));
      }
      const f = s.figures || {};
      figs.load.update(f.load_rps, FIGURES.load_rps);
      forecastLine.hidden = !f.forecast_rps;
      if (f.forecast_rps) figs.forecast.update(f.forecast_rps, FIGURES.forecast_rps);
      figs.p95.update(f.latency_p95_seconds, FIGURES.latency_p95_seconds);
      figs.errors.update(f.error_ratio, FIGURES.error_ratio);
      figs.cpu.update(f.cpu_cores, FIGURES.cpu_cores);
      figs.memory.update(f.memory_bytes, FIGURES.memory_bytes);
      const firing = s.alerts_firing || [];
      setText(alerts, firing.length ? fmt.int(firing.length) : t("overview.noAlerts"));
      alerts.className = firing.length ? "alert-count alert-count-on" : "alert-count";
      setAttr(alerts, "title", firing.length ? firing.map((x) => `${x.alertname} (${tOr(`severity.${x.severity}`, x.severity || "")}) ${x.summary || ""}`.trim()).join("\n") : null);
    },
  };
}
