"""One rule group evaluated at one timestamp, as Prometheus's ``Group.Eval`` does it.

Rules run in file order at the same timestamp, and each rule's output is written before
the next rule is queried, so a recording rule feeds the rules after it in the same
cycle. A failing rule does not stop the group: its error is recorded (and counted) and
the next rule runs. Series a rule wrote last cycle and not this one get a stale marker,
so queries stop seeing them at once instead of five minutes later.

The evaluator holds the group's alert state; :meth:`GroupEvaluator.snapshot` and
:meth:`GroupEvaluator.restore` turn it into JSON and back, which is how state survives a
restart (``for`` timers kept, nothing re-sent that was sent recently).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from scalepilot.control.alerting.rules import anomaly
from scalepilot.control.alerting.rules.alerting import (
    ActiveAlert,
    LimitExceeded,
    RuleEvalError,
    Sample,
    alerts_to_send,
    evaluate_alerting,
)
from scalepilot.control.alerting.rules.model import AlertingRule, RecordingRule, Rule, RuleGroup
from scalepilot.control.alerting.rules.recording import evaluate_recording
from scalepilot.control.alerting.rules.template import TemplateContext
from scalepilot.control.alerting.rules.template_funcs import QueryResult as TemplateQueryResult
from scalepilot.control.alerting.rules.template_funcs import make_sample
from scalepilot.domain.alerts import Alert, AlertState
from scalepilot.domain.labels import Labels
from scalepilot.domain.query import InstantSample, QueryError, QueryResult, RangeSeries, ResultType
from scalepilot.domain.samples import STALE_NAN

DEFAULT_OUTAGE_TOLERANCE_MS = 3_600_000
"""Prometheus's ``--rules.alert.for-outage-tolerance``: state older than this is not restored."""


class Querier(Protocol):
    """What rules are evaluated against (the PromQL engine over the store)."""

    def instant(self, expr: str, at_ms: int) -> QueryResult: ...

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult: ...


def vector_of(result: QueryResult) -> list[InstantSample]:
    """A rule's query result as samples: a scalar is one sample with no labels, as in
    Prometheus; a string or range vector is an error."""
    if result.type is ResultType.VECTOR:
        return list(result.vector)
    if result.type is ResultType.SCALAR and result.scalar is not None:
        return [InstantSample((), result.scalar[0], result.scalar[1])]
    raise RuleEvalError(f"rule result is not a vector or scalar: {result.type.value}")


@dataclass(slots=True)
class RuleStatus:
    health: str = "unknown"
    """``ok``, ``err`` or ``unknown`` (never evaluated), as Prometheus's rules API says."""
    last_error: str = ""
    last_eval_ms: int | None = None
    duration_s: float = 0.0


@dataclass(slots=True)
class GroupOutcome:
    ts_ms: int
    to_send: list[Alert] = field(default_factory=list)
    pending: list[Alert] = field(default_factory=list)
    failures: int = 0
    samples_written: int = 0
    duration_s: float = 0.0
    rule_durations: list[tuple[Rule, float]] = field(default_factory=list)


Writer = Callable[[Sequence[Sample], int], None]
"""Writes samples at a timestamp; called after each rule so the next one sees them."""


