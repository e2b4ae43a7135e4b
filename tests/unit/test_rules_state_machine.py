"""Prometheus's alert state machine, step by step, with hand-made query results.

No query engine is involved: each step hands ``evaluate_alerting`` the samples the
expression "returned", so these tests pin the state machine alone.
"""

from __future__ import annotations

import pytest

from scalepilot.control.alerting.rules.alerting import (
    RESOLVED_RETENTION_MS,
    ActiveAlert,
    LimitExceeded,
    RuleEvalError,
    alerts_to_send,
    evaluate_alerting,
)
from scalepilot.control.alerting.rules.group import GroupEvaluator
from scalepilot.control.alerting.rules.model import AlertingRule, RuleGroup
from scalepilot.control.alerting.rules.template import AlertTemplate, TemplateContext
from scalepilot.domain.alerts import AlertState
from scalepilot.domain.labels import Labels
from scalepilot.domain.query import InstantSample, QueryResult, ResultType

MIN = 60_000
CTX = TemplateContext({"cluster": "eu"})


def rule(
    for_ms: int = 0,
    keep_ms: int = 0,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> AlertingRule:
    return AlertingRule(
        "High",
        "m > 0",
        for_ms,
        keep_ms,
        tuple((k, AlertTemplate.parse(v, "High")) for k, v in (labels or {}).items()),
        tuple((k, AlertTemplate.parse(v, "High")) for k, v in (annotations or {}).items()),
    )


def sample(value: float = 1.0, **labels: str) -> InstantSample:
    return InstantSample((("__name__", "m"), *sorted(labels.items())), 0, value)


def run(r: AlertingRule, steps: list[list[InstantSample]], step_ms: int = MIN) -> list[dict[Labels, ActiveAlert]]:
    """The active alerts after each step."""
    active: dict[Labels, ActiveAlert] = {}
    out = []
    for i, result in enumerate(steps):
        active = evaluate_alerting(r, active, result, i * step_ms, CTX).active
        out.append(dict(active))
    return out


def states(history: list[dict[Labels, ActiveAlert]]) -> list[str]:
    return [",".join(a.state.value for a in h.values()) or "-" for h in history]


def test_for_fires_when_elapsed_reaches_for_exactly() -> None:
    h = run(rule(for_ms=2 * MIN), [[sample()]] * 4)
    assert states(h) == ["pending", "pending", "firing", "firing"]
    alert = next(iter(h[2].values()))
    assert alert.active_at_ms == 0 and alert.fired_at_ms == 2 * MIN


def test_for_zero_fires_at_once() -> None:
    assert states(run(rule(), [[sample()]])) == ["firing"]


def test_pending_that_clears_is_dropped_and_never_sent() -> None:
    r = rule(for_ms=5 * MIN)
    h = run(r, [[sample()], [sample()], []])
    assert states(h) == ["pending", "pending", "-"]
    _, sent = alerts_to_send(r, h[1], MIN, 60_000, MIN)
    assert sent == []


def test_resolved_alert_is_kept_and_resent_for_fifteen_minutes() -> None:
    r = rule()
    active = evaluate_alerting(r, {}, [sample()], 0, CTX).active
    active, sent = alerts_to_send(r, active, 0, 60_000, MIN)
    assert [a.resolved for a in sent] == [False]
    active = evaluate_alerting(r, active, [], MIN, CTX).active
    (a,) = active.values()
    assert a.state is AlertState.INACTIVE and a.resolved_at_ms == MIN
    active, sent = alerts_to_send(r, active, MIN, 60_000, MIN)
    assert [(s.resolved, s.ends_at_ms) for s in sent] == [(True, MIN)]
    # Still held (and resent on the resend delay) until 15 minutes after resolving.
    t = MIN + RESOLVED_RETENTION_MS
    active = evaluate_alerting(r, active, [], t, CTX).active
    assert len(active) == 1
    _, sent = alerts_to_send(r, active, t, 60_000, MIN)
    assert [s.resolved for s in sent] == [True]
    active = evaluate_alerting(r, active, [], t + MIN, CTX).active
    assert active == {}


def test_firing_alert_is_resent_after_resend_delay_with_ends_at_ahead() -> None:
    r = rule()
    active = evaluate_alerting(r, {}, [sample()], 0, CTX).active
    active, sent = alerts_to_send(r, active, 0, 60_000, 15_000)
    assert sent[0].ends_at_ms == 4 * 60_000
    for t in (15_000, 30_000, 45_000, 60_000):
        active = evaluate_alerting(r, active, [sample()], t, CTX).active
        active, sent = alerts_to_send(r, active, t, 60_000, 15_000)
        assert sent == []
    active = evaluate_alerting(r, active, [sample()], 75_000, CTX).active
    _, sent = alerts_to_send(r, active, 75_000, 60_000, 15_000)
    assert len(sent) == 1 and sent[0].starts_at_ms == 0


def test_keep_firing_for_holds_then_resolves() -> None:
    h = run(rule(keep_ms=2 * MIN), [[sample()], [], [], [], [sample()]])
    assert states(h) == ["firing", "firing", "firing", "inactive", "firing"]
    # keep_firing_since is reset once the condition is back.
    assert next(iter(h[4].values())).keep_firing_since_ms is None


def test_keep_firing_for_does_not_apply_to_pending() -> None:
    h = run(rule(for_ms=3 * MIN, keep_ms=10 * MIN), [[sample()], []])
    assert states(h) == ["pending", "-"]


def test_known_alert_keeps_active_at_and_takes_new_value_and_annotations() -> None:
    r = rule(for_ms=10 * MIN, annotations={"v": "{{ $value }}"})
    h = run(r, [[sample(1)], [sample(7)]])
    a = next(iter(h[1].values()))
    assert a.active_at_ms == 0 and a.value == 7 and a.annotations == (("v", "7"),)


def test_labels_are_templated_and_empty_results_drop_the_label() -> None:
    r = rule(labels={"sev": "{{ if gt $value 5.0 }}crit{{ else }}warn{{ end }}", "team": "{{ $labels.team }}"})
    h = run(r, [[sample(9, team="core"), sample(1, zone="z")]])
    assert set(h[0]) == {
        (("alertname", "High"), ("sev", "crit"), ("team", "core")),
        (("alertname", "High"), ("sev", "warn"), ("zone", "z")),
    }


def test_series_written_follow_prometheus() -> None:
    r = rule(for_ms=MIN, labels={"sev": "x"})
    out = evaluate_alerting(r, {}, [sample(3, job="j")], 90_500, CTX)
    assert out.samples == [
        ((("__name__", "ALERTS"), ("alertname", "High"), ("alertstate", "pending"), ("job", "j"), ("sev", "x")), 1.0),
        ((("__name__", "ALERTS_FOR_STATE"), ("alertname", "High"), ("job", "j"), ("sev", "x")), 90.0),
    ]


def test_duplicate_label_sets_are_an_error() -> None:
    r = rule(labels={"a": "b"})
    with pytest.raises(RuleEvalError, match="same labelset after applying alert labels"):
        evaluate_alerting(r, {}, [sample(job="x"), InstantSample((("__name__", "other"), ("job", "x")), 0, 1)], 0, CTX)


def test_limit_exceeded() -> None:
    with pytest.raises(LimitExceeded, match="exceeded limit of 1 with 2 alerts"):
        evaluate_alerting(rule(), {}, [sample(i="1"), sample(i="2")], 0, CTX, limit=1)


class Steps:
    """A querier answering each instant query from a script of results."""

    def __init__(self, results: dict[int, list[InstantSample]]) -> None:
        self.results = results

    def instant(self, expr: str, at_ms: int) -> QueryResult:
        return QueryResult(ResultType.VECTOR, vector=tuple(self.results.get(at_ms, [])))

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        return QueryResult(ResultType.MATRIX)


def group(r: AlertingRule) -> RuleGroup:
    return RuleGroup("g", "f.yml", MIN, (r,))


def test_group_writes_stale_markers_for_series_that_disappear() -> None:
    written: list[tuple[int, list[tuple[Labels, float]]]] = []
    ev = GroupEvaluator(group(rule()))
    q = Steps({0: [sample()]})
    ev.evaluate(0, q, lambda s, t: written.append((t, list(s))))
    ev.evaluate(MIN, q, lambda s, t: written.append((t, list(s))))
    (t, last) = written[-1]
    assert t == MIN and len(last) == 2 and all(v != v for _, v in last)  # NaN stale markers


def test_restart_restores_firing_without_resending_and_keeps_for_timers() -> None:
    r = rule(for_ms=30 * MIN)
    ev = GroupEvaluator(group(r), for_grace_period_ms=10 * MIN, resend_delay_ms=5 * MIN)
    q = Steps({t * MIN: [sample()] for t in range(40)})
    sent = []
    for t in range(0, 32):
        sent += ev.evaluate(t * MIN, q, lambda s, t: None).to_send
    assert [a.starts_at_ms for a in sent] == [30 * MIN]  # fired at 30m
    saved = ev.snapshot()

    again = GroupEvaluator(group(r), for_grace_period_ms=10 * MIN, resend_delay_ms=5 * MIN)
    assert again.restore(saved, 33 * MIN) == 1
    (a,) = again.active[0].values()
    assert a.state is AlertState.FIRING and a.active_at_ms == 0
    # Last sent at 30m: nothing is re-sent after the restart until the resend delay
    # has passed, exactly as if there had been no restart.
    resent = [(t, again.evaluate(t * MIN, q, lambda s, t: None).to_send) for t in range(33, 37)]
    assert [(t, len(x)) for t, x in resent] == [(33, 0), (34, 0), (35, 0), (36, 1)]
    assert resent[-1][1][0].starts_at_ms == 30 * MIN


def test_restart_gives_a_pending_alert_the_grace_period() -> None:
    r = rule(for_ms=30 * MIN)
    ev = GroupEvaluator(group(r), for_grace_period_ms=10 * MIN)
    q = Steps({t * MIN: [sample()] for t in range(80)})
    for t in range(0, 26):
        ev.evaluate(t * MIN, q, lambda s, t: None)
    saved = ev.snapshot()  # pending for 25m; 5m left
    again = GroupEvaluator(group(r), for_grace_period_ms=10 * MIN)
    again.restore(saved, 30 * MIN)
    (a,) = again.active[0].values()
    # 5m left < 10m grace: it may fire no sooner than 10m after the restart.
    assert a.active_at_ms == 30 * MIN + 10 * MIN - 30 * MIN
    states_seen = []
    for t in range(30, 41):
        again.evaluate(t * MIN, q, lambda s, t: None)
        states_seen.append(next(iter(again.active[0].values())).state)
    assert states_seen[:-1] == [AlertState.PENDING] * 10 and states_seen[-1] is AlertState.FIRING


def test_state_older_than_the_outage_tolerance_is_not_restored() -> None:
    r = rule()
    ev = GroupEvaluator(group(r))
    ev.evaluate(0, Steps({0: [sample()]}), lambda s, t: None)
    assert GroupEvaluator(group(r)).restore(ev.snapshot(), 2 * 3_600_000) == 0


class Recorder(Steps):
    def __init__(self, results: dict[int, list[InstantSample]]) -> None:
        super().__init__(results)
        self.asked: list[int] = []

    def instant(self, expr: str, at_ms: int) -> QueryResult:
        self.asked.append(at_ms)
        return super().instant(expr, at_ms)


def test_query_offset_queries_the_past_and_writes_at_the_evaluation_time() -> None:
    from scalepilot.control.alerting.rules.model import RecordingRule

    g = RuleGroup("g", "f.yml", MIN, (RecordingRule("r", "m", ()),), query_offset_ms=30_000)
    q = Recorder({MIN - 30_000: [sample(5)]})
    written: list[tuple[int, list[tuple[Labels, float]]]] = []
    GroupEvaluator(g).evaluate(MIN, q, lambda s, t: written.append((t, list(s))))
    assert q.asked == [MIN - 30_000]
    assert written == [(MIN, [((("__name__", "r"),), 5.0)])]


def test_recording_rule_limit_and_duplicates_fail_the_rule_only() -> None:
    from scalepilot.control.alerting.rules.model import RecordingRule

    rules = (RecordingRule("r", "m", (("drop", ""),)), rule())
    g = RuleGroup("g", "f.yml", MIN, rules, limit=1)
    ev = GroupEvaluator(g)
    out = ev.evaluate(0, Steps({0: [sample(1, i="a"), sample(2, i="b")]}), lambda s, t: None)
    assert out.failures == 2
    assert "exceeded limit of 1 with 2 series" in ev.status[0].last_error
    assert "exceeded limit of 1 with 2 alerts" in ev.status[1].last_error
    assert ev.active[1] == {}
    out = ev.evaluate(MIN, Steps({MIN: [sample(1, i="a")]}), lambda s, t: None)
    assert out.failures == 0 and [s.health for s in ev.status.values()] == ["ok", "ok"]


def test_reload_keeps_the_state_of_rules_that_stay_and_stales_the_removed_ones() -> None:
    import dataclasses

    kept = rule(for_ms=10 * MIN)
    removed = dataclasses.replace(rule(), name="Gone")
    ev = GroupEvaluator(RuleGroup("g", "f.yml", MIN, (removed, kept)))
    q = Steps({t * MIN: [sample()] for t in range(20)})
    for t in range(5):
        ev.evaluate(t * MIN, q, lambda s, t: None)
    (pending,) = ev.active[1].values()
    assert pending.state is AlertState.PENDING and pending.active_at_ms == 0

    # The reloaded group: the kept rule moved, a new one joined, one was removed.
    added = dataclasses.replace(rule(), name="New")
    after = GroupEvaluator(RuleGroup("g", "f.yml", MIN, (added, kept)))
    left = after.copy_state(ev)
    assert left == {0}
    stale = ev.stale_series(left)
    assert stale and all(v != v for _, v in stale)  # NaN stale markers for "Gone"'s series
    assert {dict(labels)["alertname"] for labels, _ in stale} == {"Gone"}
    # The `for` timer carries on from 0: the alert fires at 10m, not 10m after the reload.
    sent = []
    for t in range(5, 11):
        sent += after.evaluate(t * MIN, q, lambda s, t: None).to_send
    high = [a.starts_at_ms for a in sent if ("alertname", "High") in a.labels]
    assert high == [10 * MIN]
    assert after.active[0] and all(a.active_at_ms == 5 * MIN for a in after.active[0].values())
