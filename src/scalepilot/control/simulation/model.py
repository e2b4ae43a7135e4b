"""What the simulator knows about a service and what it reports about a policy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ServiceModel:
    """The capacity model of one service, and how its metrics are collected."""

    replica_rps: float
    """Requests per second one replica serves within the latency SLO: its capacity.
    Its CPU reads 100 % at this rate (the model is linear up to saturation)."""
    startup_delay: float = 60.0
    """Seconds from a scale-up to the new replicas being ready (receiving traffic)."""
    cost_per_replica_hour: float = 1.0
    """Cost of one provisioned replica for an hour, in any currency."""
    scrape_interval: float = 15.0
    """How often the metrics are sampled; the readings are rates over the policy's
    ``window`` of these samples, as the live loop reads them from the store."""

    def __post_init__(self) -> None:
        if not self.replica_rps > 0:
            raise ValueError("replica_rps must be greater than 0")
        if self.startup_delay < 0:
            raise ValueError("startup_delay must not be negative")
        if not self.scrape_interval > 0:
            raise ValueError("scrape_interval must be greater than 0")


@dataclass(frozen=True, slots=True)
class Report:
    """A policy's outcome on a trace; the figures ``scalepilot simulate`` prints."""

    slo_violation_minutes: float
    """Minutes (whole simulation steps, counted in minutes) in which the offered load
    exceeded ready replicas × ``replica_rps`` at any moment."""
    replica_hours: float
    """Provisioned replicas (ready or starting: what is paid for) integrated over time."""
    cost: float
    """``replica_hours`` × the cost per replica-hour."""
    scaling_actions: int
    """Changes of the replica count asked of the target."""
    overload_requests: float
    """Requests above capacity, summed over the trace."""

    def to_dict(self) -> dict[str, float | int]:
        return {
            "slo_violation_minutes": self.slo_violation_minutes,
            "replica_hours": self.replica_hours,
            "cost": self.cost,
            "scaling_actions": self.scaling_actions,
            "overload_requests": self.overload_requests,
        }


@dataclass(frozen=True, slots=True, eq=False)
class Run:
    """A report with the per-step series behind it (for plots)."""

    name: str
    report: Report
    provisioned: FloatArray
    """Mean provisioned replicas over each step."""
    ready: FloatArray
    """Mean ready replicas over each step (capacity = ready × replica_rps)."""
    violated: npt.NDArray[np.bool_]
    """Whether load exceeded ready capacity at some moment of each step."""


def report_from_steps(
    load: FloatArray, ready: FloatArray, provisioned: FloatArray, step: float, model: ServiceModel, actions: int
) -> Report:
    """The report of a policy whose replica counts are constant within each step
    (the oracle and static provisioning)."""
    capacity = ready * model.replica_rps
    excess = np.maximum(load - capacity, 0.0)
    replica_hours = float(provisioned.sum()) * step / 3600.0
    return Report(
        slo_violation_minutes=float(np.count_nonzero(excess > 0)) * step / 60.0,
        replica_hours=replica_hours,
        cost=replica_hours * model.cost_per_replica_hour,
        scaling_actions=actions,
        overload_requests=float(excess.sum()) * step,
    )