class GroupEvaluator:
    def __init__(
        self,
        group: RuleGroup,
        *,
        external_labels: Mapping[str, str] | None = None,
        external_url: str | None = None,
        resend_delay_ms: int = 60_000,
        for_grace_period_ms: int = 600_000,
        outage_tolerance_ms: int = DEFAULT_OUTAGE_TOLERANCE_MS,
    ) -> None:
        self.group = group
        self.external_url = external_url
        self.resend_delay_ms = resend_delay_ms
        self.for_grace_period_ms = for_grace_period_ms
        self.outage_tolerance_ms = outage_tolerance_ms
        self.query_offset_ms = group.query_offset_ms
        self._querier: Querier | None = None
        self._query_ts = 0
        self.ctx = TemplateContext(dict(external_labels or {}), external_url, self._template_query)
        self.active: dict[int, dict[Labels, ActiveAlert]] = {i: {} for i, _ in enumerate(group.rules)}
        self.status: dict[int, RuleStatus] = {i: RuleStatus() for i, _ in enumerate(group.rules)}
        self._written: dict[int, set[Labels]] = {i: set() for i, _ in enumerate(group.rules)}
        self.last_eval_ms: int | None = None
        self.last_duration_s = 0.0

    # --- evaluation -------------------------------------------------------------------
    def _template_query(self, expr: str) -> TemplateQueryResult:
        if self._querier is None:
            raise RuleEvalError("no query engine")
        samples = vector_of(self._querier.instant(expr, self._query_ts))
        return TemplateQueryResult(make_sample(dict(s.labels), s.value) for s in samples)

    def evaluate(self, ts_ms: int, querier: Querier, write: Writer) -> GroupOutcome:
        started = time.perf_counter()
        self._querier = querier
        self._query_ts = ts_ms - self.query_offset_ms
        out = GroupOutcome(ts_ms)
        for i, rule in enumerate(self.group.rules):
            rule_started = time.perf_counter()
            status = self.status[i]
            try:
                samples = self._eval_rule(i, rule, ts_ms, querier)
                status.health, status.last_error = "ok", ""
            except (RuleEvalError, QueryError) as exc:
                # As Prometheus: a failed rule writes nothing (no stale markers either)
                # and sends nothing this cycle.
                samples = None
                status.health, status.last_error = "err", str(exc)
                out.failures += 1
                if isinstance(exc, LimitExceeded):
                    self.active[i] = {}
            if samples is not None:
                self._write_rule(i, samples, ts_ms, write, out)
                if isinstance(rule, AlertingRule):
                    self.active[i], sent = alerts_to_send(
                        rule,
                        self.active[i],
                        ts_ms,
                        self.resend_delay_ms,
                        self.group.interval_ms,
                        self.external_url or "",
                    )
                    out.to_send.extend(sent)
            if isinstance(rule, AlertingRule):
                out.pending.extend(
                    Alert(a.labels, a.annotations, a.active_at_ms, None, False, "", a.value)
                    for a in self.active[i].values()
                    if a.state is AlertState.PENDING
                )
            status.last_eval_ms = ts_ms
            status.duration_s = time.perf_counter() - rule_started
            out.rule_durations.append((rule, status.duration_s))
        self._querier = None
        self.last_eval_ms = ts_ms
        out.duration_s = self.last_duration_s = time.perf_counter() - started
        return out

    def _write_rule(self, i: int, samples: list[Sample], ts_ms: int, write: Writer, out: GroupOutcome) -> None:
        written = {labels for labels, _ in samples}
        stale = [(labels, STALE_NAN) for labels in self._written[i] - written]
        self._written[i] = written
        if samples or stale:
            write([*samples, *stale], ts_ms)
            out.samples_written += len(samples)

    def _eval_rule(self, i: int, rule: Rule, ts_ms: int, querier: Querier) -> list[Sample]:
        at = ts_ms - self.query_offset_ms
        if isinstance(rule, RecordingRule):
            return evaluate_recording(rule, vector_of(querier.instant(rule.expr, at)), self.group.limit)
        result = vector_of(querier.instant(rule.expr, at))
        if rule.anomaly is not None and result:
            result = self._anomalous(rule, result, at, querier)
        outcome = evaluate_alerting(rule, self.active[i], result, ts_ms, self.ctx, self.group.limit)
        self.active[i] = outcome.active
        return outcome.samples

    def _anomalous(
        self, rule: AlertingRule, current: list[InstantSample], at: int, querier: Querier
    ) -> list[InstantSample]:
        params = rule.anomaly
        assert params is not None
        history: dict[Labels, list[list[float]]] = {}
        wanted = {s.labels for s in current}
        for slot in anomaly.slots(params, at, self.group.interval_ms):
            res = querier.range(rule.expr, slot.start_ms, slot.end_ms, slot.step_ms)
            series: Sequence[RangeSeries] = res.matrix if res.type is ResultType.MATRIX else ()
            for s in series:
                if s.labels in wanted:
                    history.setdefault(s.labels, []).append([float(v) for v in s.values])
        return anomaly.detect(params, current, history)

    # --- what people and routing see ----------------------------------------------------
    def alerts(self) -> list[tuple[AlertingRule, ActiveAlert]]:
        out: list[tuple[AlertingRule, ActiveAlert]] = []
        for i, rule in enumerate(self.group.rules):
            if isinstance(rule, AlertingRule):
                out.extend((rule, a) for a in self.active[i].values())
        return out

    def firing(self, alertname: str) -> list[ActiveAlert]:
        """Firing, unresolved alerts of the rules named ``alertname`` (what promtool's
        ``alert_rule_test`` compares)."""
        return [
            a
            for rule, a in self.alerts()
            if rule.name == alertname and a.state is AlertState.FIRING and a.resolved_at_ms is None
        ]

    # --- reload -------------------------------------------------------------------------
    def copy_state(self, old: GroupEvaluator) -> set[int]:
        """Take over ``old``'s state for the rules both have (Prometheus's ``CopyState``
        on reload): matched by name and labels, in order for duplicates, so an alert
        keeps its ``for`` timer and is not re-sent, and stale markers still follow.
        Returns the indices of ``old``'s rules that found no match."""
        by_key: dict[str, list[int]] = {}
        for j, rule in enumerate(old.group.rules):
            by_key.setdefault(rule.key, []).append(j)
        for i, rule in enumerate(self.group.rules):
            candidates = by_key.get(rule.key)
            if not candidates:
                continue
            j = candidates.pop(0)
            self.status[i] = old.status[j]
            self._written[i] = old._written[j]
            if isinstance(rule, AlertingRule) and isinstance(old.group.rules[j], AlertingRule):
                self.active[i] = old.active[j]
        self.last_eval_ms = old.last_eval_ms
        self.last_duration_s = old.last_duration_s
        return {j for left in by_key.values() for j in left}

    def stale_series(self, rules: set[int] | None = None) -> list[Sample]:
        """Stale markers for what ``rules`` (all by default) wrote last: a rule or group
        removed by a reload stops its series at once, as Prometheus does."""
        indices = range(len(self.group.rules)) if rules is None else sorted(rules)
        return [(labels, STALE_NAN) for i in indices for labels in sorted(self._written[i])]

    # --- persistence --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        rules: dict[str, list[dict[str, object]]] = {}
        for i, rule in enumerate(self.group.rules):
            if isinstance(rule, AlertingRule) and self.active[i]:
                rules[rule.key] = [a.to_dict() for a in self.active[i].values()]
        return {"version": 1, "saved_at_ms": self.last_eval_ms, "rules": rules}

    def restore(self, data: Mapping[str, Any], now_ms: int) -> int:
        """Take the state saved by :meth:`snapshot` before a restart; returns how many
        alerts were restored.

        Like Prometheus's ``RestoreForState``: state older than the outage tolerance is
        dropped; a firing alert stays firing (and, its last send being remembered, is
        not re-sent before the resend delay); a pending alert keeps the time it has
        already spent pending, but is given at least ``for_grace_period`` more so that
        a restart never fires an alert whose ``for`` was not really met (with a ``for``
        shorter than the grace period it simply starts pending again)."""
        if data.get("version") != 1:
            return 0
        down_at = data.get("saved_at_ms")
        if not isinstance(down_at, int) or now_ms - down_at > self.outage_tolerance_ms:
            return 0
        saved = data.get("rules")
        if not isinstance(saved, dict):
            return 0
        restored = 0
        for i, rule in enumerate(self.group.rules):
            if not isinstance(rule, AlertingRule) or rule.key not in saved:
                continue
            alerts: dict[Labels, ActiveAlert] = {}
            for raw in saved[rule.key]:
                try:
                    a = ActiveAlert.from_dict(raw)
                except (KeyError, TypeError, ValueError):
                    continue
                if a.state is AlertState.PENDING:
                    if rule.for_ms < self.for_grace_period_ms:
                        # Prometheus skips restoring these: waiting the whole (short)
                        # `for` again is no longer than the grace period would be.
                        continue
                    a = replace(a, active_at_ms=self._restored_active_at(rule, a, down_at, now_ms))
                alerts[a.labels] = a
                restored += 1
            self.active[i] = alerts
        return restored

    def _restored_active_at(self, rule: AlertingRule, a: ActiveAlert, down_at: int, now_ms: int) -> int:
        spent = down_at - a.active_at_ms
        remaining = rule.for_ms - spent
        if remaining <= 0:
            return a.active_at_ms
        if remaining < self.for_grace_period_ms:
            return now_ms + self.for_grace_period_ms - rule.for_ms
        return a.active_at_ms + (now_ms - down_at)
