"""The HPA replica calculation, table-driven.

Covers: the documentation's worked examples (double at 200m/100m, halve at 50m);
Kubernetes' own replica-calculator cases for per-replica (Resource and Pods),
service-level Value (Object/External) and service-level AverageValue (per-pod
Object/External) targets, with not-ready and missing replicas; the tolerance band in
both directions, per direction (``behavior.*.tolerance``) and global; several metrics
(largest proposal wins) and the HPA's rules for unreadable metrics; the min/max clamp
and the out-of-range shortcut; utilization truncated to whole percent; autoscaling
paused at zero replicas.

Kubernetes' CPU cases use 1-core requests, so a level of ``300`` (millicores) is 30 %
here. Case names in comments are the test functions of
``pkg/controller/podautoscaler/replica_calculator_test.go`` and ``horizontal_test.go``.
"""

from __future__ import annotations

from typing import Any

import pytest

from scalepilot.control.scaling import decide
from scalepilot.domain.scaling import LimitKind, MetricReading, Observation, ScalerState
from tests.unit.test_scaling_support import T0, per_replica, policy, service

# No scale-down stabilization, so one decision shows the calculator's answer.
NO_WINDOW = {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}


def cpu(target: float, **extra: Any) -> Any:
    return policy(metrics=[{"type": "cpu", "target": target}], **NO_WINDOW, **extra)


def rps(target: float) -> Any:
    return policy(metrics=[{"type": "rps", "target": target}], **NO_WINDOW)


def series(target: float, target_type: str = "value") -> Any:
    return policy(
        metrics=[{"type": "series", "name": "qps", "query": "qps", "target": target, "target_type": target_type}],
        **NO_WINDOW,
    )


PER_REPLICA_CASES = [
    # (target, values (None = missing), not-ready indexes, expected replicas)
    # TestReplicaCalcScaleUp: 50 % against 30 % on 3 -> ceil(1.667 x 3)
    (30, [30, 50, 70], [], 5),
    # TestReplicaCalcScaleUpUnreadyLessScale: the not-ready one counts as 0 -> 40 % -> ceil(1.333 x 3)
    (30, [30, 50, 70], [0], 4),
    # TestReplicaCalcScaleUpUnreadyNoScale: with the two not-ready at 0 the ratio reverses -> stay
    (30, [40, 50, 70], [1, 2], 3),
    # TestReplicaCalcScaleUpIgnoresFailedPods: failed pods are not replicas at all
    (30, [50, 70], [], 4),
    # TestReplicaCalcScaleDown: 28 % against 50 % on 5 -> ceil(0.56 x 5)
    (50, [10, 30, 50, 25, 25], [], 3),
    # TestReplicaCalcScaleDownIncludeUnreadyPods: not-ready ones left out on a scale-down
    (50, [10, 30, 50, 25, 25], [3, 4], 2),
    # TestReplicaCalcScaleDownExcludeUnscheduledPods: pending replicas have no value and are not ready
    (50, [10, None, None, None, None], [1, 2, 3, 4], 1),
    # TestReplicaCalcTolerance: 102 % against 100 % -> within 10 %
    (100, [101, 103, 102], [], 3),
    # TestReplicaCalcMissingMetrics: 24 % (truncated from 24.75) on a scale-down, two missing counted as
    # the target 100 % -> 62 % -> ceil(0.62 x 4)
    (100, [40, 9.5, None, None], [], 3),
    # TestReplicaCalcMissingMetricsNoChangeEq: exactly on target -> stay
    (100, [100, None], [], 2),
    # TestReplicaCalcMissingMetricsNoChangeGt: scale-up, the missing one at 0 -> 95 % -> in tolerance
    (100, [190, None], [], 2),
    # TestReplicaCalcMissingMetricsNoChangeLt: scale-down, missing at target -> 80 % -> ceil(1.6) = current
    (100, [60, None], [], 2),
    # TestReplicaCalcMissingMetricsUnreadyChange: 45 % with one missing (at target) -> 47 % -> in tolerance
    (50, [10, 45, None], [0], 3),
    # TestReplicaCalcMissingMetricsUnreadyScaleUp: 200 %, missing and not-ready at 0 -> 66 % -> ceil(1.32 x 3)
    (50, [10, 200, None], [0], 4),
    # TestReplicaCalcMissingMetricsUnreadyScaleDown gives 3 in Kubernetes, which counts a missing pod as
    # 100 % of its *request*; ours counts it as the target (utilization here is a share of the *limit*,
    # where 100 % means saturated): (10 + 10 + 50) / 3 = 23 % -> ceil(0.46 x 3) = 2.
    (50, [10, 10, 10, None], [0], 2),
]


