"""The predictive step of a decision: a request-rate forecast turned into replicas.

The forecast arrives in the ``Observation`` as plain data (``domain.scaling.Forecast``):
the caller made it from the rate's history. Here it becomes a count,
``ceil(predicted × safety_factor ÷ replica_rps)``, which may only *raise* the metrics'
proposal, and only above the current count: a forecast lower than the current count is
ignored, so scaling in always follows the metrics (and their stabilization). A
forecast with too little history behind it, or whose recent error is above
``max_error``, is not used, and the decision's reason says why.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from scalepilot.config.durations import format_duration
from scalepilot.domain.scaling import Forecast, Limit, LimitKind


@dataclass(frozen=True, slots=True)
class PredictiveSpec:
    """A compiled ``autoscaling.predictive`` block."""

    replica_rps: float
    safety_factor: float
    max_error: float
    min_history: float
    """Seconds."""
    horizon: float
    """Seconds."""


def _rate(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _clock(at: float) -> str:
    return time.strftime("%H:%M", time.gmtime(at))


def forecast_replicas(spec: PredictiveSpec, forecast: Forecast | None) -> tuple[int | None, str]:
    """The replicas the forecast asks for, or ``None`` and why it is not used."""
    if forecast is None or forecast.rps is None:
        return None, "no forecast: reactive only"
    if forecast.history < spec.min_history:
        have, need = format_duration(forecast.history), format_duration(spec.min_history)
        return None, f"forecast not used: {have} of history < min_history {need}"
    if forecast.error is not None and not forecast.error <= spec.max_error:
        return None, f"forecast not used: recent error above max_error {spec.max_error * 100:g}%"
    return math.ceil(forecast.rps * spec.safety_factor / spec.replica_rps - 1e-9), ""


def raise_on_forecast(
    spec: PredictiveSpec, forecast: Forecast | None, proposal: int, current: int, limits: list[Limit]
) -> tuple[int, str]:
    """The proposal raised to the forecast's count when that is above both it and the
    current count (a ``predictive`` limit is recorded); else unchanged. Returns the
    proposal and a note for the reason when the forecast could not be used."""
    wanted, note = forecast_replicas(spec, forecast)
    if wanted is None or wanted <= current or wanted <= proposal:
        return proposal, note
    assert forecast is not None and forecast.rps is not None
    ahead = format_duration(forecast.horizon)
    detail = f"forecast {_rate(forecast.rps)} req/s at {_clock(forecast.at)} (+{ahead})"
    limits.append(Limit(LimitKind.PREDICTIVE, proposal, wanted, detail))
    return wanted, ""
