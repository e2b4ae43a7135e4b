// Strings come from static/i18n/<lang>.json (the same keys in every language); the
// choice is remembered in localStorage and defaults to the browser's language.

const LANG_KEY = "scalepilot.lang";
export const LANGUAGES = { en: "en-GB", tr: "tr-TR" };

let lang = "en";
let strings = {};
let fallback = {};
const listeners = new Set();

function preferred() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && saved in LANGUAGES) return saved;
  } catch {
    /* ignore */
  }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return nav.toLowerCase().startsWith("tr") ? "tr" : "en";
}

async function load(code) {
  const res = await fetch(`/ui/i18n/${code}.json`, { cache: "no-cache" });
  if (!res.ok) throw new Error(`cannot load the ${code} strings: HTTP ${res.status}`);
  return res.json();
}

export async function init() {
  await setLanguage(preferred(), { remember: false });
}

export async function setLanguage(code, { remember = true } = {}) {
  if (!(code in LANGUAGES)) code = "en";
  const [main, en] = await Promise.all([load(code), code === "en" ? null : load("en")]);
  strings = main;
  fallback = en || main;
  lang = code;
  document.documentElement.lang = code;
  if (remember) {
    try {
      localStorage.setItem(LANG_KEY, code);
    } catch {
      /* ignore */
    }
  }
  document.title = t("app.title");
  for (const fn of listeners) fn(code);
}

export function onLanguage(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export const language = () => lang;
export const locale = () => LANGUAGES[lang];

/** The string for ``key`` with ``{name}`` placeholders filled from ``params``. */
export function t(key, params) {
  let text = strings[key] ?? fallback[key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

/** ``t(key, params)`` as a list of text and nodes: a placeholder whose value is a node
 * (a revision in <code>, a marked figure) is that node, not its text. */
export function tParts(key, params) {
  const text = t(key, Object.fromEntries(Object.entries(params).filter(([, v]) => !(v instanceof Node))));
  return text.split(/\{(\w+)\}/).map((part, i) => (i % 2 ? (params[part] instanceof Node ? params[part] : `{${part}}`) : part));
}

/** ``t(key)`` when the catalog has it, else ``other`` (for values the server names). */
export function tOr(key, other) {
  return strings[key] ?? fallback[key] ?? other;
}
