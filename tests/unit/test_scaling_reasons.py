"""Every decision explains itself.

Covers: exact one-line reasons for representative decisions (a rate-limited scale-up on
latency, a stay inside the tolerance band, a scale-down held by a missing replica, by
the stabilization window, by an unreadable metric, filled-in replicas damping a
scale-down, several limits in a row); values written in their units (%, ms, s, req/s, a
series' own unit); each metric's value, target and proposal in the decision;
``Decision.to_dict()`` being JSON and round-tripping through ``from_dict``; the state
round-tripping too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scalepilot.control.scaling import decide
from scalepilot.control.scaling.reasons import quantity
from scalepilot.domain.scaling import Decision, LimitKind, MetricReading, Observation, ScalerState
from tests.unit.test_scaling_support import T0, per_replica, policy, service


def one(settings: dict[str, Any], obs: Observation, state: ScalerState | None = None) -> Decision:
    return decide(policy(**settings), state or ScalerState(), obs, T0)[0]


NO_WINDOW = {"scaleDown": {"stabilizationWindowSeconds": 0}}


def test_rate_limited_scale_up_on_latency() -> None:
    d = one(
        {
            "metrics": [{"type": "latency", "quantile": 0.95, "target": "250ms"}],
            "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 15}]}},
        },
        service(4, {"p95": 0.412}),
    )
    assert d.reason == "p95 412ms > target 250ms: 4 → 7, limited to 6 by scale-up policy +2 pods/15s"
    assert (d.current, d.proposal, d.replicas, d.change) == (4, 7, 6, True)
    (m,) = d.metrics
    assert (m.name, m.value, m.target, m.proposal, m.unit) == ("p95", 0.412, 0.25, 7, "s")
    assert [(lim.kind, lim.before, lim.after, lim.detail) for lim in d.limits] == [
        (LimitKind.RATE, 7, 6, "scale-up policy +2 pods/15s")
    ]


def test_stay_within_tolerance() -> None:
    d = one({"metrics": [{"type": "cpu", "target": "50%"}]}, per_replica([45, 44, 46, 45]))
    assert d.reason == "cpu 45% within 10% of target 50%: stay at 4"
    assert not d.change


def test_missing_replica_holds_a_scale_down() -> None:
    # 2 of 3 replicas report 30 % against 50 %; the third, counted as the target, brings the
    # average to 36 % -> ceil(0.72 x 3) = 3: no scale-down
    d = one(
        {"metrics": [{"type": "memory", "target": 50}], "behavior": NO_WINDOW},
        per_replica([30, 30, None], name="memory"),
    )
    assert d.reason == "memory missing on 1 of 3 replicas: counted as target, no scale-down"
    assert d.replicas == 3
    assert d.limits[0].kind is LimitKind.MISSING
    assert (d.metrics[0].status, d.metrics[0].missing) == ("held", 1)


def test_missing_replicas_damp_a_scale_down() -> None:
    d = one(
        {"metrics": [{"type": "memory", "target": 50}], "behavior": NO_WINDOW},
        per_replica([10, 10, 10, None, None], name="memory"),
    )
    # 10 % from three, the two missing counted as 50 % -> 26 % -> ceil(0.52 x 5) = 3 (not ceil(0.2 x 3) = 1)
    assert d.reason == (
        "memory 10% < target 50%: 5 → 1, limited to 3 by memory missing on 2 of 5 replicas counted as target"
    )
    assert d.replicas == 3


def test_not_ready_replicas_hold_a_scale_up() -> None:
    d = one({"metrics": [{"type": "cpu", "target": 30}]}, per_replica([40, 50, 70], unready=[1, 2]))
    assert d.reason == "cpu 2 of 3 replicas not ready: counted as 0, no scale-up"


def test_stabilization_window_holds_a_scale_down() -> None:
    state = ScalerState(recommendations=((T0 - 60, 6),))
    d = one({"metrics": [{"type": "rps", "target": 20}]}, per_replica([5] * 6, name="rps"), state)
    assert d.reason == "rps 5 req/s < target 20 req/s: 6 → 2, held at 6 by scale-down stabilization window 5m"


def test_several_limits_in_a_row() -> None:
    d = one(
        {
            "min_replicas": 2,
            "max_replicas": 5,
            "metrics": [{"type": "series", "name": "queue", "query": "queue_depth", "unit": "jobs", "target": 100}],
        },
        service(2, {"queue": 1250}),
    )
    assert d.reason == "queue 1250 jobs > target 100 jobs: 2 → 25, limited to 5 by max_replicas 5"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (45.0, "%", "45%"),
        (45.25, "%", "45.2%"),  # about three significant digits
        (0.0123456, "", "0.0123"),
        (0.412, "s", "412ms"),
        (0.0125, "s", "12.5ms"),
        (1.5, "s", "1.5s"),
        (16.666666, "req/s", "16.7 req/s"),
        (0.5, "req/s", "0.5 req/s"),
        (1250.0, "jobs", "1250 jobs"),
        (3.14159, "", "3.14"),
        (123.456, "", "123"),
    ],
)
def test_values_are_written_in_their_units(value: float, unit: str, text: str) -> None:
    assert quantity(value, unit) == text


def example_decision() -> Decision:
    p = policy(
        metrics=[{"type": "cpu", "target": 50}, {"type": "latency", "target": "250ms"}, {"type": "rps", "target": 5}],
        behavior=NO_WINDOW,
    )
    obs = Observation(
        3,
        {"a": True, "b": True, "c": False},
        {"cpu": MetricReading(per_replica={"a": 80, "b": 70}), "p95": MetricReading(value=0.3), "rps": None},
    )
    return decide(p, ScalerState(), obs, T0 + 0.25)[0]


def test_decision_to_dict_is_json_and_round_trips() -> None:
    decision = example_decision()
    data = decision.to_dict()
    text = json.dumps(data, allow_nan=False)
    again = Decision.from_dict(json.loads(text))
    assert again == decision
    assert data["reason"] == decision.reason
    assert data["metrics"][2] == {
        "name": "rps",
        "unit": "req/s",
        "value": None,
        "target": 5.0,
        "proposal": None,
        "raw": None,
        "ratio": None,
        "lower": None,
        "status": "invalid",
        "note": "has no reading",
        "missing": 0,
        "unready": 0,
    }


def test_state_round_trips() -> None:
    state = ScalerState(((T0, 3), (T0 + 15, 4)), ((T0, 1),), T0, None, T0 - 5).with_scale_event(T0 + 20, 4, 2)
    again = ScalerState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert (again.last_scale_down, again.last_scale) == (T0 + 20, T0 + 20)
    assert ScalerState().with_scale_event(T0, 3, 3) == ScalerState()