@pytest.mark.parametrize(("target", "values", "unready", "expected"), PER_REPLICA_CASES)
def test_cpu_utilization_cases(target: float, values: list[float | None], unready: list[int], expected: int) -> None:
    decision, _ = decide(cpu(target), ScalerState(), per_replica(values, unready=unready), T0)
    assert decision.metrics[0].proposal == expected
    assert decision.replicas == expected


def test_superfluous_values_for_unknown_replicas_are_ignored() -> None:
    # TestReplicaCalcSuperfluousMetrics: values for replicas that do not exist do not count:
    # (400 + 950 + 300 + 700) / 4 = 587.5 -> 587 % -> ceil(5.87 x 4) = 24
    values = {"r0": 400.0, "r1": 950.0, "r2": 300.0, "r3": 700.0, "gone-1": 320.0, "gone-2": 200.0}
    obs = Observation(4, dict.fromkeys(("r0", "r1", "r2", "r3"), True), {"cpu": MetricReading(per_replica=values)})
    decision, _ = decide(cpu(100), ScalerState(), obs, T0)
    assert decision.metrics[0].value == 587
    assert decision.metrics[0].proposal == 24


def test_utilization_is_truncated_to_whole_percent_as_the_hpa_does() -> None:
    # GetResourceUtilizationRatio: int32(total * 100 / requests). 55.9 % -> 55 % -> ratio 1.1, in tolerance
    decision, _ = decide(cpu(50), ScalerState(), per_replica([55.9, 55.9]), T0)
    assert decision.metrics[0].value == 55
    assert decision.replicas == 2
    # An average value target is not truncated: 55.9 / 50 = 1.118 -> ceil(2.236) = 3
    obs = per_replica([55.9, 55.9], name="rps")
    assert decide(rps(50), ScalerState(), obs, T0)[0].replicas == 3


@pytest.mark.parametrize(
    ("values", "target", "expected"),
    [
        # TestReplicaCalcScaleUpCM: 20 against 15 per replica on 3 -> ceil(1.333 x 3)
        ([20, 10, 30], 15, 4),
        # TestReplicaCalcScaleUpCMExternal (a pods metric): 8.6 against 4.4 on 1 -> 2
        ([8.6], 4.4, 2),
        # TestReplicaCalcScaleDownCM: 12 against 20 on 5 -> 3
        ([12, 12, 12, 12, 12], 20, 3),
        # TestReplicaCalcToleranceCM: 20.666 against 20 -> within 10 %
        ([20, 21, 21], 20, 3),
        # Documentation, algorithm details: 200m against 100m doubles, 50m halves
        ([0.2, 0.2, 0.2, 0.2], 0.1, 8),
        ([0.05, 0.05, 0.05, 0.05], 0.1, 2),
    ],
)
def test_average_value_per_replica_cases(values: list[float], target: float, expected: int) -> None:
    decision, _ = decide(rps(target), ScalerState(), per_replica(values, name="rps"), T0)
    assert decision.replicas == expected


