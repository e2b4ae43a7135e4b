"""The pure half of ``scalepilot tune`` (``control/simulation/tuning.py``).

Covers: the Pareto front holds exactly the non-dominated trials (none on it is
dominated, every one off it is), with ties (equal points are all on it, an equal cost
with more violations is not); the best within budget is the cheapest eligible one, the
budget is inclusive, ties go to fewer violations then fewer actions then the earlier
trial, and there is none when nothing is eligible; sampling and refinement are
deterministic for a seed, never repeat a point, and stay on the grid; the space only
searches the predictive margin for a predictive base; ``apply`` turns the base back
into the same policy (same simulated figures) and every sampled point into a valid
``autoscaling:`` block with the values set where the engine reads them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation import Report, ServiceModel, simulate
from scalepilot.control.simulation.baselines import baseline
from scalepilot.control.simulation.trace import synthetic
from scalepilot.control.simulation.tuning import (
    Params,
    Trial,
    apply,
    base_params,
    best_within,
    parents_for_refinement,
    pareto_front,
    refine,
    sample,
    space_for,
    split,
)

BASE = Params(target=70.0, window=60.0, scale_down=300.0, min_replicas=1)


def _trial(i: int, violations: float, cost: float, actions: int = 0) -> Trial:
    return Trial(i, BASE, Report(violations, cost, cost, actions, 0.0))


def _trials(points: list[tuple[float, float]]) -> list[Trial]:
    return [_trial(i, v, c) for i, (v, c) in enumerate(points)]


def _dominates(a: Trial, b: Trial) -> bool:
    ra, rb = a.report, b.report
    no_worse = ra.slo_violation_minutes <= rb.slo_violation_minutes and ra.cost <= rb.cost
    better = ra.slo_violation_minutes < rb.slo_violation_minutes or ra.cost < rb.cost
    return no_worse and better


def test_front_with_ties() -> None:
    trials = _trials([(0, 10), (5, 5), (5, 5), (5, 6), (7, 5), (10, 1), (2, 10), (0, 12)])
    # (5, 6) loses to (5, 5) on cost; (7, 5) to (5, 5) on violations; (2, 10) and
    # (0, 12) to (0, 10). The two equal (5, 5) do not dominate each other.
    assert pareto_front(trials) == [0, 1, 2, 5]


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=40))
def test_front_is_exactly_the_non_dominated(points: list[tuple[int, int]]) -> None:
    trials = _trials([(float(v), float(c)) for v, c in points])
    front = pareto_front(trials)
    assert len(set(front)) == len(front)
    for i, t in enumerate(trials):
        dominated = any(_dominates(o, t) for o in trials)
        assert (i in front) == (not dominated)
    keys = [(trials[i].report.slo_violation_minutes, trials[i].report.cost, i) for i in front]
    assert keys == sorted(keys)


def test_front_of_nothing() -> None:
    assert pareto_front([]) == []


def test_best_within_budget() -> None:
    trials = [_trial(0, 30, 100), _trial(1, 20, 90), _trial(2, 31, 50), _trial(3, 10, 95)]
    assert best_within(trials, 30) == 1  # 30 is within a 30-minute budget; 31 is not
    assert best_within(trials, 31) == 2
    assert best_within(trials, 15) == 3
    assert best_within(trials, 5) is None


def test_best_ties() -> None:
    trials = [_trial(0, 10, 50, actions=9), _trial(1, 8, 50, actions=9), _trial(2, 8, 50, actions=3)]
    assert best_within(trials, 10) == 2  # same cost: fewer violations, then fewer actions
    same = [_trial(0, 8, 50, 3), _trial(1, 8, 50, 3)]
    assert best_within(same, 10) == 0


def test_zero_price_ranks_by_replica_hours() -> None:
    trials = [Trial(0, BASE, Report(0, 30.0, 0.0, 0, 0.0)), Trial(1, BASE, Report(0, 20.0, 0.0, 0, 0.0))]
    assert best_within(trials, 0) == 1
    assert pareto_front(trials) == [1]


def _hpa_settings(**kw: Any) -> AutoscalingSettings:
    return baseline("hpa", replica_rps=10.0, min_replicas=1, max_replicas=40, **kw)


def test_sampling_is_deterministic_unique_and_on_the_grid() -> None:
    settings = baseline("predictive", replica_rps=10.0, min_replicas=1, max_replicas=40, startup_delay=120.0)
    space = space_for(settings, startup_delay=120.0, peak_replicas=20.0)
    start = base_params(settings, 10.0)

    def draw(seed: int) -> list[Params]:
        rng = np.random.default_rng(seed)
        seen = {start}
        first = sample(space, start, rng, 30, seen)
        return first + refine(space, first[:3], rng, 20, seen)

    a, b, c = draw(7), draw(7), draw(8)
    assert a == b
    assert a != c
    assert len(set(a)) == len(a) == 50
    assert start not in a
    for p in a:
        assert p.target in space.target
        assert p.window in space.window
        assert p.scale_down in space.scale_down
        assert p.min_replicas in space.min_replicas
        assert p.safety_factor in space.safety_factor
        assert p.horizon in space.horizon
        assert p.horizon is not None and p.horizon >= 120.0


def test_space_searches_the_margin_only_when_predictive() -> None:
    hpa = space_for(_hpa_settings(), startup_delay=60.0, peak_replicas=20.0)
    assert set(hpa.dimensions()) == {"target", "window", "scale_down", "min_replicas"}
    assert hpa.min_replicas == tuple(range(1, 11))  # up to half the peak's replicas
    pred = baseline("predictive", replica_rps=10.0, min_replicas=1, max_replicas=40)
    assert set(space_for(pred, startup_delay=60.0, peak_replicas=20.0).dimensions()) >= {"safety_factor", "horizon"}


def test_refinement_stays_near_its_parent() -> None:
    space = space_for(_hpa_settings(), startup_delay=60.0, peak_replicas=20.0)
    rng = np.random.default_rng(0)
    children = refine(space, [BASE], rng, 10, {BASE})
    assert children
    for child in children:
        assert child.target is not None
        assert abs(child.target - 70.0) <= 3  # at most three 1 % grid steps
        assert abs(child.scale_down - 300.0) <= 90  # three 30 s steps


def test_parents_prefer_cheap_within_budget() -> None:
    trials = [_trial(0, 30, 100), _trial(1, 20, 90), _trial(2, 60, 40)]
    parents = parents_for_refinement(trials, 30, count=2)
    assert parents == [trials[1].params, trials[2].params]


def test_split_keeps_the_total() -> None:
    for total in (1, 2, 5, 6, 60, 1000):
        explore, refine_n = split(total)
        assert 1 + explore + refine_n == total
    assert split(60) == (36, 23)


def test_apply_base_is_the_same_policy() -> None:
    settings = _hpa_settings()
    data = settings.model_dump(mode="json", exclude_unset=True)
    again = AutoscalingSettings.model_validate(apply(data, base_params(settings, 10.0), replica_rps=10.0))
    trace = synthetic(0.25, base=80.0, seed=3)
    model = ServiceModel(10.0, 60.0)
    assert (
        simulate("a", settings, trace, model, step=60.0).report == simulate("b", again, trace, model, step=60.0).report
    )


def test_apply_sets_what_the_engine_reads() -> None:
    data: dict[str, Any] = {
        "max_replicas": 30,
        "metrics": [
            {"type": "rps", "target": 7},
            {"type": "series", "name": "q", "query": "sum(q)", "target_type": "average_value", "target": 7},
        ],
        "predictive": {"enabled": True, "replica_rps": 10},
    }
    params = Params(target=50.0, window=120.0, scale_down=600.0, min_replicas=3, safety_factor=1.3, horizon=300.0)
    out = AutoscalingSettings.model_validate(apply(data, params, replica_rps=10.0))
    assert [m.target for m in out.metrics] == [5.0, 5.0]  # 50 % of 10 req/s
    assert out.window == 120.0
    assert out.behavior is not None and out.behavior.scaleDown is not None
    assert out.behavior.scaleDown.stabilizationWindowSeconds == 600
    assert out.min_replicas == 3
    assert (out.predictive.safety_factor, out.predictive.horizon) == (1.3, 300.0)
    assert data["metrics"][0]["target"] == 7  # the input is left alone
    assert base_params(out, 10.0) == params


def test_threshold_mode_tunes_the_cooldown() -> None:
    data: dict[str, Any] = {
        "mode": "threshold",
        "max_replicas": 10,
        "metrics": [{"type": "cpu", "scale_up_above": 80, "scale_down_below": 30}],
    }
    settings = AutoscalingSettings.model_validate(data)
    start = base_params(settings, 10.0)
    assert start.target is None and start.scale_down == 600.0
    assert "target" not in space_for(settings, startup_delay=60.0, peak_replicas=5.0).dimensions()
    out = AutoscalingSettings.model_validate(apply(data, Params(None, 60.0, 120.0, 2), replica_rps=10.0))
    assert out.cooldown.down == 120.0
    assert out.behavior is None


@pytest.mark.parametrize("seed", [0, 1])
def test_every_sampled_point_is_a_valid_policy(seed: int) -> None:
    settings = baseline("predictive", replica_rps=10.0, min_replicas=1, max_replicas=40, startup_delay=60.0)
    data = settings.model_dump(mode="json", exclude_unset=True)
    space = space_for(settings, startup_delay=60.0, peak_replicas=30.0)
    start = base_params(settings, 10.0)
    for p in sample(space, start, np.random.default_rng(seed), 40, {start}):
        out = AutoscalingSettings.model_validate(apply(data, p, replica_rps=10.0))
        assert base_params(out, 10.0) == p
