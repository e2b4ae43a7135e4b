"""The engine's predictive step and the ``autoscaling.predictive`` settings.

Covers: a forecast asking for more than the metrics raises the count, through the
HPA's rate policies, with a ``predictive`` limit and a reason naming the predicted rate,
its time and horizon; a forecast never scales in: property-style, for random loads,
counts, histories and forecasts at or below the current count, every decision (count,
limits, reason, next state) equals the reactive one, and a whole run fed such forecasts
equals the reactive run; fallback to reactive, with the reason, when the recent error
is above ``max_error``, when the history is shorter than ``min_history``, and with no
forecast; a policy without ``predictive`` ignores a forecast; threshold mode; the
settings refuse a missing ``replica_rps`` and a bad ``metric``, and every field is
documented in the JSON schema.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from scalepilot.config.scaling import AutoscalingSettings, PredictiveSettings
from scalepilot.control.scaling import decide
from scalepilot.domain.scaling import Forecast, LimitKind, MetricReading, Observation, ScalerState
from tests.unit.test_scaling_support import T0, policy

CPU = [{"type": "cpu", "target": 70}]
PREDICTIVE = {"enabled": True, "replica_rps": 10, "horizon": "3m", "min_history": "1d"}


def pred_policy(**over: Any) -> Any:
    return policy(metrics=CPU, predictive=PREDICTIVE | over)


def obs(current: int, cpu: float, forecast: Forecast | None) -> Observation:
    ids = [f"r{i}" for i in range(current)]
    return Observation(
        current, dict.fromkeys(ids, True), {"cpu": MetricReading(per_replica=dict.fromkeys(ids, cpu))}, forecast
    )


def fc(rps: float | None, *, error: float | None = 0.05, history: float = 2 * 86_400.0, now: float = T0) -> Forecast:
    return Forecast(rps, now + 180.0, 180.0, error, history)


def test_a_forecast_above_the_metrics_raises_the_count() -> None:
    p = pred_policy()
    decision, state = decide(p, ScalerState(), obs(4, 50.0, fc(100.0)), T0)
    # cpu 50% of a 70% target: 3 replicas reactively; the forecast: ceil(100 × 1.1 / 10) = 11
    (limit,) = [lim for lim in decision.limits if lim.kind is LimitKind.PREDICTIVE]
    assert (limit.before, limit.after) == (3, 11)
    assert decision.replicas == 8  # the HPA's default scale-up policy: +100 % per 15 s
    assert "raised to 11 by forecast 100 req/s at 22:16 (+3m)" in decision.reason
    assert "limited to 8 by scale-up policy" in decision.reason
    # the next tick continues to 11
    decision, _ = decide(p, state, obs(8, 30.0, fc(100.0, now=T0 + 15)), T0 + 15)
    assert decision.replicas == 11


def test_a_policy_without_predictive_ignores_the_forecast() -> None:
    plain = policy(metrics=CPU)
    with_fc, _ = decide(plain, ScalerState(), obs(4, 50.0, fc(1000.0)), T0)
    without, _ = decide(plain, ScalerState(), obs(4, 50.0, None), T0)
    assert with_fc == without


@pytest.mark.parametrize(
    ("forecast", "note"),
    [
        (fc(100.0, error=0.5), "forecast not used: recent error above max_error 30%"),
        (fc(100.0, history=3600.0), "forecast not used: 1h of history < min_history 1d"),
        (fc(None), "no forecast: reactive only"),
        (None, "no forecast: reactive only"),
    ],
)
def test_falls_back_to_reactive_and_says_why(forecast: Forecast | None, note: str) -> None:
    reactive, _ = decide(policy(metrics=CPU), ScalerState(), obs(4, 90.0, None), T0)
    decision, _ = decide(pred_policy(), ScalerState(), obs(4, 90.0, forecast), T0)
    assert decision.replicas == reactive.replicas == 6
    assert decision.limits == reactive.limits
    assert decision.reason == f"{reactive.reason}; {note}"


def test_error_at_max_error_is_still_used() -> None:
    decision, _ = decide(pred_policy(), ScalerState(), obs(4, 50.0, fc(100.0, error=0.3)), T0)
    assert any(lim.kind is LimitKind.PREDICTIVE for lim in decision.limits)


def test_never_scales_in_on_the_forecast_alone_property() -> None:
    """For random situations whose forecast asks for no more than the current count,
    the decision and the next state are exactly the reactive ones."""
    rng = random.Random(20261207)
    p = pred_policy()
    reactive_p = policy(metrics=CPU)
    for _ in range(2000):
        current = rng.randint(1, 40)
        cpu = rng.uniform(0.0, 100.0)
        history = tuple(sorted((T0 - rng.uniform(0, 300), rng.randint(1, 40)) for _ in range(rng.randint(0, 5))))
        state = ScalerState(history)
        # any forecast needing at most `current` replicas (rps × 1.1 / 10 ≤ current)
        rps = rng.uniform(0.0, current * 10 / 1.1)
        forecast = fc(rps, error=rng.choice([None, 0.0, 0.1, 0.29]))
        got, got_state = decide(p, state, obs(current, cpu, forecast), T0)
        want, want_state = decide(reactive_p, state, obs(current, cpu, None), T0)
        assert (got, got_state) == (want, want_state), (current, cpu, rps)


def test_a_run_fed_low_forecasts_is_the_reactive_run() -> None:
    rng = random.Random(5)
    p, reactive_p = pred_policy(), policy(metrics=CPU)
    s1 = s2 = ScalerState()
    n1 = n2 = 10
    for k in range(400):
        now = T0 + 15 * k
        cpu = 40 + 40 * rng.random()
        d1, s1 = decide(p, s1, obs(n1, cpu, fc(n1 * 10 / 1.1 * rng.random(), now=now)), now)
        d2, s2 = decide(reactive_p, s2, obs(n2, cpu, None), now)
        assert d1 == d2
        n1, n2 = d1.replicas, d2.replicas


def test_threshold_mode_takes_the_forecast_too() -> None:
    p = policy(
        mode="threshold",
        metrics=[{"type": "cpu", "scale_up_above": 70, "scale_down_below": 30}],
        predictive=PREDICTIVE,
    )
    decision, _ = decide(p, ScalerState(), obs(2, 50.0, fc(55.0)), T0)
    assert decision.replicas == 7  # ceil(55 × 1.1 / 10); the metrics alone hold at 2


def test_settings_validate_and_document_every_field() -> None:
    with pytest.raises(ValidationError, match="replica_rps is required"):
        AutoscalingSettings.model_validate({"max_replicas": 5, "metrics": CPU, "predictive": {"enabled": True}})
    with pytest.raises(ValidationError, match="invalid PromQL"):
        PredictiveSettings.model_validate({"metric": "sum(rate(x[1m])"})
    with pytest.raises(ValidationError, match="range vector"):
        PredictiveSettings.model_validate({"metric": "x[5m]"})
    ok = PredictiveSettings.model_validate({"enabled": True, "replica_rps": "600/min", "horizon": "4m"})
    assert (ok.replica_rps, ok.horizon, ok.safety_factor, ok.max_error, ok.min_history) == (
        10.0,
        240.0,
        1.1,
        0.3,
        86_400.0,
    )
    props = PredictiveSettings.model_json_schema()["properties"]
    assert set(props) == {
        "enabled",
        "metric",
        "replica_rps",
        "horizon",
        "safety_factor",
        "max_error",
        "min_history",
        "seasonality",
    }
    assert all(props[k].get("description") for k in props)
    off = compile_policy_off()
    assert off.predictive is None


def compile_policy_off() -> Any:
    return policy(metrics=CPU, predictive={"enabled": False, "replica_rps": 10})


def test_forecast_round_trips_as_data() -> None:
    f = replace(fc(12.5), error=None)
    assert f.to_dict() == {"rps": 12.5, "at": T0 + 180.0, "horizon": 180.0, "error": None, "history": 172_800.0}
