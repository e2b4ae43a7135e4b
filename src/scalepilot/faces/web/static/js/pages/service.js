// #/service/NAME : charts over a range with the scaling decisions marked, the replica
// table, the health-check modal, a local target's rollout, and (for operators) scale,
// pause and resume, and promote / pause / resume / abort / retry of the rollout.

import { ApiError, get, post, qs } from "../api.js";
import { chart, tickFormat } from "../charts.js";
import { errorBox, field, openDialog } from "../dialog.js";
import { clear, h, replace, setText } from "../dom.js";
import * as fmt from "../format.js";
import { t, tOr, tParts } from "../i18n.js";
import * as live from "../stream.js";
import { FIGURES, errorText, routeMissing, figure, markReady, notice, rangeOptions, sourceMark, sourced, statusBadge, updateStatus } from "../widgets.js";

const CHART_REFRESH_MS = 15000;

export function mount(root, { params, canOperate }) {
  const name = params.name;
  let range = rangeOptions().some(([r]) => r === params.range) ? params.range : "1h";
  document.title = `${name} · scalepilot`;
  const base = `/api/v1/services/${encodeURIComponent(name)}`;
  let describe = null;
  let charts = [];
  let lastCharts = 0;
  let destroyed = false;
  // Answers are shown in the order they were asked for: a refresh sent before an action
  // does not undo the action's answer when it arrives after it.
  let issued = 0;
  let shown = 0;

  const status = statusBadge("unknown");
  const subtitle = h("p", { class: "muted subtitle", "data-testid": "service-subtitle" });
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const figs = {
    load: figure("figure-load"),
    p95: figure("figure-p95"),
    errors: figure("figure-errors"),
    cpu: figure("figure-cpu"),
    memory: figure("figure-memory"),
  };
  const desired = h("span", { "data-testid": "replicas-desired", text: fmt.DASH });
  const ready = h("span", { "data-testid": "replicas-ready", text: fmt.DASH });
  const limits = h("span", { class: "fig-sub", "data-testid": "replicas-range" });
  const stat = (label, ...value) => h("div", { class: "stat" }, h("dt", { text: label }), h("dd", {}, value));
  const stats = h(
    "dl",
    { class: "stats card" },
    stat(t("service.replicas"), h("span", { class: "fig", "data-source": "measured", title: t("source.measured") }, desired, " / ", ready, sourceMark("measured")), limits),
    stat(t("overview.col.load"), figs.load.el),
    stat(t("overview.col.p95"), figs.p95.el),
    stat(t("overview.col.errors"), figs.errors.el),
    stat(t("overview.col.cpu"), figs.cpu.el),
    stat(t("overview.col.memory"), figs.memory.el),
  );

  const scaleButton = h("button", { type: "button", class: "button primary", "data-testid": "scale-button", text: t("action.scale"), onclick: () => openScale() });
  const pauseButton = h("button", { type: "button", class: "button", "data-testid": "pause-button", text: t("action.pause"), onclick: () => openPause() });
  const resumeButton = h("button", { type: "button", class: "button", "data-testid": "resume-button", text: t("action.resume"), onclick: () => resume() });
  const healthButton = h("button", { type: "button", class: "button", "data-testid": "health-button", text: t("action.healthChecks"), onclick: () => openHealth() });
  pauseButton.hidden = resumeButton.hidden = true;
  const actions = h("div", { class: "actions" }, canOperate ? [scaleButton, pauseButton, resumeButton] : null, healthButton);

  // The rollout: its body is drawn again only when the rollout changed; the buttons stay
  // (shown when their action applies), so a refresh does not take a person's focus away.
  const rolloutTitle = h("h2", { id: "rollout-title", tabindex: "-1", text: t("rollout.title") });
  const rolloutBody = h("div", { class: "rollout-body" });
  const rolloutActions = [
    { action: "promote", label: t("rollout.action.promote"), hint: t("rollout.action.promoteHint"), phases: ["progressing", "paused"], primary: true },
    { action: "promote_full", label: t("rollout.action.promoteFull"), hint: t("rollout.action.promoteFullHint"), phases: ["progressing", "paused"] },
    { action: "pause", label: t("rollout.action.pause"), hint: t("rollout.action.pauseHint"), phases: ["progressing"] },
    { action: "resume", label: t("rollout.action.resume"), hint: t("rollout.action.resumeHint"), phases: ["paused"] },
    { action: "abort", label: t("rollout.action.abort"), hint: t("rollout.action.abortHint"), phases: ["progressing", "paused"] },
    { action: "retry", label: t("rollout.action.retry"), hint: t("rollout.action.retryHint"), phases: ["aborted"], primary: true },
  ].map((a) => {
    const el = h("button", {
      type: "button",
      class: a.primary ? "button primary" : "button",
      "data-testid": `rollout-${a.action.replace("_", "-")}`,
      text: a.label,
      title: a.hint,
      onclick: () => (a.action === "abort" ? confirmAbort() : rolloutAct(a.action)),
    });
    el.hidden = true;
    return { ...a, el };
  });
  const rolloutButtons = h("div", { class: "actions", role: "group", "aria-label": t("rollout.actions") }, rolloutActions.map((a) => a.el));
  const rolloutSection = h(
    "section",
    { class: "section rollout", "data-testid": "rollout", "aria-labelledby": rolloutTitle.id },
    h("div", { class: "section-head" }, rolloutTitle, canOperate ? rolloutButtons : null),
    rolloutBody,
  );
  rolloutSection.hidden = true;
  let rolloutShown = "";

  const rangeButtons = rangeOptions().map(([r, label]) =>
    h("button", { type: "button", class: "seg", "data-range": r, "data-testid": `range-${r}`, "aria-pressed": String(r === range), text: label, onclick: () => setRange(r) }),
  );
  const chartGrid = h("div", { class: "charts", "data-testid": "charts", "aria-busy": "true" });
  const replicaBody = h("tbody");
  const replicaTable = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table stack", "data-testid": "replica-table" },
      h("caption", { class: "visually-hidden", text: t("service.replicaTable") }),
      h("thead", {}, h("tr", {}, ["id", "group", "state", "pid", "port", "restarts", "lastExit"].map((k) => h("th", { scope: "col", text: t(`replica.${k}`) })))),
      replicaBody,
    ),
  );

  replace(
    root,
    h("nav", { class: "crumbs", "aria-label": t("service.breadcrumb") }, h("a", { href: "#/", text: t("nav.overview") }), h("span", { "aria-hidden": "true", text: " / " }), h("span", { text: name })),
    h("div", { class: "page-head" }, h("h1", { "data-testid": "service-name" }, name), status),
    subtitle,
    messages,
    actions,
    stats,
    rolloutSection,
    h("section", { class: "section" }, h("div", { class: "section-head" }, h("h2", { text: t("service.charts") }), h("div", { class: "segmented", role: "group", "aria-label": t("range.label") }, rangeButtons)), chartGrid),
    h("section", { class: "section" }, h("h2", { text: t("service.replicaTable") }), replicaTable),
  );

  function say(text, kind = "info") {
    replace(messages, notice(text, kind, kind === "error" ? "page-error" : "page-message"));
  }

  function renderOverview(ov) {
    const s = ov && (ov.services || []).find((x) => x.name === name);
    if (!s) return;
    updateStatus(status, s.status, s.status_details || s.status_reasons);
    const r = s.replicas;
    setText(desired, r ? fmt.int(r.desired) : fmt.DASH);
    setText(ready, r ? fmt.int(r.ready) : fmt.DASH);
    if (r && r.min !== null && r.min !== undefined) replace(limits, sourceMark("configured"), t("overview.range", { min: fmt.int(r.min), max: fmt.int(r.max) }));
    const f = s.figures || {};
    figs.load.update(f.load_rps, FIGURES.load_rps);
    figs.p95.update(f.latency_p95_seconds, FIGURES.latency_p95_seconds);
    figs.errors.update(f.error_ratio, FIGURES.error_ratio);
    figs.cpu.update(f.cpu_cores, FIGURES.cpu_cores);
    figs.memory.update(f.memory_bytes, FIGURES.memory_bytes);
  }

  /** Show an answer to the request numbered ``n`` unless a later one is shown already. */
  function showDescribe(n, d) {
    if (destroyed || n < shown) return;
    shown = n;
    renderDescribe(d);
  }

  function renderDescribe(d) {
    describe = d;
    const a = d.autoscaling;
    const parts = [t("service.target", { kind: d.target })];
    if (a) {
      parts.push(t("service.autoscaling", { mode: a.mode, min: a.min_replicas, max: a.max_replicas }));
      if (a.paused) parts.push(a.paused_until ? t("service.pausedUntil", { time: fmt.dateTime(a.paused_until * 1000) }) : t("service.pausedIndefinitely"));
      // A manual scale's pause is described by the server in English; say it from its cause.
      if (a.paused && a.paused_by?.cause === "manual_scale") parts.push(t("service.pausedByManualScale", { actor: a.paused_by.actor }));
      else if (a.paused && a.pause_reason) parts.push(t("service.pauseReason", { reason: a.pause_reason }));
    } else parts.push(t("service.noAutoscaling"));
    setText(subtitle, parts.join(" · "));
    pauseButton.hidden = !a || a.paused;
    resumeButton.hidden = !a || !a.paused;
    if (d.replicas) {
      setText(desired, fmt.int(d.replicas.desired));
      setText(ready, fmt.int(d.replicas.ready));
      if (a) replace(limits, sourceMark("configured"), t("overview.range", { min: fmt.int(a.min_replicas), max: fmt.int(a.max_replicas) }));
    }
    const list = d.replica_list || [];
    replace(
      replicaBody,
      list.length
        ? list.map((r) =>
            h(
              "tr",
              { "data-testid": "replica-row", "data-group": r.group, "data-revision": r.revision },
              h("td", { "data-label": t("replica.id") }, h("code", { text: r.id })),
              h("td", { "data-label": t("replica.group"), "data-testid": "replica-group" }, r.group ? h("span", {}, h("span", { class: `tag group-${r.group}`, text: tOr(`replicaGroup.${r.group}`, r.group) }), r.revision ? [" · ", h("code", { text: r.revision })] : null) : fmt.DASH),
              h("td", { "data-label": t("replica.state") }, h("span", { class: `tag state-${r.state}`, text: tOr(`replicaState.${r.state}`, r.state) })),
              h("td", { "data-label": t("replica.pid"), text: r.pid ?? fmt.DASH }),
              h("td", { "data-label": t("replica.port"), text: r.port ?? fmt.DASH }),
              h("td", { "data-label": t("replica.restarts"), text: fmt.int(r.restarts) }),
              h("td", { "data-label": t("replica.lastExit"), class: "wrap", text: r.last_exit || fmt.DASH }),
            ),
          )
        : h("tr", {}, h("td", { colspan: "7", class: "muted", text: t("service.noReplicas") })),
    );
    renderRollout(d.rollout || null);
  }

  function renderRollout(r) {
    rolloutSection.hidden = !r;
    for (const a of rolloutActions) a.el.hidden = !r || !a.phases.includes(r.phase);
    const key = r ? JSON.stringify(r) : "";
    if (key === rolloutShown) return;
    rolloutShown = key;
    if (!r) {
      clear(rolloutBody);
      delete rolloutSection.dataset.phase;
      return;
    }
    rolloutSection.dataset.phase = r.phase;
    replace(rolloutBody, rolloutView(r));
  }

  /** After an action: focus stays on its button if it still applies, else goes to the
   * first one that does, else to the section's heading. */
  function keepRolloutFocus(origin) {
    if (origin && origin.isConnected && !origin.hidden) return origin.focus();
    const next = rolloutActions.find((a) => !a.el.hidden);
    (next ? next.el : rolloutTitle).focus();
  }

  function rolloutDone(action, r) {
    const p = { revision: r ? r.revision : "", stable: r ? r.stable_revision : "" };
    if (action === "promote") return t("rollout.done.promote", p);
    if (action === "promote_full") return t("rollout.done.promoteFull", p);
    if (action === "pause") return t("rollout.done.pause", p);
    if (action === "resume") return t("rollout.done.resume", p);
    if (action === "abort") return t("rollout.done.abort", p);
    return t("rollout.done.retry", p);
  }

  /** POST the action; the answer is the service. A 409 (the action no longer applies) says why. */
  async function rolloutAct(action, { dialog, error } = {}) {
    const origin = rolloutButtons.contains(document.activeElement) ? document.activeElement : null;
    for (const a of rolloutActions) a.el.disabled = true;
    const n = ++issued;
    try {
      const d = await post(`${base}/rollout`, { action, actor: "dashboard" });
      showDescribe(n, d);
      if (dialog) dialog.close();
      say(rolloutDone(action, d.rollout || (describe && describe.rollout)));
      live.refresh();
    } catch (err) {
      const text = err instanceof ApiError && err.status === 409 ? t("rollout.refused", { detail: err.detail }) : errorText(err);
      if (error) error.show(text);
      else say(text, "error");
      // The page showed an action that did not apply: show the rollout as it is now.
      loadDescribe();
    } finally {
      for (const a of rolloutActions) a.el.disabled = false;
      if (origin && !dialog) keepRolloutFocus(origin);
    }
  }

  function confirmAbort() {
    const r = describe && describe.rollout;
    if (!r) return;
    const error = errorBox("rollout-abort-error");
    const confirm = h("button", { type: "button", class: "button danger", "data-testid": "rollout-abort-confirm", text: t("rollout.action.abort") });
    const content = h(
      "div",
      { class: "form" },
      h("p", { class: "confirm-text", "data-testid": "rollout-abort-question", text: t("rollout.abortQuestion", { revision: r.revision }) }),
      h("p", { class: "muted", text: t("rollout.abortExplain", { revision: r.revision, stable: r.stable_revision }) }),
      error.el,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button", autofocus: true, text: t("action.cancel"), onclick: () => dialog.close() }), confirm),
    );
    const abortButton = rolloutActions.find((a) => a.action === "abort").el;
    const dialog = openDialog({
      title: t("rollout.abortTitle", { name }),
      content,
      testid: "rollout-abort-dialog",
      // The dialog gives focus back to the Abort button, unless aborting hid it.
      onClose: () => {
        if (abortButton.hidden) keepRolloutFocus();
      },
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      error.clear();
      await rolloutAct("abort", { dialog, error });
      confirm.disabled = false;
    });
  }

  async function loadDescribe() {
    const n = ++issued;
    try {
      showDescribe(n, await get(base));
    } catch (err) {
      if (!destroyed && !(err instanceof ApiError && err.status === 401)) say(err.status === 404 && !routeMissing(err) ? t("service.notFound", { name }) : errorText(err), "error");
    }
  }

  async function loadCharts() {
    lastCharts = Date.now();
    const wanted = range;
    let body;
    try {
      body = await get(`${base}/charts${qs({ range })}`);
    } catch (err) {
      if (destroyed || wanted !== range) return;
      chartGrid.removeAttribute("aria-busy");
      for (const c of charts) c.destroy();
      charts = [];
      replace(chartGrid, notice(routeMissing(err) ? t("service.chartsMissing") : errorText(err), routeMissing(err) ? "info" : "error", "charts-error"));
      return;
    }
    if (destroyed || wanted !== range) return;
    drawCharts(body);
  }

  function drawCharts(body) {
    for (const c of charts) c.destroy();
    const s = body.series || {};
    const src = body.sources || {};
    const ts = body.timestamps || [];
    const col = (k) => (Array.isArray(s[k]) && s[k].length === ts.length ? s[k] : null);
    const line = (k, dash) => (col(k) ? { label: `${t(`series.${k}`)}${src[k] && src[k] !== "measured" ? ` (${tOr(`source.${src[k]}`, src[k])})` : ""}`, values: col(k), dash } : null);
    const decisions = body.decisions || [];
    // The time axis covers the range and every decision in it, so a decision made a
    // moment ago is not clipped at the right edge.
    const pad = Math.max((body.step_seconds || 1) * 1000, (body.range_seconds || 0) * 10);
    const last = Math.max(body.end_ms || 0, ...decisions.map((d) => d.timestamp_ms + pad));
    const xRange = body.start_ms && body.end_ms ? [body.start_ms / 1000, last / 1000] : null;
    const specs = [
      ["chart-load", t("chart.load"), [line("load_rps"), line("forecast_rps", [6, 4])], fmt.rps, tickFormat()],
      ["chart-latency", t("chart.latency"), [line("latency_p50_seconds"), line("latency_p95_seconds"), line("latency_p99_seconds")], fmt.seconds, tickFormat(1000)],
      ["chart-errors", t("chart.errors"), [line("error_ratio")], fmt.percent, tickFormat(100)],
      ["chart-cpu", t("chart.cpu"), [line("cpu_cores")], fmt.cores, tickFormat()],
      ["chart-memory", t("chart.memory"), [line("memory_bytes")], fmt.bytes, tickFormat(1 / 1048576), false, 256 * 1048576],
      ["chart-replicas", t("chart.replicas"), [line("replicas_desired"), line("replicas_ready", [4, 3])], fmt.int, tickFormat(), true],
    ];
    charts = specs
      .map(([testid, title, lines, yFormat, axis, integer, emptyMax]) => ({ testid, title, lines: lines.filter(Boolean), yFormat, axis, integer, emptyMax }))
      .filter((spec) => spec.lines.length)
      .map((spec) => chart({ ...spec, timestamps: ts, decisions, xRange, rangeSeconds: body.range_seconds }));
    const legend = h("p", { class: "legend chart-legend" }, h("span", { class: "decision-key", "aria-hidden": "true" }), t("chart.decisionsLegend", { count: fmt.int((body.decisions || []).length) }), " · ", t("chart.step", { step: fmt.duration(body.step_seconds) }));
    // The same decisions as a list: for keyboards, screen readers and touch screens.
    const list = h(
      "details",
      { class: "decision-list card", "data-testid": "decision-list" },
      h("summary", { text: t("chart.decisionList", { count: fmt.int(decisions.length) }) }),
      decisions.length
        ? h(
            "ol",
            { reversed: true },
            decisions
              .slice()
              .reverse()
              .map((d) =>
                h(
                  "li",
                  {},
                  h("time", { datetime: new Date(d.timestamp_ms).toISOString(), text: fmt.dateTime(d.timestamp_ms) }),
                  " ",
                  h("span", { class: "tag", text: tOr(`kind.${d.kind}`, d.kind) }),
                  d.from !== null && d.from !== undefined ? ` ${t("chart.fromTo", { from: d.from, to: d.to ?? "?" })}` : "",
                  d.reason ? ` · ${d.reason}` : "",
                  d.actor ? h("span", { class: "muted", text: ` · ${t("chart.actor", { actor: d.actor })}` }) : null,
                ),
              ),
          )
        : h("p", { class: "muted", text: t("chart.noDecisions") }),
    );
    replace(chartGrid, legend, charts.map((c) => c.el), list);
    if (!ts.length) chartGrid.prepend(notice(t("service.noData"), "info"));
    chartGrid.removeAttribute("aria-busy");
    markReady();
  }

  function setRange(r) {
    range = r;
    for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b.dataset.range === r));
    history.replaceState(null, "", `#/service/${encodeURIComponent(name)}?range=${r}`);
    chartGrid.setAttribute("aria-busy", "true");
    loadCharts();
  }

  function openScale() {
    const current = describe && describe.replicas ? describe.replicas.desired : 1;
    const replicas = h("input", { type: "number", min: "0", max: "10000", step: "1", required: true, inputmode: "numeric", value: String(current), "data-testid": "scale-replicas", autofocus: true });
    const reason = h("textarea", { rows: "3", required: true, maxlength: "500", "data-testid": "scale-reason" });
    const error = errorBox("scale-error");
    const stepOne = h(
      "form",
      { class: "form" },
      field(t("scale.replicas"), replicas, describe && describe.autoscaling ? t("scale.limits", { min: describe.autoscaling.min_replicas, max: describe.autoscaling.max_replicas }) : null),
      field(t("scale.reason"), reason, t("scale.reasonHint")),
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button", text: t("action.cancel"), onclick: () => dialog.close() }), h("button", { type: "submit", class: "button primary", "data-testid": "scale-next", text: t("action.review") })),
    );
    const question = h("p", { class: "confirm-text", "data-testid": "scale-question" });
    const outside = h("p", { class: "notice notice-warn", "data-testid": "scale-outside" });
    const confirm = h("button", { type: "button", class: "button primary", "data-testid": "scale-confirm", text: t("scale.confirm") });
    const stepTwo = h(
      "div",
      { class: "form" },
      question,
      outside,
      h("p", { class: "muted", text: t("scale.pauseNote") }),
      error.el,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button", text: t("action.back"), onclick: () => show(1) }), confirm),
    );
    stepTwo.hidden = true;
    const dialog = openDialog({ title: t("scale.title", { name }), content: [stepOne, stepTwo], testid: "scale-dialog" });
    function show(step) {
      stepOne.hidden = step !== 1;
      stepTwo.hidden = step !== 2;
      error.clear();
      (step === 1 ? replicas : confirm).focus();
    }
    stepOne.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!stepOne.reportValidity() || !reason.value.trim()) {
        reason.focus();
        return;
      }
      const to = Number(replicas.value);
      setText(question, t("scale.question", { name, from: current, to }));
      const a = describe && describe.autoscaling;
      outside.hidden = !a || (to >= a.min_replicas && to <= a.max_replicas);
      if (a) setText(outside, t("scale.outside", { min: a.min_replicas, max: a.max_replicas }));
      show(2);
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      const n = ++issued;
      try {
        const d = await post(`${base}/scale`, { replicas: Number(replicas.value), reason: reason.value.trim(), actor: "dashboard" });
        dialog.close();
        showDescribe(n, d);
        say(t("scale.done", { name, to: Number(replicas.value) }));
        live.refresh();
        loadCharts();
      } catch (err) {
        error.show(errorText(err));
        confirm.disabled = false;
      }
    });
  }

  function openPause() {
    const durations = [["15m", t("range.15m")], ["1h", t("range.1h")], ["6h", t("range.6h")], ["24h", t("range.24h")], ["", t("pause.untilResumed")]];
    const duration = h("select", { "data-testid": "pause-duration" }, durations.map(([v, l]) => h("option", { value: v, text: l })));
    duration.value = "1h";
    const reason = h("textarea", { rows: "3", required: true, maxlength: "500", "data-testid": "pause-reason", autofocus: true });
    const error = errorBox("pause-error");
    const submit = h("button", { type: "submit", class: "button primary", "data-testid": "pause-confirm", text: t("action.pause") });
    const form = h(
      "form",
      { class: "form" },
      h("p", { class: "muted", text: t("pause.explain") }),
      field(t("pause.duration"), duration),
      field(t("scale.reason"), reason),
      error.el,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button", text: t("action.cancel"), onclick: () => dialog.close() }), submit),
    );
    const dialog = openDialog({ title: t("pause.title", { name }), content: form, testid: "pause-dialog" });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!reason.value.trim()) return reason.focus();
      submit.disabled = true;
      const n = ++issued;
      try {
        showDescribe(n, await post(`${base}/pause`, { duration: duration.value || null, reason: reason.value.trim(), actor: "dashboard" }));
        dialog.close();
        say(t("pause.done"));
        live.refresh();
      } catch (err) {
        error.show(errorText(err));
        submit.disabled = false;
      }
    });
  }

  async function resume() {
    resumeButton.disabled = true;
    const n = ++issued;
    try {
      showDescribe(n, await post(`${base}/resume`, { actor: "dashboard" }));
      say(t("pause.resumed"));
      live.refresh();
      pauseButton.focus();
    } catch (err) {
      say(errorText(err), "error");
    } finally {
      resumeButton.disabled = false;
    }
  }

  function openHealth() {
    const content = h("div", { "data-testid": "health-content", "aria-busy": "true" }, h("p", { class: "muted", text: t("common.loading") }));
    openDialog({ title: t("health.title", { name }), content, testid: "health-dialog", wide: true });
    loadHealth().then(
      (body) => {
        content.removeAttribute("aria-busy");
        replace(content, healthView(body));
      },
      (err) => {
        content.removeAttribute("aria-busy");
        replace(content, notice(errorText(err), "error"));
      },
    );
  }

  async function loadHealth() {
    try {
      return await get(`${base}/health`);
    } catch (err) {
      if (!routeMissing(err) || !describe) throw err;
      const st = await get("/status");
      return {
        targets: (st.targets || []).filter((x) => x.service === name),
        probes: (st.probes || []).filter((x) => x.service === name),
        replicas: describe.replica_list || [],
      };
    }
  }

  const offOverview = live.onOverview((ov) => {
    renderOverview(ov);
    loadDescribe();
    if (Date.now() - lastCharts >= CHART_REFRESH_MS && (range === "15m" || range === "1h")) loadCharts();
  });
  // A rollout's steps are events: show each at once rather than at the next overview.
  const offEvent = live.onEvent((e) => {
    if (e && e.service === name && typeof e.kind === "string" && e.kind.startsWith("rollout_")) loadDescribe();
  });
  renderOverview(live.overview());
  loadDescribe();
  loadCharts();

  return {
    destroy() {
      destroyed = true;
      offOverview();
      offEvent();
      for (const c of charts) c.destroy();
    },
  };
}