def test_not_ready_replicas_are_set_aside_for_every_metric() -> None:
    # The HPA sets aside unready pods only for CPU; a replica that has not passed its readiness
    # probe gets no traffic here, so its request rate says nothing either. 50 and 10 req/s ready
    # (30 on the starting one is ignored): 30 against 15 -> scale-up, the starting one counts as 0
    # -> (50 + 10 + 0) / 3 = 20 -> ceil(1.333 x 3) = 4 (Kubernetes would say 6).
    decision, _ = decide(rps(15), ScalerState(), per_replica([50, 10, 30], unready=[2], name="rps"), T0)
    assert decision.metrics[0].unready == 1
    assert decision.replicas == 4


@pytest.mark.parametrize(
    ("value", "target", "spec", "ready", "expected"),
    [
        # TestReplicaCalcScaleUpCMObject: 20 against 15 on 3 ready -> 4
        (20000, 15000, 3, 3, 4),
        # TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods: only the 1 ready replica counts -> ceil(5 x 1)
        (50000, 10000, 3, 1, 5),
        # TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods: ceil(8600 / 4400 x 1) = 2
        (8600, 4400, 3, 1, 2),
        # TestReplicaCalcScaleDownCMObject: 12 against 20 on 5 -> 3
        (12000, 20000, 5, 5, 3),
        # TestReplicaCalcScaleDownCMExternal: ceil(8600 / 14334 x 5) = 3
        (8600, 14334, 5, 5, 3),
        # TestReplicaCalcToleranceCMObject: 20666 against 20000 -> in tolerance
        (20666, 20000, 3, 3, 3),
        # TestReplicaCalcToleranceCMExternal: 8600 against 8888 -> in tolerance
        (8600, 8888, 3, 3, 3),
    ],
)
def test_value_target_cases(value: float, target: float, spec: int, ready: int, expected: int) -> None:
    obs = service(spec, {"qps": value}, ready=ready, unready=spec - ready)
    decision, _ = decide(series(target), ScalerState(), obs, T0)
    assert decision.replicas == expected


@pytest.mark.parametrize(
    ("total", "target", "spec", "expected"),
    [
        # TestReplicaCalcScaleUpCMPerPodObject: ceil(20000 / 5000) = 4
        (20000, 5000, 3, 4),
        # TestReplicaCalcScaleUpPerPodCMExternal: ceil(8600 / 2150) = 4
        (8600, 2150, 3, 4),
        # TestReplicaCalcScaleDownPerPodCMObject: ceil(6000 / 2000) = 3
        (6000, 2000, 5, 3),
        # TestReplicaCalcScaleDownPerPodCMExternal: ceil(8600 / 2867) = 3
        (8600, 2867, 5, 3),
        # TestReplicaCalcTolerancePerPodCMObject: 20166 / (5000 x 4) = 1.008 -> in tolerance
        (20166, 5000, 4, 4),
        # TestReplicaCalcTolerancePerPodCMExternal: 8600 / (2900 x 3) = 0.989 -> in tolerance
        (8600, 2900, 3, 3),
    ],
)
def test_service_total_against_average_value_cases(total: float, target: float, spec: int, expected: int) -> None:
    decision, _ = decide(series(target, "average_value"), ScalerState(), service(spec, {"qps": total}), T0)
    assert decision.replicas == expected


