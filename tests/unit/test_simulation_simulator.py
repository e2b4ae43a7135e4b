"""The simulator, the oracle and the baselines.

Covers: determinism (same trace and settings, identical reports and series); the oracle
is a lower bound — on random traces no policy (hpa, keda, threshold, an eager hpa,
static) has a violation-free step with fewer replicas than the oracle, nor fewer
replica-hours with zero violations; the simulator's hpa baseline matches the live engine
decision for decision when its recorded observations are replayed through ``decide``;
the startup delay holds new capacity back; readings lag by the metric window; static
provisioning never violates; keda goes to zero after its 300 s cooldown only with min 0;
metrics the simulator cannot model are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import compile_policy, decide
from scalepilot.control.simulation import Recorded, ServiceModel, Trace, UnsupportedPolicy, oracle, simulate, static
from scalepilot.control.simulation.baselines import baseline
from scalepilot.control.simulation.trace import synthetic
from scalepilot.domain.scaling import ScalerState

STEP = 60.0
MODEL = ServiceModel(replica_rps=10.0, startup_delay=60.0, cost_per_replica_hour=0.5)


def _hpa(max_replicas: int = 40, min_replicas: int = 1) -> AutoscalingSettings:
    return baseline("hpa", replica_rps=10.0, min_replicas=min_replicas, max_replicas=max_replicas)


def _jump(before: float, after: float, minutes: int = 60) -> Trace:
    rps = np.r_[np.full(minutes, before), np.full(minutes, after)]
    return Trace.of(1_700_000_000.0 + STEP * np.arange(rps.size), rps)


def test_same_input_same_numbers() -> None:
    trace = synthetic(2, base=120, seed=5)
    a = simulate("hpa", _hpa(), trace, MODEL, step=STEP)
    b = simulate("hpa", _hpa(), synthetic(2, base=120, seed=5), MODEL, step=STEP)
    assert a.report == b.report
    assert np.array_equal(a.provisioned, b.provisioned)
    assert np.array_equal(a.ready, b.ready)
    assert a.report.scaling_actions > 0
    assert a.report.cost == pytest.approx(a.report.replica_hours * 0.5)


def test_hpa_matches_the_live_engine_decision_for_decision() -> None:
    trace = synthetic(1, base=150, spike_count=4, seed=11)
    recorded: list[Recorded] = []
    simulate("hpa", _hpa(), trace, MODEL, step=STEP, record=recorded)
    assert len(recorded) == trace.rps.size * 4  # a decision every 15 s
    assert any(not all(r.observation.replicas.values()) for r in recorded)  # starting replicas were seen
    changes = [r.replicas - r.observation.spec_replicas for r in recorded]
    assert any(c > 0 for c in changes)
    assert any(c < 0 for c in changes)
    policy = compile_policy(_hpa())
    state = ScalerState()
    for rec in recorded:
        decision, state = decide(policy, state, rec.observation, rec.now)
        assert decision.replicas == rec.replicas, rec.now


def test_startup_delay_holds_capacity_back() -> None:
    trace = _jump(20, 150)
    fast = simulate("hpa", _hpa(), trace, ServiceModel(10.0, startup_delay=0.0), step=STEP)
    slow = simulate("hpa", _hpa(), trace, ServiceModel(10.0, startup_delay=300.0), step=STEP)
    assert slow.report.slo_violation_minutes >= 5
    assert slow.report.slo_violation_minutes > fast.report.slo_violation_minutes
    # Paid for from the action, ready only 300 s later.
    assert slow.ready[62] == slow.ready[59]
    assert slow.provisioned[62] > slow.ready[62]
    # The jump's overload over those minutes is at least the capacity shortfall.
    assert slow.report.overload_requests >= (150 - 20) * 60 * 4


def test_readings_lag_by_the_window() -> None:
    recorded: list[Recorded] = []
    simulate("hpa", _hpa(), _jump(20, 150), ServiceModel(10.0, startup_delay=0.0), step=STEP, record=recorded)
    first_after = [r for r in recorded if r.now >= 1_700_000_000.0 + 3600]
    assert first_after[0].replicas == first_after[0].observation.spec_replicas  # nothing scraped yet
    cpu = [next(iter(r.observation.readings["cpu"].per_replica.values())) for r in first_after[1:5]]  # type: ignore[union-attr]
    assert cpu == sorted(cpu)  # the window fills with the new load sample by sample


def test_static_never_violates_and_never_scales() -> None:
    trace = synthetic(3, base=80, seed=2)
    run = static(trace, MODEL, 1, 100, STEP)
    assert run.report.slo_violation_minutes == 0
    assert run.report.scaling_actions == 0
    assert run.report.replica_hours == pytest.approx(np.ceil(trace.peak / 10) * 3 * 24)


def test_oracle_counts_what_max_replicas_cannot_cover() -> None:
    trace = _jump(20, 150)
    run = oracle(trace, MODEL, 1, 10, STEP)
    assert run.report.slo_violation_minutes == 60
    assert run.report.overload_requests == pytest.approx(50 * 60 * 60)
    assert run.report.replica_hours == pytest.approx(2 + 10)


def test_keda_scales_to_zero_only_with_min_zero() -> None:
    rps = np.r_[np.full(30, 40.0), np.zeros(30), np.full(30, 40.0)]
    trace = Trace.of(1_700_000_000.0 + STEP * np.arange(rps.size), rps)
    zero = simulate("keda", baseline("keda", replica_rps=10, min_replicas=0, max_replicas=20), trace, MODEL, step=STEP)
    one = simulate("keda", baseline("keda", replica_rps=10, min_replicas=1, max_replicas=20), trace, MODEL, step=STEP)
    assert zero.provisioned[30:35].min() > 0  # the 300 s cooldown first
    assert zero.provisioned[40:60].max() == 0
    assert zero.provisioned[-10:].min() > 0  # woken by the requests
    assert one.provisioned[40:60].min() == 1


def test_unmodelled_metrics_are_refused() -> None:
    settings = AutoscalingSettings.model_validate(
        {"max_replicas": 5, "metrics": [{"type": "latency", "target": "250ms"}]}
    )
    with pytest.raises(UnsupportedPolicy, match="p95"):
        simulate("mine", settings, synthetic(1), MODEL, step=STEP)


THRESHOLD = {
    "mode": "threshold",
    "min_replicas": 1,
    "max_replicas": 30,
    "metrics": [{"type": "rps", "scale_up_above": 8, "scale_down_below": 4}],
    "step": "50%",
    "cooldown": {"up": "1m", "down": "5m"},
}
EAGER = {"min_replicas": 1, "max_replicas": 30, "metrics": [{"type": "cpu", "target": "30%"}]}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.floats(5, 150),
    amplitude=st.floats(0, 0.9),
    spike_count=st.integers(0, 4),
    sigma=st.floats(0, 0.4),
    seed=st.integers(0, 10_000),
    delay=st.sampled_from([0.0, 30.0, 60.0, 180.0]),
)
def test_no_policy_beats_the_oracle(
    base: float, amplitude: float, spike_count: int, sigma: float, seed: int, delay: float
) -> None:
    trace = synthetic(0.25, base=base, amplitude=amplitude, spike_count=spike_count, sigma=sigma, seed=seed)
    model = ServiceModel(10.0, startup_delay=delay)
    best = oracle(trace, model, 1, 30, STEP)
    runs = [
        simulate("hpa", _hpa(30), trace, model, step=STEP),
        simulate("keda", baseline("keda", replica_rps=10, min_replicas=1, max_replicas=30), trace, model, step=STEP),
        simulate("threshold", AutoscalingSettings.model_validate(THRESHOLD), trace, model, step=STEP),
        simulate("eager", AutoscalingSettings.model_validate(EAGER), trace, model, step=STEP),
        static(trace, model, 1, 30, STEP),
    ]
    for run in runs:
        ok = ~run.violated
        assert np.all(run.ready[ok] >= best.ready[ok] - 1e-9), run.name
        assert np.all(run.provisioned >= run.ready)
        if run.report.slo_violation_minutes == 0:
            assert run.report.replica_hours >= best.report.replica_hours - 1e-9, run.name
        assert run.report.slo_violation_minutes >= best.report.slo_violation_minutes
