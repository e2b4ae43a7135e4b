// The dashboard's entry point: language, token, live connection, and the hash router
// (#/, #/service/NAME, #/events, #/alerts, #/report) that mounts one page at a time.

import { ApiError, get, getToken, onUnauthorized, setToken } from "./api.js";
import { h, replace } from "./dom.js";
import { field, errorBox } from "./dialog.js";
import { init as initI18n, language, onLanguage, setLanguage, t, tOr } from "./i18n.js";
import * as live from "./stream.js";
import * as overviewPage from "./pages/overview.js";
import * as servicePage from "./pages/service.js";
import * as eventsPage from "./pages/events.js";
import * as alertsPage from "./pages/alerts.js";
import * as reportPage from "./pages/report.js";

const main = document.getElementById("main");
const session = { role: null, authEnabled: null, tokenName: null, alerting: null };
let current = null;
let asking = false;

/** What the caller may do: roles rank viewer < operator < admin. */
export function canOperate() {
  return session.role === null || session.role === "operator" || session.role === "admin";
}

function parseRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const params = Object.fromEntries(new URLSearchParams(query));
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "overview", module: overviewPage, params };
  if (parts[0] === "service" && parts[1]) return { page: "overview", module: servicePage, params: { ...params, name: parts[1] } };
  const pages = { events: eventsPage, alerts: alertsPage, report: reportPage };
  if (parts.length === 1 && parts[0] in pages) return { page: parts[0], module: pages[parts[0]], params };
  return { page: null, module: null, params };
}

function route() {
  if (asking) return;
  if (current && current.destroy) current.destroy();
  current = null;
  const { page, module, params } = parseRoute();
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.route === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!module) {
    replace(main, h("section", { class: "page" }, h("h1", { text: t("notFound.title") }), h("p", {}, h("a", { href: "#/", text: t("notFound.back") }))));
    document.title = `${t("notFound.title")} · scalepilot`;
    return;
  }
  const root = h("div", { class: "page" });
  replace(main, root);
  current = module.mount(root, { params, canOperate: canOperate(), session });
}

function translateStatic() {
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  document.getElementById("lang").value = language();
  showRole();
  showLive(live.connection());
}

function showLive(state) {
  const el = document.getElementById("live");
  el.dataset.state = state;
  el.querySelector(".live-text").textContent = t(`live.${state}`);
  el.title = t(`live.${state}.hint`);
}

function showRole() {
  const el = document.getElementById("role");
  el.hidden = !session.authEnabled || !session.role;
  el.textContent = session.role ? tOr(`role.${session.role}`, session.role) : "";
  el.title = session.tokenName ? t("auth.signedInAs", { name: session.tokenName }) : "";
  document.getElementById("signout").hidden = !getToken();
}

/** Ask the server who we are; false when it wants a token. */
async function whoami() {
  try {
    const me = await get("/api/v1/whoami");
    session.role = me.role || null;
    session.authEnabled = Boolean(me.auth_enabled);
    session.tokenName = me.token && typeof me.token === "object" ? me.token.name : me.token;
    session.alerting = typeof me.alerting === "boolean" ? me.alerting : null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return false;
    // A server without /whoami: show every button and let the server refuse.
    session.role = null;
    session.authEnabled = Boolean(getToken());
  }
  showRole();
  return true;
}

function askForToken(reason) {
  if (asking) return;
  asking = true;
  live.stop();
  showLive("offline");
  if (current && current.destroy) current.destroy();
  current = null;
  const input = h("input", { type: "password", name: "token", autocomplete: "off", spellcheck: "false", required: true, "data-testid": "token-input", autofocus: true });
  const error = errorBox("token-error");
  if (reason) error.show(reason);
  const submit = h("button", { type: "submit", class: "button primary", "data-testid": "token-submit", text: t("auth.submit") });
  const form = h(
    "form",
    { class: "card token-form", "data-testid": "token-form" },
    h("h1", { text: t("auth.title") }),
    h("p", { text: t("auth.explain") }),
    field(t("auth.token"), input, t("auth.hint")),
    error.el,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    setToken(token);
    const ok = await whoami();
    submit.disabled = false;
    if (!ok) {
      setToken("");
      error.show(t("auth.refused"));
      input.select();
      return;
    }
    asking = false;
    live.start();
    route();
    main.focus();
  });
  replace(main, h("div", { class: "page narrow" }, form));
  document.title = `${t("auth.title")} · scalepilot`;
  input.focus();
}

async function boot() {
  await initI18n();
  translateStatic();
  onLanguage(() => {
    translateStatic();
    if (!asking) route();
  });
  document.getElementById("lang").addEventListener("change", (e) => setLanguage(e.target.value));
  document.getElementById("signout").addEventListener("click", async () => {
    setToken("");
    session.role = null;
    session.tokenName = null;
    live.stop();
    if (await whoami()) {
      live.start();
      route();
    }
  });
  document.querySelector("[data-skip]").addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  live.onState(showLive);
  live.onOverview((ov) => {
    const v = document.getElementById("version");
    v.textContent = ov && ov.version ? `scalepilot ${ov.version}` : "";
  });
  onUnauthorized(() => {
    if (!asking) askForToken(getToken() ? t("auth.expired") : "");
  });
  window.addEventListener("hashchange", route);
  if (!(await whoami())) {
    askForToken(getToken() ? t("auth.expired") : "");
    return;
  }
  live.start();
  route();
}

boot().catch((err) => {
  replace(main, h("p", { class: "form-error", role: "alert", text: String((err && err.message) || err) }));
});
