"""The HPA's ``behavior``: stabilization windows and rate policies, table-driven.

Covers: Kubernetes' ``TestScalingWithRules`` table (Pods and Percent policies, with and
without earlier scale events inside the period, selectPolicy Max, the min/max clamp
against the rate limits); ``TestNormalizeDesiredReplicasWithBehavior`` (scale-up and
scale-down windows, old recommendations ignored); selectPolicy Min and Disabled; the
default policies (up max(+4 pods, +100 %) per 15 s, down -100 % per 15 s) and the default
300 s scale-down window, stepped in virtual time (minutes of loop time in milliseconds);
the documentation's scale-down example (80 -> 10 at max(4 pods, 10 %) per minute); the
initial recommendation that holds a fresh autoscaler for one window; a manual scale
recorded with ``with_scale_event`` counting against the rate policies; bounded history.
"""

from __future__ import annotations

from typing import Any

import pytest

from scalepilot.control.scaling import decide
from scalepilot.domain.scaling import LimitKind, ScalerState
from tests.unit.test_scaling_support import T0, Run, policy, service

# An AverageValue target of 1 on a service total proposes exactly that total: ceil(P / 1).
EXACT = [{"type": "series", "name": "want", "query": "want", "target": 1, "target_type": "average_value"}]


def rules(pods: int = 0, pods_period: int = 0, percent: int = 0, percent_period: int = 0) -> dict[str, Any]:
    """Kubernetes' ``generateScalingRules`` (stabilization 0 here: these cases test the rates)."""
    policies = []
    if pods:
        policies.append({"type": "Pods", "value": pods, "periodSeconds": pods_period})
    if percent:
        policies.append({"type": "Percent", "value": percent, "periodSeconds": percent_period})
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": policies}


def uniform(changes: list[int], period: float, sign: int) -> tuple[tuple[float, int], ...]:
    """Kubernetes' ``generateEventsUniformDistribution``: events at the centres of equal
    segments of the last ``period`` seconds, oldest first."""
    seg = period / len(changes)
    return tuple((T0 - (period - seg * (i + 1) + seg / 2), sign * c) for i, c in enumerate(changes))


UP_EVENTS = uniform([1, 5, 9], 120, +1)
DOWN_EVENTS = uniform([1, 5, 9], 120, -1)
NO_RULES = {"stabilizationWindowSeconds": 0}

