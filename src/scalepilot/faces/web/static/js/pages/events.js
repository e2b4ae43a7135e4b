// #/events : the event log, newest first, filtered by service, kind and time window;
// new events arrive from the live stream.

import { ApiError, get, qs } from "../api.js";
import { h, replace } from "../dom.js";
import { eventText } from "../events_text.js";
import * as fmt from "../format.js";
import { t, tOr } from "../i18n.js";
import * as live from "../stream.js";
import { errorText, markReady, notice, rangeOptions, routeMissing, select } from "../widgets.js";

const LIMIT = 200;

export function mount(root, { params }) {
  document.title = `${t("nav.events")} · scalepilot`;
  const filters = { service: params.service || "", kind: params.kind || "", since: params.since || "1h" };
  const services = new Set((live.overview() ? live.overview().services : []).map((s) => s.name));
  if (filters.service) services.add(filters.service);
  const serviceSelect = select([["", t("events.allServices")], ...[...services].sort().map((s) => [s, s])], filters.service, { "data-testid": "filter-service" });
  const kindSelect = select([["", t("events.allKinds")]], filters.kind, { "data-testid": "filter-kind" });
  const sinceSelect = select(rangeOptions(), filters.since, { "data-testid": "filter-since" });
  const list = h("ol", { class: "timeline", "data-testid": "events-list", "aria-live": "polite", "aria-relevant": "additions" });
  const status = h("div", { class: "events-status" });
  const form = h(
    "form",
    { class: "filters card", role: "search", "aria-label": t("events.filters") },
    h("label", {}, h("span", { text: t("events.service") }), serviceSelect),
    h("label", {}, h("span", { text: t("events.kind") }), kindSelect),
    h("label", {}, h("span", { text: t("events.since") }), sinceSelect),
  );
  replace(root, h("div", { class: "page-head" }, h("h1", { text: t("nav.events") })), form, status, list);

  let destroyed = false;
  let loaded = false;
  const seen = new Set();

  get("/api/v1/events/kinds").then(
    (kinds) => {
      const names = (Array.isArray(kinds) ? kinds : kinds.kinds || []).map((k) => (typeof k === "string" ? k : k.kind || k.name));
      for (const k of names) kindSelect.append(h("option", { value: k, text: tOr(`kind.${k}`, k) }));
      kindSelect.value = filters.kind;
    },
    () => {},
  );

  function onChange() {
    filters.service = serviceSelect.value;
    filters.kind = kindSelect.value;
    filters.since = sinceSelect.value;
    history.replaceState(null, "", `#/events${qs(filters)}`);
    load();
  }
  for (const el of [serviceSelect, kindSelect, sinceSelect]) el.addEventListener("change", onChange);

  function item(e) {
    const details = e.details || {};
    const actor = details.actor;
    return h(
      "li",
      { class: `event kind-${e.kind}`, "data-testid": "event-row", "data-kind": e.kind, "data-id": e.id ?? "" },
      h("time", { datetime: e.time || new Date(e.timestamp_ms).toISOString(), title: fmt.dateTime(e.timestamp_ms), class: "event-time" }, h("span", { text: fmt.time(e.timestamp_ms) }), h("span", { class: "muted", text: fmt.relative(e.timestamp_ms) })),
      h(
        "div",
        { class: "event-body" },
        h("div", { class: "event-head" }, h("span", { class: "tag kind", text: tOr(`kind.${e.kind}`, e.kind) }), e.service ? h("a", { href: `#/service/${encodeURIComponent(e.service)}`, text: e.service }) : null, actor ? h("span", { class: "muted", text: t("chart.actor", { actor }) }) : null),
        h("p", { class: "event-message", text: eventText(e) }),
      ),
    );
  }

  async function load() {
    const since = filters.since;
    list.setAttribute("aria-busy", "true");
    try {
      const events = await get(`/api/v1/events${qs({ service: filters.service, kind: filters.kind, since, limit: LIMIT })}`);
      if (destroyed) return;
      seen.clear();
      for (const e of events) seen.add(e.id ?? `${e.timestamp_ms}${e.kind}${e.message}`);
      replace(status, events.length ? null : notice(t("events.none"), "info", "events-empty"));
      replace(list, events.map(item));
      loaded = true;
    } catch (err) {
      if (destroyed) return;
      if (err instanceof ApiError && err.status === 401) return;
      replace(status, notice(routeMissing(err) ? t("events.missing") : errorText(err), routeMissing(err) ? "info" : "error", "events-error"));
      replace(list);
    } finally {
      list.removeAttribute("aria-busy");
      markReady();
    }
  }

  const off = live.onEvent((e) => {
    if (!loaded) return;
    if (filters.service && e.service !== filters.service) return;
    if (filters.kind && e.kind !== filters.kind) return;
    const key = e.id ?? `${e.timestamp_ms}${e.kind}${e.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    status.replaceChildren();
    list.prepend(item(e));
    while (list.children.length > LIMIT) list.lastChild.remove();
  });
  // Without the stream (a server that only answers polls) reload with each overview.
  const offPoll = live.onOverview(() => {
    if (live.connection() === "polling" && loaded) load();
  });
  load();
  return {
    destroy() {
      destroyed = true;
      off();
      offPoll();
    },
  };
}
