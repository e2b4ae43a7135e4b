"""Threshold-style proposals: a step up above one value, a step down below another.

Each metric's value is its average over the ready replicas that reported (per-replica
readings), a service total divided by the ready replicas (AverageValue kinds), or the
service-level value. Above ``scale_up_above`` the metric proposes ``current + step``,
below ``scale_down_below`` ``current - step``, otherwise ``current``; equal to a
threshold is not beyond it. The engine takes the largest proposal, so one metric above
its threshold is enough to scale up and every metric must be below to scale down.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil

from scalepilot.control.scaling.hpa import gather, invalid
from scalepilot.control.scaling.policy import MetricSpec
from scalepilot.domain.scaling import MetricOutcome, MetricReading, TargetType

UP = "up"
DOWN = "down"
HOLD = "hold"

# ``TargetType.X`` is slow on Python 3.11 (``EnumType.__getattr__``); read every decision.
_AVERAGE_VALUE, _VALUE = TargetType.AVERAGE_VALUE, TargetType.VALUE


def step_size(current: int, step: float, percent: bool) -> int:
    """Replicas one action adds or removes: a fixed count, or a percentage of the
    current count rounded up (at least 1)."""
    if percent:
        return max(1, ceil(current * step / 100.0))
    return int(step)


def threshold_outcome(
    spec: MetricSpec,
    reading: MetricReading | None,
    replicas: Mapping[str, bool],
    current: int,
    step: int,
) -> MetricOutcome:
    if reading is None:
        return invalid(spec, "has no reading")
    per_replica = reading.per_replica
    missing = unready = 0
    if per_replica is not None:
        if spec.target_type is _VALUE:
            return invalid(spec, "needs one value for the whole service, got one per replica")
        total, count, missing, unready = gather(per_replica, replicas)
        if count == 0:
            return invalid(spec, "has no value from a ready replica" if replicas else "has no replica to read")
        value = total / count
    else:
        v = reading.value
        if v is None or v - v != 0:
            return invalid(spec, "is not a number")
        value = v
        if spec.target_type is _AVERAGE_VALUE:
            value = value / max(1, sum(replicas.values()))  # per ready replica
    if value > spec.target:
        status, proposal = UP, current + step
    elif value < spec.lower:
        status, proposal = DOWN, max(0, current - step)
    else:
        status, proposal = HOLD, current
    return MetricOutcome(
        spec.name,
        spec.unit,
        value,
        spec.target,
        proposal,
        proposal,
        lower=spec.lower,
        status=status,
        missing=missing,
        unready=unready,
    )
