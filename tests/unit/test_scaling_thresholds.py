"""Threshold mode (the seeds' style), table-driven under virtual time.

Covers: a step up above ``scale_up_above`` and down below ``scale_down_below`` (equal
to a threshold is not beyond it); several metrics (any above scales up, all below to
scale down); steps as a count or a percentage (rounded up, at least 1); the min/max
clamp; cooldowns: no scale-up within ``cooldown.up`` and no scale-down within
``cooldown.down`` of the last scale action of either direction, a manual scale counting
too; per-replica values averaged over ready replicas, service totals divided by ready
replicas (``1000/min`` is per replica per minute); unreadable metrics; no HPA
stabilization in this mode.
"""

from __future__ import annotations

from typing import Any

import pytest

from scalepilot.control.scaling import decide
from scalepilot.domain.scaling import LimitKind, ScalerState
from tests.unit.test_scaling_support import T0, Run, per_replica, policy, service

CPU = {"type": "cpu", "scale_up_above": "70%", "scale_down_below": "30%"}
MEMORY = {"type": "memory", "scale_up_above": "80%", "scale_down_below": "40%"}
RPS = {"type": "rps", "scale_up_above": "1000/min", "scale_down_below": "300/min"}
P95 = {"type": "latency", "quantile": 0.95, "scale_up_above": "500ms", "scale_down_below": "200ms"}
NO_COOLDOWN = {"up": 0, "down": 0}


def threshold(*metrics: dict[str, Any], **extra: Any) -> Any:
    settings: dict[str, Any] = {"mode": "threshold", "min_replicas": 2, "max_replicas": 20, "cooldown": NO_COOLDOWN}
    return policy(**{**settings, **extra}, metrics=list(metrics))


@pytest.mark.parametrize(
    ("readings", "expected", "reason"),
    [
        ({"cpu": 82}, 5, "cpu 82% > 70%: 4 → 5"),
        ({"cpu": 25}, 3, "cpu 25% < 30%: 4 → 3"),
        ({"cpu": 50}, 4, "cpu 50% between 30% and 70%: stay at 4"),
        ({"cpu": 70}, 4, "cpu 70% between 30% and 70%: stay at 4"),  # equal is not above
        ({"cpu": 30}, 4, "cpu 30% between 30% and 70%: stay at 4"),
        # several metrics: one above is enough to scale up...
        ({"cpu": 20, "memory": 85}, 5, "memory 85% > 80%: 4 → 5"),
        # ...but every metric must be below to scale down
        ({"cpu": 20, "memory": 60}, 4, "memory 60% between 40% and 80%: stay at 4"),
        ({"cpu": 20, "memory": 30}, 3, "cpu 20% < 30%: 4 → 3"),
    ],
)
def test_thresholds(readings: dict[str, float], expected: int, reason: str) -> None:
    p = threshold(CPU, MEMORY) if "memory" in readings else threshold(CPU)
    decision, _ = decide(p, ScalerState(), service(4, readings), T0)
    assert decision.replicas == expected
    assert decision.reason == reason


@pytest.mark.parametrize(
    ("step", "current", "up", "down"),
    [
        (1, 4, 5, 3),
        (2, 4, 6, 2),
        ("50%", 4, 6, 2),
        ("50%", 3, 5, 2),  # ceil(1.5) = 2; down to 1 is clamped at min 2
        ("10%", 4, 5, 3),  # at least one replica
        ("100%", 7, 14, 2),
    ],
)
def test_step_size(step: int | str, current: int, up: int, down: int) -> None:
    p = threshold(CPU, step=step)
    assert decide(p, ScalerState(), service(current, {"cpu": 90}), T0)[0].replicas == up
    assert decide(p, ScalerState(), service(current, {"cpu": 10}), T0)[0].replicas == down


def test_min_and_max_clamp() -> None:
    p = threshold(CPU, step=5)
    top, _ = decide(p, ScalerState(), service(18, {"cpu": 90}), T0)
    assert (top.replicas, top.limits[0].kind) == (20, LimitKind.MAX)
    assert top.reason == "cpu 90% > 70%: 18 → 23, limited to 20 by max_replicas 20"
    bottom, _ = decide(p, ScalerState(), service(4, {"cpu": 5}), T0)
    assert (bottom.replicas, bottom.limits[0].kind) == (2, LimitKind.MIN)


