"""The rollout state machine, on a virtual clock: stages, holds, analysis, deadlines,
and a person's commands."""

from __future__ import annotations

import math

import pytest

from scalepilot.config.rollout import RolloutSettings
from scalepilot.control.rollout import advance, command, compile_plan, judge, measure_due, start
from scalepilot.control.rollout.machine import RolloutCommandError, applicable
from scalepilot.control.rollout.plan import MANUAL, Plan, canary_replicas
from scalepilot.domain.rollout import Phase, RolloutObservation, RolloutState, Verdict


def plan(**settings: object) -> Plan:
    return compile_plan(RolloutSettings.model_validate(settings), "shop")


def obs(ready: int, stable: int = 10, m: object = None) -> RolloutObservation:
    return RolloutObservation(stable, ready, m)  # type: ignore[arg-type]


CANARY = {
    "steps": [{"weight": 10}, {"pause": "2m"}, {"weight": 50}, {"pause": "manual"}],
    "scale_down_delay": "30s",
}


def test_canary_compiles_to_stages_ending_in_all_traffic() -> None:
    p = plan(**CANARY)
    assert [(s.weight, s.scale, s.hold) for s in p.stages] == [
        (10, 10, 0.0),
        (10, 10, 120.0),
        (50, 50, 0.0),
        (50, 50, MANUAL),
        (100, 100, 30.0),
    ]
    assert [s.kind for s in p.stages] == ["weight", "pause", "weight", "pause", "all"]
    bg = plan(strategy="blue_green", preview="1m")
    assert [(s.weight, s.scale, s.hold) for s in bg.stages] == [(0, 100, 60.0), (100, 100, 30.0)]
    assert [s.kind for s in bg.stages] == ["preview", "all"]
    assert [(s.weight, s.hold) for s in plan().stages] == [(100, 30.0)]


@pytest.mark.parametrize(("scale", "stable", "want"), [(0, 10, 0), (10, 10, 1), (10, 3, 1), (25, 10, 3), (100, 7, 7)])
def test_canary_size_rounds_up_and_is_at_least_one(scale: int, stable: int, want: int) -> None:
    assert canary_replicas(scale, stable) == want


def test_a_stage_applies_its_weight_only_once_its_replicas_are_ready() -> None:
    p = plan(**CANARY)
    s = start("new", "old", 0.0)
    d, s = advance(p, s, obs(ready=0), 1.0)
    assert (d.weight, d.canary_replicas, s.stage, s.reached_at) == (0, 1, 0, None)
    d, s = advance(p, s, obs(ready=1), 5.0)
    # Stage 1 (weight 10) and stage 2 (its pause, same size) are reached in one call.
    assert (d.weight, d.canary_replicas, s.stage, s.reached_at) == (10, 1, 1, 5.0)
    assert [t.kind for t in d.transitions] == ["rollout_step", "rollout_step"]
    d, s = advance(p, s, obs(ready=1), 124.9)
    assert s.stage == 1  # the 2m pause is not over
    d, s = advance(p, s, obs(ready=1), 125.0)
    assert (s.stage, d.canary_replicas, d.weight) == (2, 5, 10)  # 50 % of 10, traffic still 10 %
    d, s = advance(p, s, obs(ready=5), 130.0)
    assert (s.stage, d.weight) == (3, 50)  # the manual pause: only a person moves it on
    d, s = advance(p, s, obs(ready=5), 1e6)
    assert (s.stage, s.phase, d.promote) == (3, Phase.PROGRESSING, False)


def test_a_manual_pause_ends_on_promote_then_all_traffic_then_promotion_after_the_delay() -> None:
    p = plan(**CANARY)
    s = RolloutState("new", "old", 0.0, stage=3, stage_started_at=10.0, reached_at=10.0, weight=50)
    _, s, _ = command(p, s, "promote", 100.0, "token:alice")
    d, s = advance(p, s, obs(ready=5), 101.0)
    assert (s.stage, d.canary_replicas, d.weight) == (4, 10, 50)  # full size first, traffic when ready
    d, s = advance(p, s, obs(ready=10), 102.0)
    assert (d.weight, d.promote, s.phase) == (100, False, Phase.PROGRESSING)
    d, s = advance(p, s, obs(ready=10), 131.9)
    assert not d.promote
    d, s = advance(p, s, obs(ready=10), 132.0)
    assert d.promote and s.phase is Phase.PROMOTED and s.ended_at == 132.0
    assert d.transitions[-1].kind == "rollout_promoted"
    # Ended: nothing more is asked, commands are refused.
    ended, after = advance(p, s, obs(ready=10), 200.0)
    assert after is s and (ended.weight, ended.canary_replicas, ended.promote, ended.transitions) == (0, 0, False, ())
    with pytest.raises(RolloutCommandError, match="already ended"):
        command(p, s, "abort", 201.0, "bob")