@pytest.mark.parametrize(
    ("tolerance", "behavior", "value", "expected"),
    [
        # default 0.1 both ways; the band is inclusive (isWithin: 1 - down <= ratio <= 1 + up)
        (None, None, 110, 10),
        (None, None, 111, 12),  # ratio 1.11 -> ceil(11.1)
        (None, None, 90, 10),
        (None, None, 89, 9),  # ratio 0.89 -> ceil(8.9)
        # per direction, the HPA's behavior.scaleUp.tolerance (here as a quantity, 50m = 0.05)
        (None, {"scaleUp": {"tolerance": "50m"}}, 106, 11),
        (None, {"scaleUp": {"tolerance": 0.05}}, 92, 10),  # scale-down keeps 0.1
        (None, {"scaleDown": {"tolerance": 0.2}}, 85, 10),
        (None, {"scaleDown": {"tolerance": 0.2}}, 111, 12),  # scale-up keeps 0.1
        # global, the --horizontal-pod-autoscaler-tolerance
        (0.2, None, 115, 10),
        (0.2, None, 121, 13),
        (0, None, 101, 11),
    ],
)
def test_tolerance(tolerance: float | None, behavior: dict[str, Any] | None, value: float, expected: int) -> None:
    settings: dict[str, Any] = {"metrics": [{"type": "rps", "target": 100}]}
    if tolerance is not None:
        settings["tolerance"] = tolerance
    rules: dict[str, Any] = {"scaleDown": {"stabilizationWindowSeconds": 0}}
    for direction, extra in (behavior or {}).items():
        rules[direction] = {**rules.get(direction, {}), **extra}
    obs = per_replica([value] * 10, name="rps")
    decision, _ = decide(policy(**settings, behavior=rules), ScalerState(), obs, T0)
    assert decision.replicas == expected


def test_tolerance_is_reported_as_the_first_limit() -> None:
    # 10 replicas at 105 % of target: the formula says 11, the tolerance keeps 10
    decision, _ = decide(rps(100), ScalerState(), per_replica([105] * 10, name="rps"), T0)
    assert decision.proposal == 11
    assert [(lim.kind, lim.before, lim.after) for lim in decision.limits] == [(LimitKind.TOLERANCE, 11, 10)]
    assert decision.metrics[0].status == "tolerance"


def two_metrics() -> Any:
    return policy(
        metrics=[
            {"type": "cpu", "target": 50},
            {"type": "series", "name": "qps", "query": "qps", "target": 100, "target_type": "value"},
        ],
        **NO_WINDOW,
    )


def readings(cpu_values: list[float], qps: float | None) -> Observation:
    obs = per_replica(cpu_values)
    extra = {"qps": None if qps is None else MetricReading(value=qps)}
    return Observation(obs.spec_replicas, obs.replicas, {**obs.readings, **extra})


@pytest.mark.parametrize(
    ("cpu_values", "qps", "expected", "why"),
    [
        # the largest proposal wins: cpu 80 % -> 8, qps 190 against 100 -> ceil(9.5)
        ([80] * 5, 190, 10, "qps"),
        ([40] * 5, 180, 9, "qps"),
        ([90] * 5, 50, 9, "cpu"),
        # TestScaleUpOneMetricEmpty: an unreadable metric does not stop a scale-up (80 % -> ceil(4.8))
        ([60, 80, 100], None, 5, "cpu"),
        # TestNoScaleDownOneMetricInvalid: ...but stops a scale-down (28 % would give 3)
        ([10, 30, 50, 25, 25], None, 5, "invalid"),
        # both below target: the larger (less aggressive) proposal wins
        ([20] * 5, 60, 3, "qps"),
    ],
)
def test_several_metrics(cpu_values: list[float], qps: float | None, expected: int, why: str) -> None:
    decision, _ = decide(two_metrics(), ScalerState(), readings(cpu_values, qps), T0)
    assert decision.replicas == expected
    if why == "invalid":
        assert decision.limits[-1].kind is LimitKind.INVALID
        assert decision.metrics[1].status == "invalid"


def test_all_metrics_unreadable_keeps_the_count() -> None:
    obs = Observation(4, dict.fromkeys("abcd", True), {"cpu": MetricReading(per_replica={}), "qps": None})
    decision, _ = decide(two_metrics(), ScalerState(), obs, T0)
    assert decision.replicas == 4 and not decision.change
    assert decision.reason == "cpu has no value from a ready replica: stay at 4"


