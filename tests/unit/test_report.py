"""The scaling report's arithmetic (control/report.py) on hand-made minutes.

Covers: statistics ignore minutes without a value; CPU and memory per replica are the
service's figure ÷ ready replicas ÷ the limit; the share of minutes above a target;
minutes at max_replicas (desired) and min_replicas (ready); headroom in replicas and,
with a capacity, in req/s; growth labels and their errors; the traffic trace trims and
fills gaps and refuses less than an hour; projections: per 30 days, the oracle never
above a policy without violations, a growth past the ceiling is flagged and violates, a fixed count is
projected as fixed; each recommendation rule fires on its evidence and stays quiet
without it; direction reversals are counted only when close.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalepilot.config.models import Config
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.report import (
    FLAP_WINDOW_MS,
    MINUTE_COLUMNS,
    MONTH_S,
    Facts,
    Minutes,
    Recommendation,
    factor_growth,
    headroom,
    project,
    recommend,
    reversals,
    stats,
    traffic_trace,
    usage,
    users_growth,
)
from scalepilot.control.simulation import ServiceModel
from scalepilot.faces.cli.report_plot import nice_ceiling

START_MS = 1_700_000_040_000


def minutes(n: int, **cols: object) -> Minutes:
    base = {name: np.full(n, np.nan) for name in MINUTE_COLUMNS}
    for k, v in cols.items():
        base[k] = np.asarray(v, dtype=np.float64) if not np.isscalar(v) else np.full(n, float(v))  # type: ignore[arg-type]
    return Minutes(START_MS, 60.0, base)


def auto(**kw: object) -> AutoscalingSettings:
    data: dict[str, object] = {"min_replicas": 2, "max_replicas": 6, "metrics": [{"type": "cpu", "target": 70}]}
    data.update(kw)
    return AutoscalingSettings.model_validate(data)


def test_stats_ignore_missing_minutes() -> None:
    s = stats(np.array([1.0, np.nan, 3.0, 2.0]))
    assert s is not None and s.mean == 2.0 and s.max == 3.0 and s.points == 3
    assert s.p95 == pytest.approx(np.percentile([1.0, 3.0, 2.0], 95))
    assert stats(np.array([np.nan, np.nan])) is None


def test_usage_per_replica_targets_and_time_at_the_bounds() -> None:
    ready = [2, 2, 4, 4, 6, np.nan]
    desired = [2, 2, 4, 6, 6, 6]
    cores = [0.4, 0.8, 3.2, 2.0, 5.4, 1.0]  # per replica: 20 %, 40 %, 80 %, 50 %, 90 % (of 1 core)
    m = minutes(6, replicas_ready=ready, replicas_desired=desired, cpu_cores=cores, load_rps=[10, 20, 40, 40, 60, 1])
    facts = Facts(autoscaling=auto(), targets={"cpu": 70.0})
    u = usage(m, facts)
    assert u.covered_minutes == 5
    assert u.cpu_utilization is not None
    assert u.cpu_utilization.max == pytest.approx(90.0)
    assert u.cpu_utilization.mean == pytest.approx((20 + 40 + 80 + 50 + 90) / 5)
    assert u.above_target == {"cpu": pytest.approx(2 / 5)}
    assert u.minutes_at_max == 3  # desired counts, even when ready is unknown
    assert u.minutes_at_min == 2
    assert u.rps_per_replica is not None and u.rps_per_replica.max == pytest.approx(10.0)
    assert u.memory_utilization is None  # no memory limit
    # A limit of two cores halves every percentage.
    halved = usage(m, Facts(autoscaling=auto(), cpu_limit_cores=2.0, targets={"cpu": 70.0}))
    assert halved.cpu_utilization is not None and halved.cpu_utilization.max == pytest.approx(45.0)
    assert halved.above_target["cpu"] == 0.0


def test_memory_utilization_needs_a_limit() -> None:
    m = minutes(3, replicas_ready=2, memory_bytes=[100.0, 200.0, 300.0])
    u = usage(m, Facts(memory_limit_bytes=100.0))
    assert u.memory_utilization is not None and u.memory_utilization.max == pytest.approx(150.0)


def test_headroom_in_replicas_and_requests() -> None:
    m = minutes(4, load_rps=[10, 50, 30, np.nan], replicas_ready=[1, 2, 2, 2])
    facts = Facts(autoscaling=auto(max_replicas=8))
    room = headroom(m, facts, 40.0)
    assert room.peak_rps == 50 and room.peak_at_ms == START_MS + 60_000 and room.ready_at_peak == 2
    assert room.replica_headroom == pytest.approx(4.0)
    assert room.capacity_rps == pytest.approx(320.0) and room.growth == pytest.approx(6.4)
    without = headroom(m, facts, None)
    assert without.capacity_rps is None and without.growth is None and without.replica_headroom == 4.0
    fixed = headroom(m, Facts(replicas=3), 10.0)
    assert fixed.ceiling == 3 and fixed.growth == pytest.approx(0.6)
    assert headroom(minutes(2), facts, 10.0).peak_rps is None


def test_growth_labels_and_errors() -> None:
    assert [(g.label, g.factor) for g in users_growth(200, [500, 1000])] == [("500 users", 2.5), ("1,000 users", 5.0)]
    assert [(g.label, g.factor) for g in factor_growth([2, 0.5])] == [("×2", 2.0), ("×0.5", 0.5)]
    with pytest.raises(ValueError, match="users today"):
        users_growth(0, [10])
    with pytest.raises(ValueError, match="more than 0"):
        users_growth(10, [-1])
    with pytest.raises(ValueError, match="growth factor"):
        factor_growth([0])


def test_traffic_trace_trims_fills_and_needs_an_hour() -> None:
    load = np.full(100, np.nan)
    load[5:95] = 10.0
    load[50:60] = np.nan
    load[49], load[60] = 20.0, 40.0
    traced = traffic_trace(minutes(100, load_rps=load))
    assert traced is not None
    trace, known = traced
    assert known == 80 and trace.rps.size == 90
    assert trace.start == START_MS / 1000 + 5 * 60
    assert trace.rps[44] == 20.0 and trace.rps[55] == 40.0  # minutes 49 and 60
    assert trace.rps[50] == pytest.approx(20.0 + 20.0 * 6 / 11)  # minute 55: linear between them
    short = np.full(100, np.nan)
    short[:59] = 1.0
    assert traffic_trace(minutes(100, load_rps=short)) is None


def _day_trace(peak: float) -> Minutes:
    t = np.arange(24 * 60)
    load = peak / 2 * (1 - np.cos(2 * math.pi * t / (24 * 60)))
    return minutes(t.size, load_rps=load)


def test_projection_per_month_oracle_below_policy_and_ceiling_flag() -> None:
    traced = traffic_trace(_day_trace(100.0))
    assert traced is not None
    trace, _ = traced
    model = ServiceModel(replica_rps=10.0, startup_delay=60.0, cost_per_replica_hour=0.5)
    facts = Facts(autoscaling=auto(min_replicas=1, max_replicas=12), targets={"cpu": 70.0})
    today, doubled = project(trace, 60.0, factor_growth([1, 2]), facts, model)
    assert today.needed_replicas == 10 and not today.capped
    assert doubled.needed_replicas == 20 and doubled.capped and doubled.ceiling == 12
    for p in (today, doubled):
        assert p.run is not None
        assert p.run.cost == pytest.approx(p.run.replica_hours * 0.5)
    # The oracle is the least a policy without violations spends; the capped policy
    # spends less than the oracle only by violating.
    assert today.run is not None and today.run.slo_violation_minutes == 0
    assert today.oracle.replica_hours <= today.run.replica_hours
    # The oracle of one day, ×30: its replicas per minute summed, in hours.
    per_minute = np.maximum(np.ceil(trace.rps / 10.0 - 1e-9), 1)
    assert today.oracle.replica_hours == pytest.approx(per_minute.sum() / 60 * MONTH_S / 86400, rel=1e-3)
    assert doubled.run is not None and doubled.run.slo_violation_minutes > 0  # capped at 12 < 20 needed
    assert doubled.peak_replicas == 12


def test_projection_of_a_fixed_count_and_of_nothing() -> None:
    traced = traffic_trace(_day_trace(50.0))
    assert traced is not None
    trace, _ = traced
    model = ServiceModel(replica_rps=10.0)
    (fixed,) = project(trace, 60.0, factor_growth([2]), Facts(replicas=5), model)
    assert fixed.policy == "fixed 5 replicas" and fixed.peak_replicas == 5 and fixed.capped
    assert fixed.run is not None
    assert fixed.run.replica_hours == pytest.approx(5 * 24 * 30)
    over = trace.rps * 2 > 50.0
    assert fixed.run.slo_violation_minutes == pytest.approx(over.sum() * 30)
    # The oracle is not held at the fixed count: at night one replica does.
    (quiet,) = project(trace, 60.0, factor_growth([0.5]), Facts(replicas=5), model)
    assert quiet.oracle.replica_hours < 3 * 24 * 30 and quiet.oracle.replica_hours < quiet.run.replica_hours  # type: ignore[union-attr]
    (watched,) = project(trace, 60.0, factor_growth([1]), Facts(), model)
    assert watched.run is None and "only the oracle" in watched.note


def _found(**kw: object) -> list[Recommendation]:
    """``recommend`` over ``m`` (default: an hour at 3 replicas, 40 % CPU) with ``facts``
    and the other arguments' quiet defaults, any of them given instead."""
    facts = kw.pop("facts", Facts(autoscaling=auto(), targets={"cpu": 70.0}))
    m = kw.pop("m", minutes(60, replicas_ready=3, replicas_desired=3, cpu_cores=1.2, load_rps=30))
    used = usage(m, facts)  # type: ignore[arg-type]
    args: dict[str, object] = {
        "measured_replica_hours": 3.0,
        "covered_s": 3600.0,
        "flaps": 0,
        "failed": 0,
        "projections": [],
        "capacity_known": True,
    }
    args.update(kw)
    return recommend(facts, used, headroom(m, facts, None), **args)  # type: ignore[arg-type]


