"""The oracle and static provisioning: replica counts computed from the whole trace.

The **oracle** has perfect foresight and instant startup: in each step it runs exactly
``ceil(load / replica_rps)`` replicas within [min, max]. A policy with no SLO violation
must have at least that many *ready* replicas at every moment of every step, and it pays
for ready and starting ones alike, so no such policy can spend fewer replica-hours: the
oracle is a lower bound, not a target anyone can reach.

**Static** provisioning runs the count the trace's peak needs all the time: no
violations (within max), no scaling, the most replica-hours.
"""

from __future__ import annotations

import numpy as np

from scalepilot.control.simulation.model import FloatArray, Run, ServiceModel, report_from_steps
from scalepilot.control.simulation.trace import Trace


def needed_replicas(load: FloatArray, replica_rps: float) -> FloatArray:
    """The fewest replicas whose capacity covers each load, as the violation test
    (``load > replicas × replica_rps``) sees it, rounding errors included."""
    n = np.ceil(load / replica_rps)
    return n + (load > n * replica_rps)


def oracle(trace: Trace, model: ServiceModel, min_replicas: int, max_replicas: int, step: float) -> Run:
    """The oracle's run on ``trace`` (already at ``step`` resolution)."""
    replicas = np.clip(needed_replicas(trace.rps, model.replica_rps), min_replicas, max_replicas)
    actions = int(np.count_nonzero(np.diff(replicas)))
    report = report_from_steps(trace.rps, replicas, replicas, step, model, actions)
    return Run("oracle", report, replicas, replicas, trace.rps > replicas * model.replica_rps)


def static(trace: Trace, model: ServiceModel, min_replicas: int, max_replicas: int, step: float) -> Run:
    """Constant replicas for the trace's peak."""
    count = float(np.clip(needed_replicas(np.array([trace.peak]), model.replica_rps)[0], min_replicas, max_replicas))
    replicas = np.full(trace.rps.size, count)
    report = report_from_steps(trace.rps, replicas, replicas, step, model, 0)
    return Run("static", report, replicas, replicas, trace.rps > replicas * model.replica_rps)
