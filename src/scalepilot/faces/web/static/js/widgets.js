// Pieces several pages share: status badges, figures with their source, small notices.

import { h, setAttr, setText } from "./dom.js";
import * as fmt from "./format.js";
import { t, tOr } from "./i18n.js";

export const FIGURES = {
  load_rps: fmt.rps,
  forecast_rps: fmt.rps,
  latency_p95_seconds: fmt.seconds,
  error_ratio: fmt.percent,
  cpu_cores: fmt.cores,
  memory_bytes: fmt.bytes,
};

export function markReady() {
  if (document.documentElement.dataset.ready !== "1") document.documentElement.dataset.ready = "1";
}

export const statusLabel = (status) => tOr(`status.${status}`, status);

export function statusBadge(status, reasons = []) {
  const el = h("span", { class: "status", "data-testid": "status" }, h("span", { class: "status-dot", "aria-hidden": "true" }), h("span", { class: "status-text" }));
  updateStatus(el, status, reasons);
  return el;
}

export function updateStatus(el, status, reasons = []) {
  el.className = `status status-${status}`;
  el.dataset.status = status;
  setText(el.querySelector(".status-text"), statusLabel(status));
  const lines = (reasons || []).map(reasonText);
  setAttr(el, "title", lines.length ? lines.join("\n") : statusLabel(status));
}

/** A status reason in the reader's language: the server sends a catalog key and its
 * numbers (``status_details``); an English string is shown as it is. */
export function reasonText(reason) {
  if (typeof reason === "string") return reason;
  const { key, ...params } = reason;
  for (const name of ["ready", "desired", "down", "total"]) if (name in params) params[name] = fmt.int(params[name]);
  return t(`status.reason.${key}`, params);
}

/** A source marker: ● measured, ◆ forecast, ○ configured (drawn by CSS). */
export function sourceMark(source) {
  return h("span", { class: `src src-${source}`, "aria-hidden": "true" });
}

export function sourceTitle(source, query) {
  const name = tOr(`source.${source}`, source);
  return query ? `${name} · ${query}` : name;
}

/** ``content`` (text, a node, or a list of them) marked with where it comes from
 * (measured, configured, simulated…), for sight and for screen readers; ``detail`` adds
 * to the source's name in the tooltip. */
export function sourced(source, content, detail) {
  return h("span", { class: "fig", "data-source": source, title: sourceTitle(source, detail) }, content, sourceMark(source), h("span", { class: "visually-hidden", text: ` (${tOr(`source.${source}`, source)})` }));
}

/** A figure: its value and its source marker, the query in the tooltip. */
export function figure(testid) {
  const value = h("span", { class: "fig-value" });
  const mark = h("span", { class: "src" , "aria-hidden": "true" });
  const sr = h("span", { class: "visually-hidden" });
  const el = h("span", { class: "fig", "data-testid": testid }, value, mark, sr);
  return {
    el,
    update(fig, format) {
      const source = (fig && fig.source) || "measured";
      setText(value, format(fig ? fig.value : null));
      mark.className = `src src-${source}`;
      setText(sr, ` (${tOr(`source.${source}`, source)})`);
      el.dataset.source = source;
      setAttr(el, "title", sourceTitle(source, fig && fig.query));
      el.classList.toggle("fig-missing", !fig || fig.value === null || fig.value === undefined);
    },
  };
}

export function sourceLegend() {
  return h(
    "p",
    { class: "legend", "data-testid": "source-legend" },
    h("span", { class: "legend-title", text: t("source.legend") }),
    ...["measured", "forecast", "configured"].map((s) => h("span", { class: "legend-item", title: t(`source.${s}.hint`) }, sourceMark(s), t(`source.${s}`))),
  );
}

export function notice(text, kind = "info", testid = "notice") {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null, "data-testid": testid, text });
}

/** A 404 from FastAPI's router itself: this server has no such endpoint (an older one). */
export const routeMissing = (err) => Boolean(err && err.status === 404 && err.detail === "Not Found");

export function errorText(err) {
  if (!err) return "";
  if (err.status === 0) return t("error.network", { detail: err.detail });
  if (err.status === 403) return t("error.forbidden", { detail: err.detail });
  if (err.status) return t("error.http", { status: err.status, detail: err.detail });
  return String(err.message || err);
}

/** A select with [value, label] options. */
export function select(options, value, attrs = {}) {
  const el = h("select", attrs, options.map(([v, label]) => h("option", { value: v, text: label })));
  el.value = value;
  return el;
}

export function rangeOptions() {
  return ["15m", "1h", "6h", "24h", "7d"].map((r) => [r, t(`range.${r}`)]);
}
