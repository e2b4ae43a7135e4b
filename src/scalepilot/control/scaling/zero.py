"""Scale to zero and wake from zero, as KEDA does.

Only *wake-capable* metrics take part: those that can be read with no replica running
(everything but cpu and memory, as in KEDA, whose cpu/memory scalers cannot activate a
workload). Each is compared with its ``activation`` value (default 0, KEDA's
``activationThreshold``) through its **service value**: a service-level reading as it is
(for rps or in_flight that is the service's total), or the sum of a per-replica
reading's values.

* At zero replicas, the service wakes as soon as one such metric is *above* its
  activation; a metric with no reading never wakes it.
* With replicas running, it goes to zero once every such metric has been readable and
  *at or below* its activation continuously for ``scale_to_zero.cooldown`` (default
  300 s, KEDA's ``cooldownPeriod``). A metric that cannot be read restarts that clock:
  no data is no proof of idleness. A schedule window holding a minimum keeps it up.
* Unlike KEDA, it goes to zero only from the floor: when the rest of the decision
  already came down to ``min_replicas``. CPU and memory cannot wake the service, but
  while they ask for more replicas than the floor they keep it up.
"""

from __future__ import annotations

from collections.abc import Mapping

from scalepilot.control.scaling.policy import MetricSpec
from scalepilot.domain.scaling import MetricReading


def service_value(reading: MetricReading | None) -> float | None:
    """The value compared with ``activation``, or ``None`` when there is none."""
    if reading is None:
        return None
    if reading.per_replica is None:
        v = reading.value
        return v if v is not None and v - v == 0 else None
    total = 0.0
    seen = False
    for v in reading.per_replica.values():
        if v - v == 0:
            total += v
            seen = True
    return total if seen else None


def first_active(
    metrics: tuple[MetricSpec, ...], readings: Mapping[str, MetricReading | None]
) -> tuple[MetricSpec, float] | None:
    """The first wake-capable metric above its activation, with its service value."""
    for spec in metrics:
        if spec.wakes:
            v = service_value(readings.get(spec.name))
            if v is not None and v > spec.activation:
                return spec, v
    return None


def idle_since(
    metrics: tuple[MetricSpec, ...],
    readings: Mapping[str, MetricReading | None],
    previous: float | None,
    now: float,
) -> float | None:
    """Since when every wake-capable metric has been readable and at or below its
    activation (``previous`` carried on, or ``now`` if it just became so), else ``None``."""
    for spec in metrics:
        if spec.wakes:
            v = service_value(readings.get(spec.name))
            if v is None or v > spec.activation:
                return None
    return now if previous is None else previous
