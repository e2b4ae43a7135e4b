// #/alerts : firing, pending and silenced alerts; acknowledge and silence (operators);
// the silences with expire. Without alerting configured the API answers 409: say so.

import { ApiError, del, get, post } from "../api.js";
import { errorBox, field, openDialog } from "../dialog.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { t, tOr } from "../i18n.js";
import * as live from "../stream.js";
import { errorText, markReady, notice, select } from "../widgets.js";

const REFRESH_MS = 10000;
const SECTIONS = [
  ["firing", "alerts.firing"],
  ["pending", "alerts.pending"],
  ["suppressed", "alerts.suppressed"],
];

export function mount(root, { canOperate, session }) {
  document.title = `${t("nav.alerts")} · scalepilot`;
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const body = h("div", { class: "alerts-body", "aria-busy": "true" }, h("p", { class: "muted", text: t("common.loading") }));
  replace(root, h("div", { class: "page-head" }, h("h1", { text: t("nav.alerts") })), messages, body);
  let destroyed = false;
  let timer = null;

  const say = (text, kind = "info") => replace(messages, notice(text, kind, kind === "error" ? "page-error" : "page-message"));

  function showOff() {
    replace(body, h("div", { class: "card empty", "data-testid": "alerting-off" }, h("h2", { text: t("alerts.offTitle") }), h("p", { text: t("alerts.offText") }), h("pre", { class: "code", text: "alerting:\n  route: {receiver: team}\n  receivers:\n    - name: team\n      webhook_configs: [{url: 'http://…'}]" })));
  }

  async function load() {
    clearTimeout(timer);
    if (session && session.alerting === false) {
      // whoami said so: no request that would only answer 409 (and log a console error).
      showOff();
      body.removeAttribute("aria-busy");
      markReady();
      return;
    }
    try {
      const [alerts, silences] = await Promise.all([get("/api/v1/alerts"), get("/api/v1/silences")]);
      if (destroyed) return;
      render(alerts, silences);
    } catch (err) {
      if (destroyed) return;
      if (err instanceof ApiError && err.status === 409) {
        showOff();
      } else if (!(err instanceof ApiError && err.status === 401)) {
        replace(body, notice(errorText(err), "error", "page-error"));
      }
    } finally {
      body.removeAttribute("aria-busy");
      markReady();
    }
    if (!destroyed) timer = setTimeout(load, REFRESH_MS);
  }

  function render(alerts, silences) {
    const sections = SECTIONS.map(([state, label]) => {
      const items = alerts.filter((a) => a.state === state);
      return h(
        "section",
        { class: `section alerts-${state}`, "data-testid": `alerts-${state}` },
        h("h2", {}, t(label), " ", h("span", { class: "count-pill", text: fmt.int(items.length) })),
        items.length ? h("ul", { class: "alert-list" }, items.map(alertItem)) : h("p", { class: "muted", text: t("alerts.none") }),
      );
    });
    const silenceList = h(
      "section",
      { class: "section", "data-testid": "silences" },
      h("div", { class: "section-head" }, h("h2", { text: t("alerts.silences") }), canOperate ? h("button", { type: "button", class: "button", "data-testid": "new-silence", text: t("alerts.newSilence"), onclick: () => openSilence([]) }) : null),
      silences.length ? h("ul", { class: "alert-list" }, silences.map(silenceItem)) : h("p", { class: "muted", text: t("alerts.noSilences") }),
    );
    replace(body, sections, silenceList);
  }

  function alertItem(a) {
    const severity = a.labels.severity;
    const summary = a.annotations.summary || a.annotations.description || "";
    const labels = Object.entries(a.labels).filter(([k]) => k !== "alertname");
    const actions = [];
    if (canOperate && a.state === "firing" && !a.acknowledged) actions.push(h("button", { type: "button", class: "button small", "data-testid": "ack-button", text: t("alerts.ack"), onclick: (e) => ack(a, e.currentTarget) }));
    if (canOperate && a.state !== "suppressed") actions.push(h("button", { type: "button", class: "button small", "data-testid": "silence-button", text: t("alerts.silence"), onclick: () => openSilence(matchersFor(a)) }));
    return h(
      "li",
      { class: `card alert-item severity-${severity || "none"}`, "data-testid": "alert-item", "data-fingerprint": a.fingerprint },
      h(
        "div",
        { class: "alert-head" },
        h("strong", { class: "alert-name", text: a.name }),
        severity ? h("span", { class: `tag severity severity-${severity}`, text: tOr(`severity.${severity}`, severity) }) : null,
        h("span", { class: "muted", title: fmt.dateTime(fmt.isoMs(a.starts_at)), text: t("alerts.since", { age: fmt.duration(a.age_seconds) }) }),
        a.value !== null && a.value !== undefined ? h("span", { class: "muted", text: t("alerts.value", { value: fmt.num(a.value, 3) }) }) : null,
      ),
      summary ? h("p", { text: summary }) : null,
      h("p", { class: "label-list" }, labels.map(([k, v]) => h("code", { class: "label", text: `${k}="${v}"` }))),
      a.acknowledged ? h("p", { class: "muted", "data-testid": "acked", text: t("alerts.acked", { by: a.acknowledged.by, time: fmt.dateTime(fmt.isoMs(a.acknowledged.at)) }) }) : null,
      a.silenced_by && a.silenced_by.length ? h("p", { class: "muted", text: t("alerts.silencedBy", { ids: a.silenced_by.join(", ") }) }) : null,
      a.maintenance_window ? h("p", { class: "muted", text: t("alerts.window", { name: a.maintenance_window }) }) : null,
      actions.length ? h("div", { class: "actions" }, actions) : null,
    );
  }

  function silenceItem(s) {
    return h(
      "li",
      { class: "card alert-item", "data-testid": "silence-item" },
      h("div", { class: "alert-head" }, h("strong", { text: s.id }), h("span", { class: "tag", text: tOr(`silenceState.${s.state}`, s.state) }), h("span", { class: "muted", text: s.ends_at ? t("alerts.until", { time: fmt.dateTime(fmt.isoMs(s.ends_at)) }) : t("alerts.untilResolved") })),
      h("p", { class: "label-list" }, s.matchers.map((m) => h("code", { class: "label", text: m }))),
      h("p", { class: "muted", text: [t("alerts.by", { by: s.created_by }), s.comment].filter(Boolean).join(" · ") }),
      canOperate && s.state !== "expired" ? h("div", { class: "actions" }, h("button", { type: "button", class: "button small", "data-testid": "expire-button", text: t("alerts.expire"), onclick: (e) => expire(s, e.currentTarget) })) : null,
    );
  }

  async function ack(a, button) {
    button.disabled = true;
    try {
      await post("/api/v1/alerts/ack", { fingerprints: [a.fingerprint], by: "dashboard" });
      say(t("alerts.ackDone", { name: a.name }));
      load();
    } catch (err) {
      button.disabled = false;
      say(errorText(err), "error");
    }
  }

  async function expire(s, button) {
    button.disabled = true;
    try {
      await del(`/api/v1/silences/${encodeURIComponent(s.id)}?by=dashboard`);
      say(t("alerts.expired", { id: s.id }));
      load();
    } catch (err) {
      button.disabled = false;
      say(errorText(err), "error");
    }
  }

  function openSilence(matchers) {
    const text = h("textarea", { rows: "3", required: true, spellcheck: "false", "data-testid": "silence-matchers", autofocus: true, value: matchers.join("\n") });
    const duration = select(["1h", "2h", "6h", "24h", "7d"].map((d) => [d, t(`range.${d}`)]), "2h", { "data-testid": "silence-duration" });
    const comment = h("input", { type: "text", maxlength: "500", "data-testid": "silence-comment" });
    const error = errorBox("silence-error");
    const submit = h("button", { type: "submit", class: "button primary", "data-testid": "silence-confirm", text: t("alerts.silence") });
    const form = h(
      "form",
      { class: "form" },
      field(t("alerts.matchers"), text, t("alerts.matchersHint")),
      field(t("alerts.duration"), duration),
      field(t("alerts.comment"), comment),
      error.el,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button", text: t("action.cancel"), onclick: () => dialog.close() }), submit),
    );
    const dialog = openDialog({ title: t("alerts.silenceTitle"), content: form, testid: "silence-dialog" });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const lines = text.value.split("\n").map((x) => x.trim()).filter(Boolean);
      if (!lines.length) return text.focus();
      submit.disabled = true;
      try {
        const s = await post("/api/v1/silences", { matchers: lines, duration: duration.value, comment: comment.value, created_by: "dashboard" });
        dialog.close();
        say(t("alerts.silenced", { id: s.id }));
        load();
      } catch (err) {
        submit.disabled = false;
        error.show(errorText(err));
      }
    });
  }

  const off = live.onOverview(() => {});
  load();
  return {
    destroy() {
      destroyed = true;
      clearTimeout(timer);
      off();
    },
  };
}

function matchersFor(a) {
  const out = [`alertname="${a.name}"`];
  if (a.labels.service) out.push(`service="${a.labels.service}"`);
  return out;
}
