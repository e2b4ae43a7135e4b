// Numbers, sizes, times and durations for the chosen locale, through Intl only.

import { locale, t } from "./i18n.js";

const cache = new Map();
function nf(options) {
  const key = locale() + JSON.stringify(options);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale(), options);
    cache.set(key, f);
  }
  return f;
}

export const DASH = "—";
const missing = (v) => v === null || v === undefined || Number.isNaN(v);

export function num(v, digits = 1) {
  if (missing(v)) return DASH;
  const abs = Math.abs(v);
  const max = abs >= 100 ? 0 : abs >= 10 ? Math.min(digits, 1) : abs >= 1 ? digits : Math.max(digits, 2);
  return nf({ maximumFractionDigits: max }).format(v);
}

/** A cost: always two decimals, in no currency (the user's price says which). */
export const money = (v) => (missing(v) ? DASH : nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v));

export const int = (v) => (missing(v) ? DASH : nf({ maximumFractionDigits: 0 }).format(v));

export function rps(v) {
  return missing(v) ? DASH : t("unit.rps", { value: num(v) });
}

export function seconds(v) {
  if (missing(v)) return DASH;
  if (Math.abs(v) < 1) return t("unit.ms", { value: num(v * 1000, 1) });
  return t("unit.s", { value: num(v, 2) });
}

export function percent(v) {
  if (missing(v)) return DASH;
  const digits = v !== 0 && Math.abs(v) < 0.01 ? 2 : 1;
  return nf({ style: "percent", maximumFractionDigits: digits }).format(v);
}

export function cores(v) {
  return missing(v) ? DASH : t("unit.cores", { value: num(v, 2) });
}

export function bytes(v) {
  if (missing(v)) return DASH;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = v;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${nf({ maximumFractionDigits: i === 0 ? 0 : 1, minimumFractionDigits: i === 0 ? 0 : 1 }).format(x)} ${units[i]}`;
}

export function dateTime(ms, { seconds: withSeconds = true, date = true } = {}) {
  if (missing(ms)) return DASH;
  const options = { hour: "2-digit", minute: "2-digit" };
  if (withSeconds) options.second = "2-digit";
  if (date) Object.assign(options, { year: "numeric", month: "short", day: "numeric" });
  const key = `dt${locale()}${withSeconds}${date}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale(), options);
    cache.set(key, f);
  }
  return f.format(new Date(ms));
}

export const time = (ms) => dateTime(ms, { date: false });

/** "3 minutes ago" / "in 2 hours". */
export function relative(ms, now = Date.now()) {
  if (missing(ms)) return DASH;
  const diff = (ms - now) / 1000;
  const abs = Math.abs(diff);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  if (abs < 60) return rtf.format(Math.round(diff), "second");
  if (abs < 3600) return rtf.format(Math.round(diff / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), "hour");
  return rtf.format(Math.round(diff / 86400), "day");
}

/** A length of time, e.g. "1 hr, 5 min" (largest two units). */
export function duration(totalSeconds) {
  if (missing(totalSeconds)) return DASH;
  let s = Math.max(0, Math.round(totalSeconds));
  const parts = [];
  for (const [unit, size] of [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ]) {
    if (s >= size || (unit === "second" && parts.length === 0)) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(nf({ style: "unit", unit, unitDisplay: "short" }).format(n));
    }
    if (parts.length === 2) break;
  }
  return new Intl.ListFormat(locale(), { style: "narrow", type: "unit" }).format(parts);
}

/** Parse RFC 3339 / ISO text into epoch milliseconds (null when absent). */
export function isoMs(text) {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}