def _rules(**kw: object) -> list[str]:
    return [r.kind for r in _found(**kw)]


def test_quiet_when_nothing_asks_for_a_change() -> None:
    assert _rules() == []
    assert _rules(capacity_known=False) == ["measure_capacity"]


def test_rules_fire_on_their_evidence() -> None:
    at_max = minutes(60, replicas_ready=6, replicas_desired=6, cpu_cores=2.4, load_rps=30)
    assert "raise_max_replicas" in _rules(m=at_max)
    (first, *_) = _found(m=at_max, measured_replica_hours=6.0)
    # The dashboard writes the sentence from these in the reader's language.
    assert first.key == "raise_max_replicas" and first.params == {"max": 6, "minutes": 60, "share": 100.0}
    hot = minutes(60, replicas_ready=3, replicas_desired=3, cpu_cores=2.85, load_rps=30)  # 95 % per replica
    assert "saturated" in _rules(m=hot)
    assert "scaling_failed" in _rules(failed=2)
    assert "flapping" in _rules(flaps=4, covered_s=86400.0)
    assert "flapping" not in _rules(flaps=3, covered_s=86400.0)
    assert "flapping" not in _rules(flaps=2, covered_s=3600.0)  # a short range counts as a day
    assert "flapping" in _rules(flaps=7, covered_s=2 * 86400.0)
    idle = minutes(60, replicas_ready=4, replicas_desired=4, cpu_cores=0.4, load_rps=5)  # 10 % of 1 core
    facts = Facts(autoscaling=auto(min_replicas=4), targets={"cpu": 70.0})
    assert "lower_min_replicas" in _rules(m=idle, facts=facts)
    fixed = Facts(replicas=3)
    assert "enable_autoscaling" in _rules(facts=fixed)


