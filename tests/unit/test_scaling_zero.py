"""Scale to zero, as KEDA does, under virtual time.

Covers: going to zero after ``scale_to_zero.cooldown`` with every wake-capable metric at
or below its activation (the clock starting at the first idle decision, restarted by
activity and by a metric that cannot be read); only from the floor (a busy CPU keeps the
service up); a schedule window keeping it up; waking from zero above the activation
(to 1, or to the metrics' proposal within the scale-up policy, at least
``min_replicas``); staying at zero at or below it; custom activation values; never
below one replica when scale to zero is off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scalepilot.control.scaling import decide
from scalepilot.domain.scaling import LimitKind, MetricReading, Observation, ScalerState
from tests.unit.test_scaling_support import T0, Run, policy, service

RPS = {"type": "rps", "target": 10}


def zero(*metrics: dict[str, Any], **extra: Any) -> Any:
    settings: dict[str, Any] = {"min_replicas": 0, "scale_to_zero": {"enabled": True}}
    return policy(**{**settings, **extra}, metrics=list(metrics) or [RPS])


def test_goes_to_zero_after_the_cooldown_of_idleness() -> None:
    run = Run(zero(), replicas=1)
    first = run.step({"rps": 0}, after=0)
    assert first.replicas == 1
    assert run.state.idle_since == run.now
    while run.now < T0 + 300 - 15:
        assert run.step({"rps": 0}).replicas == 1
    decision = run.step({"rps": 0})
    assert run.now == T0 + 300
    assert decision.replicas == 0
    assert decision.limits[-1].kind is LimitKind.SCALE_TO_ZERO
    assert decision.reason == (
        "rps 0 req/s < target 10 req/s: 1 → 0, held at 1 by min_replicas 1, lowered to 0 by scale to zero after 5m idle"
    )


@pytest.mark.parametrize("interruption", [2.0, None])
def test_activity_or_an_unreadable_metric_restarts_the_idle_clock(interruption: float | None) -> None:
    run = Run(zero(), replicas=1)
    run.step({"rps": 0}, after=0)
    run.step({"rps": 0}, after=200)
    interrupted = run.step({"rps": interruption}, after=15)  # some traffic, or no data at all
    assert interrupted.replicas == 1
    cleared = run.state.idle_since
    assert cleared is None
    resumed = run.step({"rps": 0}, after=15)
    assert run.state.idle_since == run.now
    run.step({"rps": 0}, after=299)
    assert run.replicas == 1
    assert run.step({"rps": 0}, after=1).replicas == 0
    assert run.now - resumed.time == 300


def test_only_from_the_floor_a_busy_cpu_keeps_the_service_up() -> None:
    p = zero({"type": "cpu", "target": 50}, RPS)
    obs = Observation(2, {"a": True, "b": True}, {"cpu": MetricReading(value=90), "rps": MetricReading(value=0)})
    state = ScalerState(idle_since=T0 - 3600)
    decision, _ = decide(p, state, obs, T0)
    assert decision.replicas == 4  # the cpu asks for more; rps idle for an hour does not matter
    quiet = Observation(1, {"a": True}, {"cpu": MetricReading(value=5), "rps": MetricReading(value=0)})
    assert decide(p, ScalerState(idle_since=T0 - 3600), quiet, T0)[0].replicas == 0


def test_a_schedule_window_keeps_the_service_up() -> None:
    p = zero(schedules=[{"name": "day", "cron": "0 8 * * *", "duration": "12h", "min_replicas": 1}])
    noon = datetime(2024, 1, 8, 12, tzinfo=UTC).timestamp()
    idle = ScalerState(idle_since=noon - 3600)
    assert decide(p, idle, service(1, {"rps": 0}), noon)[0].replicas == 1
    night = noon + 12 * 3600
    assert decide(p, ScalerState(idle_since=night - 3600), service(1, {"rps": 0}), night)[0].replicas == 0
    # and it wakes the service at the window's opening
    morning = noon - 4 * 3600
    decision, _ = decide(p, ScalerState(), service(0, {"rps": 0}), morning)
    assert decision.replicas == 1
    assert decision.reason == "rps 0 req/s at or below activation 0 req/s: stay at 0, raised to 1 by schedule day"


@pytest.mark.parametrize(
    ("rps", "extra", "expected", "reason"),
    [
        (0, {}, 0, "rps 0 req/s at or below activation 0 req/s: stay at 0"),
        (None, {}, 0, "rps has no reading: stay at 0"),
        (3, {}, 1, "rps 3 req/s > activation 0 req/s: 0 → 1"),
        # the metrics' proposal from zero is ceil(total / target), within the scale-up policy (+4 pods)
        (35, {}, 4, "rps 35 req/s > activation 0 req/s: 0 → 4"),
        (100, {}, 4, "rps 100 req/s > activation 0 req/s: 0 → 10, limited to 4 by scale-up policy +4 pods/15s"),
        (3, {"min_replicas": 2}, 2, "rps 3 req/s > activation 0 req/s: 0 → 1, raised to 2 by min_replicas 2"),
        (3, {"activation": 5}, 0, "rps 3 req/s at or below activation 5 req/s: stay at 0"),
        (6, {"activation": 5}, 1, "rps 6 req/s > activation 5 req/s: 0 → 1"),
    ],
)
def test_waking_from_zero(rps: float | None, extra: dict[str, Any], expected: int, reason: str) -> None:
    metric = {**RPS, **({"activation": extra["activation"]} if "activation" in extra else {})}
    settings = {k: v for k, v in extra.items() if k != "activation"}
    decision, _ = decide(zero(metric, **settings), ScalerState(), service(0, {"rps": rps}), T0)
    assert decision.replicas == expected
    assert decision.reason == reason


def test_threshold_mode_wakes_to_the_floor() -> None:
    p = policy(
        mode="threshold",
        min_replicas=0,
        scale_to_zero={"enabled": True},
        metrics=[{"type": "rps", "scale_up_above": 20, "scale_down_below": 5}],
    )
    decision, _ = decide(p, ScalerState(), service(0, {"rps": 50}), T0)
    assert decision.replicas == 1


def test_a_custom_activation_is_the_idle_line_too() -> None:
    run = Run(zero({**RPS, "activation": 2}), replicas=1)
    run.step({"rps": 1.5}, after=0)
    assert run.state.idle_since == run.now
    run.step({"rps": 1.5}, after=300)
    assert run.replicas == 0


def test_never_below_one_replica_when_scale_to_zero_is_off() -> None:
    run = Run(policy(metrics=[RPS]), replicas=3)
    for _ in range(240):  # an hour of zero traffic
        run.step({"rps": 0})
    assert run.replicas == 1
    assert min(d.replicas for d in run.decisions) == 1
    assert run.state.idle_since is None