@pytest.mark.parametrize(
    ("reading", "note"),
    [
        (None, "has no reading"),
        (MetricReading(value=float("nan")), "is not a number"),
        (MetricReading(value=float("inf")), "is not a number"),
        (MetricReading(per_replica={"0": 0.3}), "needs one value for the whole service, got one per replica"),
    ],
)
def test_unusable_readings_make_a_metric_invalid(reading: MetricReading | None, note: str) -> None:
    p = policy(metrics=[{"type": "latency", "target": "250ms"}])
    decision, _ = decide(p, ScalerState(), Observation.of(3, {"p95": reading}), T0)
    assert decision.metrics[0].status == "invalid"
    assert decision.metrics[0].note == note
    assert decision.replicas == 3


def test_nan_per_replica_counts_as_missing() -> None:
    decision, _ = decide(cpu(50), ScalerState(), per_replica([80, float("nan")]), T0)
    assert decision.metrics[0].missing == 1


@pytest.mark.parametrize(
    ("lo", "hi", "values", "expected", "kind"),
    [
        # TestScalingWithRules: prenormalized desired replicas < minReplicas
        (2, 8, [10, 10, 10], 2, LimitKind.MIN),
        # desired replica count is more than the maximum replica count
        (1, 10, [500] * 5, 10, LimitKind.MAX),
    ],
)
def test_min_max_clamp(lo: int, hi: int, values: list[float], expected: int, kind: LimitKind) -> None:
    p = policy(metrics=[{"type": "cpu", "target": 50}], min_replicas=lo, max_replicas=hi, **NO_WINDOW)
    decision, _ = decide(p, ScalerState(), per_replica(values), T0)
    assert decision.replicas == expected
    assert decision.limits[-1].kind is kind


@pytest.mark.parametrize(
    ("spec", "expected", "reason"),
    [
        (12, 10, "12 replicas above max_replicas 10: 12 → 10"),
        (1, 2, "1 replica below min_replicas 2: 1 → 2"),
    ],
)
def test_out_of_range_count_goes_straight_to_the_bound(spec: int, expected: int, reason: str) -> None:
    # reconcileAutoscaler: "Current number of replicas above Spec.MaxReplicas" (no rate limit applies)
    p = policy(metrics=[{"type": "cpu", "target": 50}], min_replicas=2, max_replicas=10)
    decision, _ = decide(p, ScalerState(), per_replica([50] * spec), T0)
    assert decision.replicas == expected
    assert decision.reason == reason


def test_zero_replicas_without_scale_to_zero_pauses_autoscaling() -> None:
    # "Implicit maintenance-mode deactivation": scaled to 0 by hand, the HPA leaves it alone
    state = ScalerState()
    decision, after = decide(cpu(50), state, per_replica([]), T0)
    assert decision.replicas == 0 and not decision.change
    assert after is state
    assert decision.reason.startswith("0 replicas and scale to zero is off")


@pytest.mark.parametrize(
    ("values", "replicas", "expected"),
    [
        ({"a": 1.0, "b": 2.0}, {"a": True, "b": True}, (3.0, 2, 0, 0)),
        ({"a": 1.0, "b": 2.0}, {"a": True, "b": False}, (1.0, 1, 0, 1)),
        ({"a": 1.0}, {"a": True, "b": True}, (1.0, 1, 1, 0)),  # b has no value
        ({"a": 1.0, "b": float("nan")}, {"a": True, "b": True}, (1.0, 1, 1, 0)),
        ({"a": 1.0, "b": float("inf")}, {"a": True, "b": True, "c": False}, (1.0, 1, 1, 1)),
        ({"a": 1.0, "z": 50.0}, {"a": True}, (1.0, 1, 0, 0)),  # z is not a replica of ours
        ({}, {}, (0.0, 0, 0, 0)),
    ],
)
def test_gather_sums_ready_values_and_counts_missing_and_unready(
    values: dict[str, float], replicas: dict[str, bool], expected: tuple[float, int, int, int]
) -> None:
    from scalepilot.control.scaling.hpa import gather

    assert gather(values, replicas) == expected
