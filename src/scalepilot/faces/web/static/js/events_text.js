// An event's message in the reader's language: the catalog's ``event.msg.<kind>`` (or
// ``event.msg.<kind>.<variant>``) filled from the event's details and service. The
// server's English ``message`` is shown instead when the kind has no template or a
// detail the template names is missing (older events, kinds added later).

import * as fmt from "./format.js";
import { t, tOr } from "./i18n.js";

/** Which template of a kind fits these details: "" the plain one, null none (fall back). */
const VARIANT = {
  autoscaling_paused: (d) => (!("seconds" in d) ? null : d.seconds ? "" : "indefinitely"),
  autoscaling_resumed: (d) => (d.actor === "timer" ? "expired" : ""),
  config_reloaded: (d) => {
    if (!Array.isArray(d.problems) || !Array.isArray(d.applied) || !Array.isArray(d.restart_needed)) return null;
    if (d.problems.length) return "refused";
    if (!d.restart_needed.length) return d.applied.length ? "" : "unchanged";
    return d.applied.length ? "restart" : "restart_only";
  },
  replica_exited: (d) => (Number.isInteger(d.exit_code) && d.exit_code >= 0 ? "code" : ""),
  replica_orphan_stopped: (d) => (d.replica ? "" : "unknown"),
  replica_stopped: (d) => ({ "scale-down": "scale_down", shutdown: "shutdown", cancelled: "cancelled" })[d.reason] ?? "",
  rules_reloaded: (d) => (!Array.isArray(d.problems) ? null : d.problems.length ? "refused" : ""),
  scale_command_failed: (d) => (d.transient === false ? "permanent" : ""),
};

/** Values a template may name that are worked out from a detail. */
const DERIVED = {
  count: (d) => (Array.isArray(d.fingerprints) ? d.fingerprints.length : undefined),
  // Config keys are the file's own words, the same in every language.
  applied_keys: (d) => (Array.isArray(d.applied) ? d.applied.join(", ") : undefined),
  restart_keys: (d) => (Array.isArray(d.restart_needed) ? d.restart_needed.join(", ") : undefined),
};

const span = (s) => (s < 60 ? fmt.seconds(s) : fmt.duration(s));

/** How a detail is written; any other is inserted as it is (names, ids, free text). */
const FORMAT = {
  seconds: span,
  startup_s: span,
  restart_in_s: span,
  retry_in_s: span,
  retry_in_seconds: span,
  within_s: span,
  cooldown_s: span,
  from: fmt.int,
  to: fmt.int,
  replicas: fmt.int,
  attempt: fmt.int,
  attempts: fmt.int,
  failures: fmt.int,
  crashes: fmt.int,
  count: fmt.int,
  role: (v) => tOr(`role.${v}`, v),
  outcome: (v) => tOr(`event.outcome.${v}`, v),
};

export function eventText(e) {
  const details = { ...(e.details || {}), service: e.service };
  const variant = VARIANT[e.kind] ? VARIANT[e.kind](details) : "";
  if (variant === null) return e.message;
  const key = variant ? `event.msg.${e.kind}.${variant}` : `event.msg.${e.kind}`;
  const template = tOr(key, null);
  if (template === null) return e.message;
  const params = {};
  for (const [, name] of template.matchAll(/\{(\w+)\}/g)) {
    const value = name in DERIVED ? DERIVED[name](details) : details[name];
    if (value === null || value === undefined || value === "") return e.message;
    params[name] = FORMAT[name] ? FORMAT[name](value) : String(value);
  }
  return t(key, params);
}