RATE_CASES = [
    # name, current, desired, min, max, scaleUp, scaleDown, events, expected
    ("prenormalized desired replicas within range", 5, 7, 3, 8, NO_RULES, NO_RULES, (), 7),
    ("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, NO_RULES, NO_RULES, (), 2),
    ("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, NO_RULES, NO_RULES, (), 10),
    ("desired replica count is more than the maximum replica count", 100, 1000, 100, 150, NO_RULES, NO_RULES, (), 150),
    ("scaleUpLimit is the limit with user policies", 3, 1000, 1, 2000, rules(0, 0, 1, 60), NO_RULES, (), 4),
    ("scaleDownLimit is the limit with user defined policies", 1000, 3, 3, 2000, NO_RULES, rules(20, 60), (), 980),
    ("scaleUp with default behavior", 10, 50, 1, 1000, NO_RULES, NO_RULES, (), 20),
    ("scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000, rules(100, 60, 100, 60), NO_RULES,
     (), 110),
    ("scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000, rules(2, 60, 100, 60), NO_RULES,
     (), 20),
    ("scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000, rules(100, 60), NO_RULES,
     (), 50),
    ("scaleUp with spec MaxReplicas limitation with large percent policy", 10, 50, 1, 1000, rules(0, 0, 10000, 60),
     NO_RULES, (), 50),
    ("scaleUp with pod policy limitation", 10, 50, 1, 1000, rules(30, 60), NO_RULES, (), 40),
    ("scaleUp with percent policy limitation", 10, 50, 1, 1000, rules(0, 0, 200, 60), NO_RULES, (), 30),
    ("scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000, NO_RULES, rules(20, 60, 1, 60), (), 80),
    ("scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000, NO_RULES, rules(2, 60, 1, 60), (), 98),
    ("scaleDown with spec MinReplicas limitation with large pod policy", 10, 0, 1, 1000, NO_RULES, rules(100, 60),
     (), 1),
    ("scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000, NO_RULES,
     rules(0, 0, 100, 60), (), 5),
    ("scaleDown with pod policy limitation", 10, 2, 1, 1000, NO_RULES, rules(5, 60), (), 5),
    ("scaleDown with percent policy limitation", 10, 5, 1, 1000, NO_RULES, rules(0, 0, 50, 60), (), 5),
    # 200 < 100 - 9 + 300: only the event 20 s ago is inside the 60 s period
    ("scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200,
     rules(300, 60), NO_RULES, UP_EVENTS, 200),
    ("scaleUp with spec MaxReplicas limitation with large percent policy and events", 100, 500, 1, 200,
     rules(0, 0, 10000, 60), NO_RULES, UP_EVENTS, 200),
    # 120 s ago there were 100 - 15 replicas and +5 are allowed: below current, so no scale-up at all
    ("scaleUp with currentReplicas limitation with a lot of recent scale up events", 100, 500, 1, 1000,
     rules(5, 120), NO_RULES, UP_EVENTS, 100),
    ("scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000, rules(150, 120), NO_RULES,
     UP_EVENTS, 235),  # 100 - 15 + 150
    ("scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000, rules(0, 0, 200, 120),
     NO_RULES, UP_EVENTS, 255),  # (100 - 15) + 200 %
    # the default down policy (100 % per 15 s) is not touched by events 20 s and more ago
    ("scaleDown with default policy and previous events", 10, 5, 1, 1000, NO_RULES, NO_RULES, DOWN_EVENTS, 5),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", 100, 0, 1, 1000,
     NO_RULES, rules(115, 120), DOWN_EVENTS, 1),
    ("scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000,
     NO_RULES, rules(130, 120), DOWN_EVENTS, 5),
    ("scaleDown with spec MinReplicas limitation with large percent policy and previous events", 100, 2, 5, 1000,
     NO_RULES, rules(0, 0, 100, 120), DOWN_EVENTS, 5),
    ("scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000, NO_RULES, rules(5, 120),
     DOWN_EVENTS, 100),  # 100 + 15 - 5 = 110 is above current: no scale-down
    ("scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000, NO_RULES,
     rules(0, 0, 50, 120), uniform([2, 4, 6], 120, -1), 56),  # (100 + 12) - 50 %
    ("scaleDown with previous events preventing further scale down", 100, 0, 1, 1000, NO_RULES,
     rules(0, 0, 10, 120), uniform([10, 10, 10], 120, -1), 100),  # (100 + 30) - 10 % = 117
    ("scaleDown with previous events still allowing more scale down", 10, 5, 1, 1000, NO_RULES,
     rules(0, 0, 1000, 120), uniform([10, 10, 10], 120, -1), 5),  # (10 + 30) - 1000 % < 0
    ("check 'outdated' flag for events for one behavior for up", 100, 200, 1, 1000, rules(1000, 60), NO_RULES,
     uniform([8, 12, 9, 11], 120, +1), 200),
    ("check 'outdated' flag for events for one behavior for down", 100, 5, 1, 1000, NO_RULES, rules(1000, 60),
     uniform([8, 12, 9, 11], 120, -1), 5),
]  # fmt: skip


@pytest.mark.parametrize(
    ("current", "desired", "lo", "hi", "up", "down", "events", "expected"),
    [case[1:] for case in RATE_CASES],
    ids=[case[0] for case in RATE_CASES],
)
def test_scaling_with_rules(
    current: int,
    desired: int,
    lo: int,
    hi: int,
    up: dict[str, Any],
    down: dict[str, Any],
    events: tuple[tuple[float, int], ...],
    expected: int,
) -> None:
    # TestScalingWithRules (horizontal_test.go), driven through decide() with a metric that
    # proposes exactly `desired`
    p = policy(
        metrics=EXACT, min_replicas=lo, max_replicas=hi, tolerance=0, behavior={"scaleUp": up, "scaleDown": down}
    )
    decision, _ = decide(p, ScalerState(events=events), service(current, {"want": desired}), T0)
    if lo <= current <= hi:  # otherwise the count goes straight to the bound, metrics unused
        assert decision.proposal == desired
    assert decision.replicas == expected


def stabilization(up: int, down: int) -> Any:
    return policy(
        metrics=EXACT,
        tolerance=0,
        behavior={
            "scaleUp": {
                "stabilizationWindowSeconds": up,
                "policies": [{"type": "Pods", "value": 1000, "periodSeconds": 1}],
            },
            "scaleDown": {"stabilizationWindowSeconds": down},
        },
    )


@pytest.mark.parametrize(
    ("recommendations", "current", "desired", "up", "down", "expected"),
    [
        # TestNormalizeDesiredReplicasWithBehavior, recommendations as (seconds ago, replicas)
        ([], 100, 5, 0, 0, 5),  # empty recommendations for scaling down
        ([(120, 4), (60, 5)], 100, 3, 0, 180, 5),  # simple scale down stabilization
        ([(120, 4), (60, 5)], 1, 7, 300, 0, 4),  # simple scale up stabilization
        ([(120, 1), (60, 2)], 100, 3, 300, 0, 3),  # no scale down stabilization
        ([(120, 4), (60, 5)], 1, 3, 0, 300, 3),  # no scale up stabilization
        ([(600, 10), (540, 9)], 100, 3, 0, 0, 3),  # no scale down stabilization, old recommendations
        ([(600, 10), (540, 9)], 1, 100, 0, 0, 100),  # no scale up stabilization, old recommendations
        ([(600, 10), (60, 4), (120, 5), (540, 9)], 100, 3, 0, 180, 5),  # scale down, one obsolete
        ([(6000, 10), (60, 6), (120, 5), (180, 9)], 1, 100, 300, 300, 5),  # scale up, one obsolete
        # a recommendation exactly one window old no longer counts (timestamp.After(cutoff))
        ([(300, 9)], 4, 2, 0, 300, 2),
        ([(299, 9)], 4, 2, 0, 300, 4),  # never beyond the current count
    ],
)
def test_stabilization_windows(
    recommendations: list[tuple[float, int]], current: int, desired: int, up: int, down: int, expected: int
) -> None:
    state = ScalerState(recommendations=tuple((T0 - ago, r) for ago, r in recommendations))
    decision, after = decide(stabilization(up, down), state, service(current, {"want": desired}), T0)
    assert decision.replicas == expected
    assert after.recommendations[-1] == (T0, desired)  # the unstabilized recommendation is recorded
    if expected != desired:
        assert decision.limits[0].kind is LimitKind.STABILIZATION


def test_default_scale_down_window_keeps_the_highest_recommendation_for_five_minutes() -> None:
    # 15 s ticks under virtual time: ten minutes of loop time run in milliseconds
    run = Run(policy(metrics=[{"type": "series", "name": "q", "query": "q", "target": 100}]), replicas=4)
    run.step({"q": 200}, after=0)  # fresh state: the initial recommendation is 4
    assert run.replicas == 8
    high = run.now
    run.step({"q": 300})  # 8 -> 24 is limited to 16 by the default scale-up policies
    assert run.replicas == 16
    high = run.now
    while run.now < high + 300 - 15:
        decision = run.step({"q": 25})  # 25 % load: the formula asks for 4
        assert decision.replicas == 16
        assert decision.limits[0].kind is LimitKind.STABILIZATION
        assert decision.reason == "q 25 < target 100: 16 → 4, held at 16 by scale-down stabilization window 5m"
    decision = run.step({"q": 25})  # the high recommendation is now exactly 300 s old
    assert run.now == high + 300
    assert decision.replicas == 4  # and the default down policy allows -100 % at once


def test_a_fresh_autoscaler_waits_one_window_before_scaling_down() -> None:
    # recordInitialRecommendation: the current count is the first recommendation
    run = Run(policy(metrics=[{"type": "series", "name": "q", "query": "q", "target": 100}]), replicas=10)
    assert run.step({"q": 10}, after=0).replicas == 10
    run.step({"q": 10}, after=299)
    assert run.replicas == 10
    assert run.step({"q": 10}, after=1).replicas == 1


def test_default_scale_up_policies_per_15_seconds() -> None:
    # up: max(+4 pods, +100 %) per 15 s: from 1 the pods policy allows 5, from 10 the percent 20
    run = Run(policy(metrics=EXACT, tolerance=0), replicas=1)
    assert run.step({"want": 100}, after=0).replicas == 5
    assert run.step({"want": 100}, after=10).replicas == 5  # +4 already within the last 15 s
    assert run.step({"want": 100}, after=5).replicas == 10  # that event is now 15 s old
    assert run.step({"want": 100}).replicas == 20
    assert run.step({"want": 100}).replicas == 40
    decision = run.step({"want": 100})
    assert decision.replicas == 80
    # the value shown is per replica: a total of 100 over 40 replicas is 2.5 against a target of 1
    assert decision.reason == "want 2.5 > target 1: 40 → 100, limited to 80 by scale-up policy +100%/15s"


def test_documentation_scale_down_example() -> None:
    # "Scaling policies": Pods 4 and Percent 10 per 60 s, the policy allowing the highest change
    # is selected: 80 -> 72, then 10 % of 72 is 7.2 rounded to 8 -> 64, ... below 40 the Pods
    # policy removes 4 at a time. (No stabilization window, to isolate the rates.)
    p = policy(
        metrics=EXACT,
        tolerance=0,
        behavior={
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 60},
                    {"type": "Percent", "value": 10, "periodSeconds": 60},
                ],
            }
        },
    )
    run = Run(p, replicas=80, now=T0 - 15)
    seen = [80]
    for _ in range(80):
        decision = run.step({"want": 10})
        if decision.change:
            seen.append(decision.replicas)
            assert run.now - T0 == 60 * (len(seen) - 2)  # one step per period
    assert seen == [80, 72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10]