const share = (weight) => fmt.percent(Math.min(100, Math.max(0, Number(weight) || 0)) / 100);

function holdText(seconds) {
  if (seconds === null || seconds === undefined) return t("rollout.hold.manual");
  if (seconds <= 0) return t("rollout.hold.none");
  return t("rollout.hold.for", { duration: fmt.duration(seconds) });
}

/** A check's value in the unit of its bound (``≤ 1%``: a percentage, ``≤ 0.5s``: seconds). */
function checkValue(v) {
  if (v.value === null || v.value === undefined) return t("rollout.noData");
  const bound = String(v.bound || "").trim();
  if (bound.endsWith("%")) return fmt.percent(v.value / 100);
  if (/\ds$/.test(bound)) return fmt.seconds(v.value);
  return fmt.num(v.value, 2);
}

function rolloutView(r) {
  const code = (text) => h("code", { text });
  const ended = r.phase === "promoted" || r.phase === "aborted";
  const summary = h(
    "p",
    { class: "rollout-summary", "data-testid": "rollout-summary" },
    tParts("rollout.summary", { revision: code(r.revision), stable: code(r.stable_revision) }),
    " ",
    h("span", { class: `tag phase-${r.phase}`, "data-testid": "rollout-phase", text: tOr(`rollout.phase.${r.phase}`, r.phase) }),
    " · ",
    h("span", { "data-testid": "rollout-strategy", text: tOr(`rollout.strategy.${r.strategy}`, r.strategy) }),
    h("span", { class: "muted" }, " · ", t("rollout.started", { time: fmt.dateTime(r.started_at * 1000) }), r.ended_at ? [" · ", t("rollout.ended", { time: fmt.dateTime(r.ended_at * 1000) })] : null),
  );

  // Why it paused or ended: the server's words (English), said in the page's language around them.
  const reasonKey = { paused: "rollout.reason.paused", aborted: "rollout.reason.aborted", promoted: "rollout.reason.promoted" }[r.phase];
  const reason =
    r.reason && reasonKey
      ? h("p", { class: `notice rollout-reason reason-${r.phase}`, "data-testid": "rollout-reason" }, tParts(reasonKey, { reason: h("span", { lang: "en", text: r.reason }) }))
      : null;

  const weight = Math.min(100, Math.max(0, Number(r.weight) || 0));
  const stableBar = h("span", { class: "split-stable" });
  const newBar = h("span", { class: "split-new" });
  // Widths through element.style (the CSP forbids style="" attributes, not the CSSOM).
  stableBar.style.flexGrow = String(100 - weight);
  newBar.style.flexGrow = String(weight);
  const split = h(
    "div",
    { class: "split", "data-testid": "rollout-split" },
    h("h3", { text: t("rollout.traffic") }),
    h("div", { class: "split-bar", "aria-hidden": "true" }, stableBar, newBar),
    h(
      "p",
      { class: "split-legend" },
      h("span", { class: "split-key", "data-testid": "split-stable" }, h("span", { class: "swatch swatch-stable", "aria-hidden": "true" }), sourced("configured", tParts("rollout.split.stable", { revision: code(r.stable_revision), share: share(100 - weight) }))),
      h(
        "span",
        { class: "split-key", "data-testid": "split-new" },
        h("span", { class: "swatch swatch-new", "aria-hidden": "true" }),
        sourced("configured", tParts("rollout.split.new", { revision: code(r.revision), share: share(weight) })),
      ),
      ended ? null : h("span", { class: "muted", "data-testid": "rollout-canary-replicas", text: t("rollout.canaryReplicas", { count: fmt.int(r.canary_replicas) }) }),
    ),
  );

  const stages = h(
    "div",
    { class: "rollout-stages" },
    h("h3", { id: "rollout-stages-title", text: t("rollout.stages") }),
    h(
      "ol",
      { class: "stages", "data-testid": "rollout-stages", "aria-labelledby": "rollout-stages-title" },
      (r.stages || []).map((s, i) => {
        const n = i + 1;
        const state = n < r.stage ? "done" : n === r.stage ? "current" : "todo";
        return h(
          "li",
          { class: `stage stage-${state}`, "data-testid": "rollout-stage", "data-stage": String(n), "aria-current": state === "current" ? "step" : null },
          // The kind in the page's language; the server's English label if the kind is unknown.
          s.kind && tOr(`rollout.stageKind.${s.kind}`, "") ? h("span", { class: "stage-label", text: t(`rollout.stageKind.${s.kind}`) }) : h("span", { class: "stage-label", lang: "en", text: s.label }),
          state === "current" ? h("span", { class: "tag stage-now", text: ended ? t("rollout.stage.endedHere") : t("rollout.stage.current") }) : null,
          state === "done" ? h("span", { class: "tag stage-passed", text: t("rollout.stage.done") }) : null,
          h("span", { class: "stage-figures" }, sourced("configured", [t("rollout.stage.weight", { share: share(s.weight) }), " · ", holdText(s.hold_seconds)])),
        );
      }),
    ),
  );

  const m = (r.measurements || []).at(-1);
  let analysis;
  if (!m) {
    analysis = h("p", { class: "muted", "data-testid": "rollout-measurement" }, r.failure_limit === null || r.failure_limit === undefined ? t("rollout.noAnalysis") : t("rollout.noMeasurement"));
  } else {
    analysis = h(
      "div",
      { "data-testid": "rollout-measurement", "data-verdict": m.verdict },
      h(
        "p",
        { class: "measurement-head" },
        t("rollout.measuredAt", { time: fmt.dateTime(m.at * 1000), stage: fmt.int((m.stage ?? 0) + 1) }),
        " ",
        h("span", { class: `tag verdict-${m.verdict}`, "data-testid": "rollout-verdict", text: tOr(`rollout.verdict.${m.verdict}`, m.verdict) }),
        r.failure_limit === null || r.failure_limit === undefined ? null : h("span", { class: "muted", text: ` · ${t("rollout.failures", { failures: fmt.int(r.failures), limit: fmt.int(r.failure_limit) })}` }),
      ),
      h(
        "ul",
        { class: "checks" },
        (m.values || []).map((v) => {
          const outcome = v.passed === true ? "passed" : v.passed === false ? "failed" : "no_data";
          return h(
            "li",
            { class: `check check-${outcome}`, "data-testid": "rollout-check" },
            h("code", { text: v.name }),
            " ",
            sourced("measured", h("span", { class: v.value === null || v.value === undefined ? "fig-value muted" : "fig-value", text: checkValue(v) })),
            v.bound ? h("span", { class: "muted", text: ` ${t("rollout.check.bound", { bound: v.bound })}` }) : null,
            " ",
            h("span", { class: `tag verdict-${outcome}`, text: outcome === "passed" ? t("rollout.check.passed") : outcome === "failed" ? t("rollout.check.failed") : t("rollout.noData") }),
            v.error ? h("span", { class: "check-error wrap", lang: "en", text: ` ${v.error}` }) : null,
          );
        }),
      ),
    );
  }
  return [
    summary,
    reason,
    h("div", { class: "card rollout-card" }, split, stages, h("div", { class: "rollout-analysis" }, h("h3", { text: t("rollout.analysis") }), analysis)),
  ];
}

