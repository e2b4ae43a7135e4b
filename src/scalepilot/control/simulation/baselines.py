"""The baseline policies ``scalepilot simulate --compare`` knows by name.

Each is an ``autoscaling:`` section for the same engine, so what the simulator reports
for ``hpa`` is what ``scalepilot run`` would do with that section:

``hpa``
    Kubernetes' HPA with its defaults: one ``cpu`` Utilization metric at 70 % of a
    replica's capacity, tolerance 0.1, the default behavior (scale-up: the larger of
    +4 pods and +100 % per 15 s, no stabilization; scale-down: −100 % per 15 s after a
    300 s stabilization window), a 15 s sync period, a 1 m metric window.
``keda``
    KEDA drives an HPA with an *external* metric: a scaler (here Prometheus's, on the
    service's request rate, ``sum(rate(requests_total[1m]))``) polled every
    ``pollingInterval`` (30 s) with an AverageValue target per replica, which we set to
    70 % of a replica's capacity. That is a ``series`` metric with ``target_type:
    average_value`` decided every 30 s. KEDA's ``cooldownPeriod`` (300 s) applies only
    to going from 1 to 0 replicas; between 1 and N the HPA it creates scales, with the
    HPA's default behavior, whose 300 s scale-down stabilization is the cool-down
    before scaling in. With ``min_replicas`` 0 we enable scale to zero with a 300 s
    cooldown, which is KEDA's ``cooldownPeriod`` exactly.
``predictive``
    ``hpa`` plus an ``autoscaling.predictive`` block: the request-rate forecast
    (``control.forecast``) made from the trace's past only, ``horizon`` = the startup
    delay + 2 m, ``replica_rps`` = a replica's capacity (the forecast's headroom is
    its ``safety_factor``; the metrics keep the 70 % target), ``PREDICTIVE`` otherwise.
``static``
    No policy: the replicas the trace's peak needs, all the time (``oracle.static``).
"""

from __future__ import annotations

from typing import Any

from scalepilot.config.scaling import AutoscalingSettings

TARGET_UTILIZATION = 70.0
"""Percent of a replica's capacity both reactive baselines aim at."""

HORIZON_MARGIN = 120.0
"""Seconds the predictive baseline looks ahead beyond the startup delay."""
PREDICTIVE: dict[str, Any] = {"safety_factor": 1.1, "max_error": 0.3, "min_history": 7200, "seasonality": "auto"}
"""The predictive baseline's block besides its capacity and horizon: the config's
defaults, except ``min_history`` 2 h (the hourly season plus its level window, the
least the model uses) instead of 1 d, so a one-day trace is not reactive throughout."""

REACTIVE = ("hpa", "keda", "predictive")
"""Baselines the engine runs (``static`` needs no simulation)."""
DEFAULT = ("hpa", "keda", "static")
"""What ``--compare`` runs when not given."""
ALL = ("hpa", "keda", "static", "predictive")


def baseline(
    name: str, *, replica_rps: float, min_replicas: int, max_replicas: int, startup_delay: float = 60.0
) -> AutoscalingSettings:
    """The ``autoscaling:`` settings of the baseline ``name`` (``startup_delay`` sets
    the predictive baseline's horizon)."""
    floor = max(1, min_replicas)
    data: dict[str, Any]
    if name in ("hpa", "predictive"):
        data = {
            "min_replicas": floor,
            "max_replicas": max_replicas,
            "interval": 15,
            "window": 60,
            "metrics": [{"type": "cpu", "target": TARGET_UTILIZATION}],
        }
        if name == "predictive":
            data["predictive"] = PREDICTIVE | {
                "enabled": True,
                "replica_rps": replica_rps,
                "horizon": startup_delay + HORIZON_MARGIN,
            }
    elif name == "keda":
        data = {
            "min_replicas": min_replicas,
            "max_replicas": max_replicas,
            "interval": 30,
            "window": 60,
            "metrics": [
                {
                    "type": "series",
                    "name": "requests",
                    "query": "sum(rate(scalepilot_lb_requests_total[1m]))",
                    "target_type": "average_value",
                    "unit": "req/s",
                    "target": replica_rps * TARGET_UTILIZATION / 100.0,
                }
            ],
        }
        if min_replicas == 0:
            data["scale_to_zero"] = {"enabled": True, "cooldown": 300}
    else:
        raise ValueError(f"unknown baseline {name!r}: choose from {', '.join(ALL)}")
    return AutoscalingSettings.model_validate(data)