def test_overprovisioned_and_ceiling_for_growth_come_from_projections() -> None:
    traced = traffic_trace(_day_trace(20.0))
    assert traced is not None
    trace, _ = traced
    model = ServiceModel(replica_rps=10.0)
    facts = Facts(autoscaling=auto(min_replicas=1, max_replicas=3), targets={"cpu": 70.0})
    projections = project(trace, 60.0, factor_growth([1, 4]), facts, model)
    least = projections[0].oracle.replica_hours * 86400 / MONTH_S  # per day
    kinds = _rules(facts=facts, projections=projections, measured_replica_hours=least * 2, covered_s=86400.0)
    assert "overprovisioned" in kinds and "ceiling_for_growth" in kinds
    assert "overprovisioned" not in _rules(
        facts=facts, projections=projections, measured_replica_hours=least * 1.2, covered_s=86400.0
    )


def test_reversals_only_when_close() -> None:
    t = FLAP_WINDOW_MS
    assert reversals([(0, 1), (t - 1, -1), (2 * t, -1), (2 * t + 10, 1)]) == 2
    assert reversals([(0, 1), (t, -1)]) == 0
    assert reversals([(0, 1), (10, 1), (20, 1)]) == 0


def test_check_capacity_when_the_recorded_traffic_simulated_is_off_the_measured() -> None:
    traced = traffic_trace(_day_trace(20.0))
    assert traced is not None
    trace, _ = traced
    facts = Facts(autoscaling=auto(min_replicas=1, max_replicas=3), targets={"cpu": 70.0})
    (today,) = project(trace, 60.0, factor_growth([1]), facts, ServiceModel(replica_rps=10.0))
    assert today.run is not None
    per_day = today.run.replica_hours * 86400 / MONTH_S

    def kinds(measured: float) -> list[str]:
        return _rules(facts=facts, projections=[today], measured_replica_hours=measured, covered_s=86400.0)

    assert "check_capacity" not in kinds(per_day * 1.2)
    assert "check_capacity" in kinds(per_day * 0.7)
    assert "check_capacity" in kinds(per_day * 1.4)