def test_progress_deadline_aborts_a_stage_whose_replicas_never_get_ready() -> None:
    p = plan(steps=[{"weight": 50}], progress_deadline="5m")
    s = start("new", "old", 0.0)
    d, s = advance(p, s, obs(ready=4), 299.0)
    assert s.phase is Phase.PROGRESSING and d.canary_replicas == 5
    d, s = advance(p, s, obs(ready=4), 300.0)
    assert s.phase is Phase.ABORTED and (d.weight, d.canary_replicas) == (0, 0)
    assert "4 of 5 new replicas ready after 5m" in s.reason
    assert d.transitions[-1].kind == "rollout_aborted"


def test_the_hard_deadline_counts_pauses_too() -> None:
    p = plan(steps=[{"weight": 10}, {"pause": "manual"}], deadline="10m")
    s = start("new", "old", 0.0)
    _, s = advance(p, s, obs(ready=1), 1.0)
    _, s = advance(p, s, obs(ready=1), 599.0)
    assert s.phase is Phase.PROGRESSING
    _, s = advance(p, s, obs(ready=1), 600.0)
    assert s.phase is Phase.ABORTED and "deadline 10m passed" in s.reason


ANALYSED = {
    "steps": [{"weight": 20}, {"pause": "10m"}],
    "analysis": {"interval": "30s", "max_error_rate": "1%", "max_latency": "500ms", "failure_limit": 1},
}


def test_measurements_start_one_interval_after_the_canary_gets_traffic() -> None:
    p = plan(**ANALYSED)
    s = start("new", "old", 0.0)
    assert not measure_due(p, s, 0.0)
    _, s = advance(p, s, obs(ready=2), 10.0)
    assert s.weight == 20 and s.next_measure_at == 40.0
    assert not measure_due(p, s, 39.9) and measure_due(p, s, 40.0)
    assert p.analysis is not None
    m = judge(p.analysis, [(0.2, ""), (0.12, "")], 40.0)
    _, s = advance(p, s, obs(ready=2, m=m), 40.0)
    assert (s.next_measure_at, s.failures, s.measurements) == (70.0, 0, (m,))


def test_failures_beyond_the_limit_abort() -> None:
    p = plan(**ANALYSED)
    assert p.analysis is not None
    s = RolloutState("new", "old", 0.0, stage=1, reached_at=10.0, weight=20, next_measure_at=40.0)
    bad = judge(p.analysis, [(3.5, ""), (0.1, "")], 40.0)
    assert bad.verdict is Verdict.FAILED
    d, s = advance(p, s, obs(ready=2, m=bad), 40.0)
    assert s.phase is Phase.PROGRESSING and s.failures == 1  # failure_limit 1 tolerates one
    assert d.transitions[0].kind == "rollout_analysis_failed"
    d, s = advance(p, s, obs(ready=2, m=judge(p.analysis, [(0.1, ""), (0.9, "")], 70.0)), 70.0)
    assert s.phase is Phase.ABORTED and (d.weight, d.canary_replicas) == (0, 0)
    assert "latency 0.9 (not ≤ 0.5s)" in s.reason


@pytest.mark.parametrize(("policy", "phase", "failures"), [("pause", Phase.PAUSED, 0), ("fail", Phase.PROGRESSING, 1)])
def test_no_data_follows_the_explicit_policy(policy: str, phase: Phase, failures: int) -> None:
    p = plan(steps=[{"weight": 20}], analysis={"max_error_rate": 1, "on_no_data": policy, "failure_limit": 3})
    assert p.analysis is not None
    s = RolloutState("new", "old", 0.0, stage=0, reached_at=10.0, weight=20, next_measure_at=40.0)
    m = judge(p.analysis, [(math.nan, "")], 40.0)  # 0/0: the canary got no request
    assert m.verdict is Verdict.NO_DATA
    d, s = advance(p, s, obs(ready=2, m=m), 40.0)
    assert (s.phase, s.failures) == (phase, failures)
    if policy == "pause":
        assert "no data" in s.reason and d.weight == 20  # traffic stays as it is while a person decides
        d, s = advance(p, s, obs(ready=2), 1e5)
        assert s.phase is Phase.PAUSED and not d.promote