@pytest.mark.parametrize(
    ("select", "current", "desired", "expected", "detail"),
    [
        # "Example: limit scale down rate": at most 10 % or 5 pods a minute, whichever is smaller
        ("Min", 80, 10, 75, "scale-down policy -5 pods/60s"),
        ("Max", 80, 10, 72, "scale-down policy -10%/60s"),
        ("Min", 30, 10, 27, "scale-down policy -10%/60s"),
        # "Example: disable scale down"
        ("Disabled", 80, 10, 80, "selectPolicy Disabled (no scale-down)"),
    ],
)
def test_select_policy(select: str, current: int, desired: int, expected: int, detail: str) -> None:
    down = {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": select,
        "policies": [
            {"type": "Percent", "value": 10, "periodSeconds": 60},
            {"type": "Pods", "value": 5, "periodSeconds": 60},
        ],
    }
    p = policy(metrics=EXACT, tolerance=0, behavior={"scaleDown": down})
    decision, _ = decide(p, ScalerState(), service(current, {"want": desired}), T0)
    assert decision.replicas == expected
    assert decision.limits[-1].kind is LimitKind.RATE
    assert decision.limits[-1].detail == detail


def test_scale_up_disabled_still_scales_down() -> None:
    p = policy(
        metrics=EXACT,
        tolerance=0,
        behavior={"scaleUp": {"selectPolicy": "Disabled"}, "scaleDown": {"stabilizationWindowSeconds": 0}},
    )
    up, _ = decide(p, ScalerState(), service(4, {"want": 9}), T0)
    assert up.replicas == 4
    assert up.reason == "want 2.25 > target 1: 4 → 9, held at 4 by selectPolicy Disabled (no scale-up)"
    down, _ = decide(p, ScalerState(), service(4, {"want": 2}), T0)
    assert down.replicas == 2


def test_a_manual_scale_counts_against_the_rate_policies() -> None:
    p = policy(
        metrics=EXACT,
        tolerance=0,
        behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}},
    )
    manual = ScalerState().with_scale_event(T0 - 10, 4, 8)  # someone scaled 4 -> 8 ten seconds ago
    decision, _ = decide(p, manual, service(8, {"want": 20}), T0)
    assert decision.replicas == 8  # the period started at 4, and +2 allows only 6
    later, _ = decide(p, manual, service(8, {"want": 20}), T0 + 50)
    assert later.replicas == 10


def test_history_stays_bounded_by_the_longest_window() -> None:
    run = Run(policy(metrics=EXACT, tolerance=0), replicas=5)
    for i in range(2000):
        run.step({"want": 5 + (i % 7)})
    assert len(run.state.recommendations) <= 300 / 15 + 1
    assert all(t > run.now - 300 for t, _ in run.state.recommendations)
    assert len(run.state.events) <= 15 / 15 + 1