def test_cooldowns_under_virtual_time() -> None:
    # defaults: 5m after any scale action before scaling up, 10m before scaling down
    run = Run(threshold(CPU, cooldown={"up": "5m", "down": "10m"}), replicas=4)
    assert run.step({"cpu": 90}, after=0).replicas == 5  # no earlier action: no cooldown
    scaled = run.now
    held = run.step({"cpu": 90}, after=299)
    assert held.replicas == 5
    assert held.limits[0].kind is LimitKind.COOLDOWN
    assert held.reason == "cpu 90% > 70%: 5 → 6, held at 5 by scale-up cooldown 5m (1s left)"
    assert run.step({"cpu": 90}, after=1).replicas == 6  # 300 s after the last action
    scaled = run.now
    # the load drops: scale-down waits 10 minutes after that scale-up
    run.step({"cpu": 10}, after=599)
    assert run.replicas == 6
    assert run.step({"cpu": 10}, after=1).replicas == 5
    assert run.now - scaled == 600
    # and a scale-down also delays the next scale-up (last action of either direction)
    blocked = run.step({"cpu": 95}, after=60)
    assert blocked.replicas == 5
    assert blocked.reason == "cpu 95% > 70%: 5 → 6, held at 5 by scale-up cooldown 5m (4m left)"
    assert run.step({"cpu": 95}, after=240).replicas == 6


def test_a_manual_scale_starts_the_cooldowns() -> None:
    p = threshold(CPU, cooldown={"up": "5m", "down": "10m"})
    state = ScalerState().with_scale_event(T0 - 120, 3, 6)
    decision, _ = decide(p, state, service(6, {"cpu": 10}), T0)
    assert decision.replicas == 6
    assert decision.limits[-1].detail == "scale-down cooldown 10m (8m left)"
    assert decide(p, state, service(6, {"cpu": 10}), T0 + 480)[0].replicas == 5


def test_no_stabilization_window_in_threshold_mode() -> None:
    run = Run(threshold(CPU), replicas=6)
    assert run.step({"cpu": 10}, after=0).replicas == 5
    assert run.step({"cpu": 10}).replicas == 4


@pytest.mark.parametrize(
    ("metric", "value", "expected", "reason"),
    [
        # 1000/min per replica = 16.7 req/s; a service total of 100 req/s over 4 ready replicas is 25
        (RPS, 100, 5, "rps 25 req/s > 16.7 req/s: 4 → 5"),
        (RPS, 12, 3, "rps 3 req/s < 5 req/s: 4 → 3"),
        (P95, 0.612, 5, "p95 612ms > 500ms: 4 → 5"),
        (P95, 0.150, 3, "p95 150ms < 200ms: 4 → 3"),
    ],
)
def test_request_rate_and_latency_thresholds(metric: dict[str, Any], value: float, expected: int, reason: str) -> None:
    p = threshold(metric)
    name = "p95" if metric is P95 else "rps"
    decision, _ = decide(p, ScalerState(), service(4, {name: value}), T0)
    assert decision.replicas == expected
    assert decision.reason == reason


def test_per_replica_values_average_the_ready_replicas_that_reported() -> None:
    # 90 and 60 from ready replicas (75 %); the missing one and the starting one (99 %) do not count
    obs = per_replica([90, 60, None, 99], unready=[3])
    decision, _ = decide(threshold(CPU), ScalerState(), obs, T0)
    assert decision.metrics[0].value == 75
    assert (decision.metrics[0].missing, decision.metrics[0].unready) == (1, 1)
    assert decision.replicas == 5


def test_unreadable_metric_blocks_a_scale_down_not_a_scale_up() -> None:
    p = threshold(CPU, MEMORY)
    down, _ = decide(p, ScalerState(), service(4, {"cpu": 10, "memory": None}), T0)
    assert down.replicas == 4
    assert down.reason == "cpu 10% < 30%: 4 → 3, held at 4 by the unreadable-metric rule: memory has no reading"
    up, _ = decide(p, ScalerState(), service(4, {"cpu": 90, "memory": None}), T0)
    assert up.replicas == 5
    none, _ = decide(p, ScalerState(), service(4, {"cpu": None, "memory": None}), T0)
    assert none.replicas == 4
    assert none.reason == "cpu has no reading: stay at 4"
