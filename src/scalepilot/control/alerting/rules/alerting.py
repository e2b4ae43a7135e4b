"""Prometheus's alert state machine, step for step (``rules/alerting.go``, 2.42).

One evaluation of an alerting rule takes the previous active alerts, the query result and
the evaluation time, and returns the next active alerts and the ``ALERTS`` /
``ALERTS_FOR_STATE`` samples. Nothing is mutated: the caller keeps the returned state.

The rules, as Prometheus applies them:

- each result sample becomes an alert whose labels are the sample's (without
  ``__name__``), then the rule's labels (templated; an empty result removes the label),
  then ``alertname``; two samples with the same resulting labels are an error
  ("vector contains metrics with the same labelset after applying alert labels") and the
  state stays as it was;
- a new alert is *pending* from this evaluation (``active_at``); a known one keeps its
  state and takes the new value and annotations;
- a pending alert fires once ``ts - active_at >= for`` (at once with ``for: 0``);
- an alert missing from the result: a pending one is dropped (never notified); a firing
  one keeps firing while ``ts - keep_firing_since < keep_firing_for``, otherwise it is
  resolved (``resolved_at = ts``) and kept for 15 minutes so the resolution is re-sent;
- more active alerts than the group's ``limit`` is an error that clears the rule's
  alerts, as in Prometheus;
- who must be notified: firing alerts not sent within ``resend_delay``, and resolved
  alerts not sent since they resolved; a firing alert's ``ends_at`` is
  ``ts + 4 × max(resend_delay, interval)``.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from scalepilot.control.alerting.rules.model import AlertingRule
from scalepilot.control.alerting.rules.template import TemplateContext
from scalepilot.domain.alerts import Alert, AlertState
from scalepilot.domain.labels import METRIC_NAME, Labels
from scalepilot.domain.query import InstantSample

RESOLVED_RETENTION_MS = 15 * 60_000
"""How long a resolved alert is kept, and re-sent (Prometheus's ``resolvedRetention``)."""

ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"

Sample = tuple[Labels, float]
"""A sample to write at the evaluation time."""


class RuleEvalError(Exception):
    """One rule's evaluation failed; its message is Prometheus's."""


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    labels: Labels
    annotations: tuple[tuple[str, str], ...]
    state: AlertState
    value: float
    active_at_ms: int
    fired_at_ms: int | None = None
    resolved_at_ms: int | None = None
    last_sent_at_ms: int | None = None
    valid_until_ms: int | None = None
    keep_firing_since_ms: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": [list(p) for p in self.labels],
            "annotations": [list(p) for p in self.annotations],
            "state": self.state.value,
            "value": _json_float(self.value),
            "active_at_ms": self.active_at_ms,
            "fired_at_ms": self.fired_at_ms,
            "resolved_at_ms": self.resolved_at_ms,
            "last_sent_at_ms": self.last_sent_at_ms,
            "valid_until_ms": self.valid_until_ms,
            "keep_firing_since_ms": self.keep_firing_since_ms,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ActiveAlert:
        def opt(key: str) -> int | None:
            v = data.get(key)
            return None if v is None else int(v)  # type: ignore[call-overload]

        return cls(
            labels=tuple((str(k), str(v)) for k, v in data["labels"]),  # type: ignore[attr-defined]
            annotations=tuple((str(k), str(v)) for k, v in data.get("annotations", [])),  # type: ignore[attr-defined]
            state=AlertState(str(data["state"])),
            value=_from_json_float(data.get("value")),
            active_at_ms=int(data["active_at_ms"]),  # type: ignore[call-overload]
            fired_at_ms=opt("fired_at_ms"),
            resolved_at_ms=opt("resolved_at_ms"),
            last_sent_at_ms=opt("last_sent_at_ms"),
            valid_until_ms=opt("valid_until_ms"),
            keep_firing_since_ms=opt("keep_firing_since_ms"),
        )


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else repr(v)


def _from_json_float(v: object) -> float:
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        return float(v)
    return math.nan


ActiveAlerts = Mapping[Labels, ActiveAlert]


@dataclass(frozen=True, slots=True)
class AlertingOutcome:
    active: dict[Labels, ActiveAlert]
    samples: list[Sample]


def _alert_labels(
    rule: AlertingRule, metric: Labels, value: float, ctx: TemplateContext
) -> tuple[Labels, dict[str, str]]:
    data = dict(metric)
    out = {k: v for k, v in metric if k != METRIC_NAME}
    for name, tmpl in rule.labels:
        expanded = tmpl.expand(data, value, ctx)
        if expanded:
            out[name] = expanded
        else:
            out.pop(name, None)
    out["alertname"] = rule.name
    return tuple(sorted(out.items())), data


def evaluate_alerting(
    rule: AlertingRule,
    active: ActiveAlerts,
    result: Sequence[InstantSample],
    ts_ms: int,
    ctx: TemplateContext,
    limit: int = 0,
) -> AlertingOutcome:
    """One evaluation of ``rule`` at ``ts_ms`` over its query ``result``.

    Raises :class:`RuleEvalError` (state to be kept unchanged) on duplicate label sets;
    on exceeding ``limit`` it raises too, and the caller must clear the rule's alerts, as
    Prometheus does."""
    fresh: dict[Labels, ActiveAlert] = {}
    for sample in result:
        labels, data = _alert_labels(rule, sample.labels, sample.value, ctx)
        if labels in fresh:
            raise RuleEvalError("vector contains metrics with the same labelset after applying alert labels")
        annotations = tuple((k, t.expand(data, sample.value, ctx)) for k, t in rule.annotations)
        fresh[labels] = ActiveAlert(labels, annotations, AlertState.PENDING, sample.value, ts_ms)

    nxt: dict[Labels, ActiveAlert] = dict(active)
    for labels, alert in fresh.items():
        known = nxt.get(labels)
        if known is not None and known.state is not AlertState.INACTIVE:
            nxt[labels] = replace(known, value=alert.value, annotations=alert.annotations)
        else:
            nxt[labels] = alert

    samples: list[Sample] = []
    active_pending = 0
    for labels, current in list(nxt.items()):
        a = current
        if labels not in fresh:
            keep_firing = False
            if a.state is AlertState.FIRING and rule.keep_firing_for_ms > 0:
                since = a.keep_firing_since_ms if a.keep_firing_since_ms is not None else ts_ms
                if since != a.keep_firing_since_ms:
                    a = replace(a, keep_firing_since_ms=since)
                keep_firing = ts_ms - since < rule.keep_firing_for_ms
            if a.state is AlertState.PENDING or (
                a.resolved_at_ms is not None and ts_ms - a.resolved_at_ms > RESOLVED_RETENTION_MS
            ):
                del nxt[labels]
                continue
            if a.state is not AlertState.INACTIVE and not keep_firing:
                a = replace(a, state=AlertState.INACTIVE, resolved_at_ms=ts_ms)
            nxt[labels] = a
            if not keep_firing:
                continue
        elif a.keep_firing_since_ms is not None:
            a = replace(a, keep_firing_since_ms=None)
        active_pending += 1
        if a.state is AlertState.PENDING and ts_ms - a.active_at_ms >= rule.for_ms:
            a = replace(a, state=AlertState.FIRING, fired_at_ms=ts_ms)
        nxt[labels] = a
        samples.append((_series_labels(rule, a, ALERTS, a.state.value), 1.0))
        samples.append((_series_labels(rule, a, ALERTS_FOR_STATE, None), float(_go_unix(a.active_at_ms))))

    if limit > 0 and active_pending > limit:
        raise LimitExceeded(f"exceeded limit of {limit} with {active_pending} alerts")
    return AlertingOutcome(nxt, samples)


class LimitExceeded(RuleEvalError):
    """More alerts than the group's limit: Prometheus drops all of the rule's alerts."""


def _go_unix(ms: int) -> int:
    """``time.Time.Unix()``: whole seconds, rounded towards minus infinity."""
    return ms // 1000


def _series_labels(rule: AlertingRule, a: ActiveAlert, name: str, state: str | None) -> Labels:
    # Prometheus starts from the rule's *unexpanded* labels and sets the alert's over
    # them: a templated label that expanded to "" keeps its template text here.
    out = {k: v for k, v in rule.raw_labels}
    out.update(a.labels)
    out[METRIC_NAME] = name
    out["alertname"] = rule.name
    if state is not None:
        out["alertstate"] = state
    return tuple(sorted((k, v) for k, v in out.items() if v != ""))


# --- notifications ------------------------------------------------------------------------------
def needs_sending(a: ActiveAlert, ts_ms: int, resend_delay_ms: int) -> bool:
    if a.state is AlertState.PENDING:
        return False
    if a.resolved_at_ms is not None and (a.last_sent_at_ms is None or a.resolved_at_ms > a.last_sent_at_ms):
        return True
    last = a.last_sent_at_ms if a.last_sent_at_ms is not None else _GO_ZERO_TIME_MS
    return last + resend_delay_ms < ts_ms


_GO_ZERO_TIME_MS = -62_135_596_800_000
"""Go's zero ``time.Time`` (year 1) in Unix milliseconds: "never sent" is long ago."""


def table_link(expr: str) -> str:
    """Prometheus's ``strutil.TableLinkForExpression``."""
    return "/graph?g0.expr=" + urllib.parse.quote_plus(expr, safe="-_.~") + "&g0.tab=1"


def alerts_to_send(
    rule: AlertingRule,
    active: ActiveAlerts,
    ts_ms: int,
    resend_delay_ms: int,
    interval_ms: int,
    external_url: str = "",
) -> tuple[dict[Labels, ActiveAlert], list[Alert]]:
    """The alerts to hand to notification routing now, and the state with their
    ``last_sent_at`` / ``valid_until`` updated (Prometheus's ``sendAlerts``)."""
    delta = max(resend_delay_ms, interval_ms)
    nxt = dict(active)
    out: list[Alert] = []
    for labels, current in active.items():
        if not needs_sending(current, ts_ms, resend_delay_ms):
            continue
        a = replace(current, last_sent_at_ms=ts_ms, valid_until_ms=ts_ms + 4 * delta)
        nxt[labels] = a
        resolved = a.resolved_at_ms is not None
        out.append(
            Alert(
                labels=a.labels,
                annotations=a.annotations,
                starts_at_ms=a.fired_at_ms if a.fired_at_ms is not None else a.active_at_ms,
                ends_at_ms=a.resolved_at_ms if resolved else a.valid_until_ms,
                resolved=resolved,
                generator_url=external_url.rstrip("/") + table_link(rule.expr),
                value=a.value,
            )
        )
    return nxt, out
