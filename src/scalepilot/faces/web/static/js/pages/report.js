// #/report : the scaling report for a range (and optionally one service), with JSON and
// CSV downloads. A plain link cannot carry the token, so downloads are fetched and
// handed to the browser as a Blob URL.

import { ApiError, get, qs, request } from "../api.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { t, tOr } from "../i18n.js";
import * as live from "../stream.js";
import { errorText, markReady, notice, rangeOptions, routeMissing, select, sourceMark, sourceTitle } from "../widgets.js";

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

export function mount(root, { params }) {
  document.title = `${t("nav.report")} · scalepilot`;
  const state = { range: params.range || "24h", service: params.service || "" };
  const names = new Set((live.overview() ? live.overview().services : []).map((s) => s.name));
  if (state.service) names.add(state.service);
  const rangeSelect = select(rangeOptions(), state.range, { "data-testid": "report-range" });
  const serviceSelect = select([["", t("events.allServices")], ...[...names].sort().map((n) => [n, n])], state.service, { "data-testid": "report-service" });
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const jsonButton = h("button", { type: "button", class: "button", "data-testid": "download-json", text: t("report.downloadJson"), onclick: (e) => download("json", e.currentTarget) });
  const csvButton = h("button", { type: "button", class: "button", "data-testid": "download-csv", text: t("report.downloadCsv"), onclick: (e) => download("csv", e.currentTarget) });
  const form = h(
    "form",
    { class: "filters card" },
    h("label", {}, h("span", { text: t("report.range") }), rangeSelect),
    h("label", {}, h("span", { text: t("events.service") }), serviceSelect),
    h("div", { class: "actions" }, jsonButton, csvButton),
  );
  const body = h("div", { class: "report-body", "aria-busy": "true" });
  replace(root, h("div", { class: "page-head" }, h("h1", { text: t("nav.report") })), form, messages, body);
  let destroyed = false;

  function onChange() {
    state.range = rangeSelect.value;
    state.service = serviceSelect.value;
    history.replaceState(null, "", `#/report${qs(state)}`);
    load();
  }
  rangeSelect.addEventListener("change", onChange);
  serviceSelect.addEventListener("change", onChange);
  form.addEventListener("submit", (e) => e.preventDefault());

  async function load() {
    body.setAttribute("aria-busy", "true");
    try {
      const report = await get(`/api/v1/report${qs({ range: state.range, service: state.service, format: "json" })}`);
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
            h("thead", {}, h("tr", {}, SUMMARY.map(([k]) => h("th", { scope: "col", text: t(`report.col.${k}`) })))),
            h("tbody", {}, services.map((s) => h("tr", { "data-testid": "report-row" }, SUMMARY.map(([k, f]) => h("td", { "data-label": t(`report.col.${k}`) }, f(s)))))),
          ),
        ),
        r.sources && r.sources.replica_hours ? h("p", { class: "hint" }, sourceMark("measured"), " ", t("report.replicaHoursSource")) : null,
      ),
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
    try {
      const res = await request(`/api/v1/report${qs({ range: state.range, service: state.service, format })}`, { accept: format === "csv" ? "text/csv" : "application/json" });
      const blob = await res.blob();
      const disposition = res.headers.get("Content-Disposition") || "";
      const match = /filename="?([^";]+)"?/.exec(disposition);
      const name = match ? match[1] : `scalepilot-report-${state.range}.${format}`;
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name.endsWith(`.${format}`) ? name : `${name}.${format}`, class: "visually-hidden" });
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