function healthView(body) {
  const targets = body.targets || [];
  const probes = body.probes || [];
  const health = (x) => h("span", { class: `tag health-${x}`, text: tOr(`health.${x}`, x) });
  const ms = (v) => (typeof v === "number" ? v : fmt.isoMs(v));
  return h(
    "div",
    { class: "health" },
    h("h3", { text: t("health.targets") }),
    targets.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "table stack", "data-testid": "health-targets" },
            h("thead", {}, h("tr", {}, ["url", "replica", "health", "lastScrape", "duration", "lastError"].map((k) => h("th", { scope: "col", text: t(`health.col.${k}`) })))),
            h(
              "tbody",
              {},
              targets.map((x) =>
                h(
                  "tr",
                  { "data-testid": "health-target" },
                  h("td", { "data-label": t("health.col.url"), class: "wrap" }, h("code", { text: x.url })),
                  h("td", { "data-label": t("health.col.replica"), text: x.replica ?? fmt.DASH }),
                  h("td", { "data-label": t("health.col.health") }, health(x.health)),
                  h("td", { "data-label": t("health.col.lastScrape"), title: x.last_scrape ? fmt.dateTime(ms(x.last_scrape)) : null, text: x.last_scrape ? fmt.relative(ms(x.last_scrape_ms ?? x.last_scrape)) : fmt.DASH }),
                  h("td", { "data-label": t("health.col.duration"), text: fmt.seconds(x.last_duration_seconds) }),
                  h("td", { "data-label": t("health.col.lastError"), class: "wrap", text: x.last_error || fmt.DASH }),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted", text: t("health.noTargets") }),
    h("h3", { text: t("health.probes") }),
    probes.length
      ? h(
          "ul",
          { class: "probe-list", "data-testid": "health-probes" },
          probes.map((p) =>
            h(
              "li",
              { class: "card probe" },
              h("div", { class: "probe-head" }, h("strong", { text: p.probe || p.name || p.type }), " ", h("span", { class: "muted", text: `${p.type || ""} ${p.instance || ""}` }), " ", health(p.health)),
              p.last_error ? h("p", { class: "form-error", text: p.last_error }) : null,
              h(
                "ol",
                { class: "probe-history", reversed: true },
                (p.history || [])
                  .slice(-10)
                  .reverse()
                  .map((r) => h("li", { class: r.success ? "ok" : "bad" }, h("span", { text: r.success ? "✓" : "✗", "aria-label": r.success ? t("health.ok") : t("health.failed") }), ` ${fmt.time(r.timestamp_ms)} · ${fmt.seconds(r.duration_seconds)}`, r.error ? ` · ${r.error}` : "")),
              ),
            ),
          ),
        )
      : h("p", { class: "muted", text: t("health.noProbes") }),
  );
}