def test_pass_on_no_data_lets_the_rollout_go_on() -> None:
    p = plan(steps=[{"weight": 20}], analysis={"max_error_rate": 1, "on_no_data": "pass"}, scale_down_delay=0)
    assert p.analysis is not None
    s = RolloutState("new", "old", 0.0, stage=0, reached_at=10.0, weight=20, next_measure_at=40.0)
    m = judge(p.analysis, [(None, "")], 40.0)
    d, s = advance(p, s, obs(ready=10, m=m), 40.0)
    assert s.failures == 0 and d.promote


def test_pause_and_resume_do_not_count_the_paused_time() -> None:
    p = plan(steps=[{"weight": 10}, {"pause": "2m"}])
    s = start("new", "old", 0.0)
    _, s = advance(p, s, obs(ready=1), 0.0)
    _, s, ts = command(p, s, "pause", 60.0, "alice")
    assert s.phase is Phase.PAUSED and ts[0].kind == "rollout_paused"
    _, s = advance(p, s, obs(ready=1), 1000.0)
    assert s.stage == 1 and s.phase is Phase.PAUSED
    with pytest.raises(RolloutCommandError, match="already paused"):
        command(p, s, "pause", 1001.0, "alice")
    _, s, ts = command(p, s, "resume", 1060.0, "alice")  # paused 1000 s: 60 s of the hold were served
    assert ts[0].kind == "rollout_resumed"
    _, s = advance(p, s, obs(ready=1), 1119.0)
    assert s.stage == 1
    _, s = advance(p, s, obs(ready=1), 1120.0)
    assert s.stage == 2
    with pytest.raises(RolloutCommandError, match="not paused"):
        command(p, s, "resume", 1121.0, "alice")


def test_promote_full_goes_straight_to_all_traffic_and_abort_takes_it_all_back() -> None:
    p = plan(**CANARY)
    s = start("new", "old", 0.0)
    _, s = advance(p, s, obs(ready=1), 0.0)
    _, s, _ = command(p, s, "promote_full", 5.0, "alice")
    d, s = advance(p, s, obs(ready=1), 6.0)
    assert (s.stage, d.canary_replicas, d.weight) == (4, 10, 10)
    d, s = advance(p, s, obs(ready=10), 7.0)
    assert d.promote and s.reason == "promoted by hand"

    s = start("new", "old", 0.0)
    _, s = advance(p, s, obs(ready=1), 0.0)
    undo, s, ts = command(p, s, "abort", 5.0, "bob")
    assert undo is not None and (undo.weight, undo.canary_replicas) == (0, 0)
    assert s.phase is Phase.ABORTED and s.reason == "aborted by bob" and ts[0].kind == "rollout_aborted"
    with pytest.raises(RolloutCommandError, match="unknown action"):
        command(p, start("a", "b", 0.0), "skip", 0.0, "x")


def test_state_round_trips_through_json() -> None:
    p = plan(**ANALYSED)
    assert p.analysis is not None
    s = RolloutState("new", "old", 0.0, stage=1, reached_at=10.0, weight=20, next_measure_at=40.0)
    _, s = advance(p, s, obs(ready=2, m=judge(p.analysis, [(3.5, ""), (None, "timeout")], 40.0)), 40.0)
    import json

    assert RolloutState.from_dict(json.loads(json.dumps(s.to_dict()))) == s


@pytest.mark.parametrize(
    ("analysis", "says"),
    [
        ({}, "analysis checks nothing"),
        ({"max_latency_ratio": 1}, "greater than 1"),
        ({"checks": [{"name": "latency_ratio", "query": "vector(1)", "max": 1}]}, "built-in checks"),
        ({"checks": [{"name": "x", "query": "vector(1)"}]}, "cannot fail"),
        ({"checks": [{"name": "x", "query": "up[5m]", "max": 1}]}, "range vector"),
    ],
)
def test_analysis_settings_that_could_not_work_are_refused(analysis: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        RolloutSettings.model_validate({"analysis": analysis})


def test_comparisons_with_stable_are_left_out_at_all_traffic() -> None:
    p = plan(analysis={"max_error_rate": 1, "max_error_rate_increase": 0.5})
    assert p.analysis is not None
    base, versus = p.analysis.checks
    assert not base.against_stable and versus.against_stable and 'group="stable"' in versus.query
    assert [applicable(c, 50) for c in p.analysis.checks] == [True, True]
    assert [applicable(c, 100) for c in p.analysis.checks] == [True, False]