def test_plot_axes_end_on_round_numbers() -> None:
    assert [nice_ceiling(x) for x in (11_878, 0.5, 3.3, 95, 101, 7_000, 0)] == [12_000, 0.5, 4, 100, 120, 8_000, 1]


def test_a_guard_without_a_model_is_left_out_and_said() -> None:
    traced = traffic_trace(_day_trace(50.0))
    assert traced is not None
    trace, _ = traced
    model = ServiceModel(replica_rps=10.0)
    guarded = auto(metrics=[{"type": "cpu", "target": 70}, {"type": "latency", "quantile": 0.95, "target": "500ms"}])
    (with_guard,) = project(trace, 60.0, factor_growth([1]), Facts(autoscaling=guarded), model)
    (plain,) = project(trace, 60.0, factor_growth([1]), Facts(autoscaling=auto()), model)
    assert with_guard.run == plain.run and with_guard.run is not None
    assert with_guard.note == "simulated without p95 (latency): the simulator has no model of it"
    only_latency = auto(metrics=[{"type": "latency", "quantile": 0.95, "target": "500ms"}])
    (none,) = project(trace, 60.0, factor_growth([1]), Facts(autoscaling=only_latency), model)
    assert none.run is None and "no model of p95 (latency)" in none.note


def test_minutes_over_the_alerts_critical_thresholds() -> None:
    latency = [0.2, 0.6, 0.7, np.nan, 0.9, 0.3]
    desired = [2, 2, 6, 6, 6, 2]
    errors = [0.0, 0.02, 0.0, np.nan, 0.005, 0.011]
    m = minutes(6, latency_p95_seconds=latency, replicas_desired=desired, replicas_ready=2, error_ratio=errors)
    facts = Facts(autoscaling=auto(), targets={"cpu": 70.0}, latency_slo=0.5, error_slo=0.01)
    u = usage(m, facts)
    assert (u.slow_minutes, u.slow_at_max, u.failing_minutes) == (3, 2, 2)
    found = _found(facts=facts, m=m, covered_s=360.0, measured_replica_hours=1.0)
    (earlier,) = [r for r in found if r.kind == "scale_earlier"]
    assert earlier.params == {"slo_ms": 500, "minutes": 3, "below_max": 1, "max": 6}
    # Slow only while pinned at the ceiling: the policy is not what to change.
    pinned = minutes(3, latency_p95_seconds=0.9, replicas_desired=6, replicas_ready=6)
    assert "scale_earlier" not in _rules(facts=facts, m=pinned, covered_s=180.0, measured_replica_hours=1.0)
    # Nothing measured is not "0 minutes over".
    blank = usage(minutes(3, replicas_ready=2), facts)
    assert blank.slow_minutes is None and blank.failing_minutes is None


def test_facts_take_the_slo_from_the_builtin_alerts() -> None:
    config = Config.model_validate(
        {
            "services": [{"name": "api", "target": {"type": "local", "command": ["app"]}}],
            "alert_rules": {"builtin": {"services": {"api": {"latency": {"critical": "1s"}}}}},
        }
    )
    facts = Facts.of(config.services[0], config.alert_rules.builtin.for_service("api"))
    assert (facts.latency_slo, facts.error_slo) == (1.0, 0.01)
    off = config.alert_rules.builtin.for_service("api").model_copy(
        update={"latency": config.alert_rules.builtin.latency.model_copy(update={"enabled": False})}
    )
    assert Facts.of(config.services[0], off).latency_slo is None


def test_cpu_and_memory_are_shared_among_the_replicas_that_ran() -> None:
    # A rollout: 2 ready, but 4 replica processes (2 starting) used the CPU and memory.
    m = minutes(2, replicas_ready=2, replicas_measured=[4, np.nan], cpu_cores=2.0, memory_bytes=400.0)
    u = usage(m, Facts(memory_limit_bytes=200.0))
    assert u.cpu_utilization is not None and u.memory_utilization is not None
    # Minute 1: among the 4 measured; minute 2 has no count, so among the 2 ready.
    assert (u.cpu_utilization.mean, u.memory_utilization.mean) == (pytest.approx(75.0), pytest.approx(75.0))
    assert u.cpu_utilization.max == pytest.approx(100.0)
