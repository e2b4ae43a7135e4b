"""A ``rollout:`` section compiled into stages, and the analysis into PromQL checks.

Both strategies become one shape, a sequence of :class:`Stage`: the canary group's
traffic weight, its size as a share of the stable count, and how long to hold once the
stage is reached. A canary's ``weight`` step is a stage; a ``pause`` step holds the
stage before it; the last stage is always "all traffic, full size", held for
``scale_down_delay``. Blue-green is a canary with two stages: the full new set with no
traffic (held for ``preview``), then all of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scalepilot.config.durations import format_duration
from scalepilot.config.rollout import AnalysisSettings, PauseStep, RolloutSettings

MANUAL = math.inf
"""A hold that ends only when a person promotes the rollout."""

CANARY = "canary"
STABLE = "stable"


@dataclass(frozen=True, slots=True)
class Stage:
    weight: int
    """The canary's share of the traffic, in %."""
    scale: int
    """The canary's replicas as a share of the stable count, in % (at least one when > 0)."""
    hold: float
    """Seconds to stay once reached (its replicas ready, its weight applied); ``MANUAL``:
    until promoted."""
    label: str
    """How people see it: ``weight 10%``, ``pause 2m``, ``preview``, ``all traffic``."""
    kind: str = "weight"
    """``weight``, ``pause``, ``preview`` or ``all``: what made it, for a reader that
    words it in another language."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    query: str
    min: float | None
    max: float | None
    unit: str = ""
    against_stable: bool = False
    """Compares with the stable group: measured only while both groups get traffic
    (with all of it on the new version the stable group has none to compare with)."""


@dataclass(frozen=True, slots=True)
class AnalysisSpec:
    interval: float
    failure_limit: int
    on_no_data: str
    """``pause``, ``fail`` or ``pass``."""
    checks: tuple[CheckSpec, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    strategy: str
    stages: tuple[Stage, ...]
    progress_deadline: float
    deadline: float | None
    analysis: AnalysisSpec | None


def canary_replicas(scale: int, stable: int) -> int:
    """Replicas for a canary at ``scale`` % of ``stable``: rounded up, at least one."""
    if scale <= 0:
        return 0
    return max(1, math.ceil(stable * scale / 100 - 1e-9))


def _hold_label(hold: float) -> str:
    return "manual" if hold == MANUAL else format_duration(hold)


def compile_plan(settings: RolloutSettings, service: str) -> Plan:
    stages: list[Stage] = []
    if settings.strategy == "blue_green":
        preview = MANUAL if settings.preview == "manual" else float(settings.preview)
        stages.append(Stage(0, 100, preview, f"preview ({_hold_label(preview)})", "preview"))
    else:
        weight = 0
        for step in settings.steps:
            if isinstance(step, PauseStep):
                hold = MANUAL if step.pause == "manual" else float(step.pause)
                stages.append(Stage(weight, weight, hold, f"pause {_hold_label(hold)} at {weight}%", "pause"))
            else:
                weight = step.weight
                stages.append(Stage(weight, weight, 0.0, f"weight {weight}%"))
    stages.append(Stage(100, 100, float(settings.scale_down_delay), "all traffic", "all"))
    analysis = compile_analysis(settings.analysis, service) if settings.analysis else None
    return Plan(settings.strategy, tuple(stages), settings.progress_deadline, settings.deadline, analysis)


def _selector(metric: str, service: str, extra: str = "", group: str = CANARY) -> str:
    return f'{metric}{{service="{service}",group="{group}"{extra}}}'


def error_rate_query(service: str, window: float, group: str = CANARY) -> str:
    """The group's 5xx answers as a % of its answers. No 5xx series at all is 0 %, not
    "no data" (``or vector(0)``); no answers at all is 0/0, NaN: no data."""
    w = format_duration(window)
    errors = _selector("scalepilot_lb_group_requests_total", service, ',code=~"5.."', group)
    every = _selector("scalepilot_lb_group_requests_total", service, "", group)
    return f"100 * (sum(rate({errors}[{w}])) or vector(0)) / sum(rate({every}[{w}]))"


def latency_query(service: str, window: float, quantile: float, group: str = CANARY) -> str:
    w = format_duration(window)
    buckets = _selector("scalepilot_lb_group_request_duration_seconds_bucket", service, "", group)
    return f"histogram_quantile({quantile:g}, sum by (le) (rate({buckets}[{w}])))"


def compile_analysis(settings: AnalysisSettings, service: str) -> AnalysisSpec:
    checks: list[CheckSpec] = []
    if settings.max_error_rate is not None:
        checks.append(
            CheckSpec("error_rate", error_rate_query(service, settings.window), None, settings.max_error_rate, "%")
        )
    if settings.max_latency is not None:
        query = latency_query(service, settings.window, settings.latency_quantile)
        checks.append(CheckSpec("latency", query, None, settings.max_latency, "s"))
    # Against the stable group: a difference and a ratio of the same queries over the same
    # window. A stable group without traffic (0/0) leaves the check with no data.
    if settings.max_error_rate_increase is not None:
        canary, stable = error_rate_query(service, settings.window), error_rate_query(service, settings.window, STABLE)
        query = f"({canary}) - ({stable})"
        checks.append(CheckSpec("error_rate_increase", query, None, settings.max_error_rate_increase, " points", True))
    if settings.max_latency_ratio is not None:
        q = settings.latency_quantile
        canary, stable = latency_query(service, settings.window, q), latency_query(service, settings.window, q, STABLE)
        checks.append(
            CheckSpec("latency_ratio", f"({canary}) / ({stable})", None, settings.max_latency_ratio, "×", True)
        )
    checks.extend(CheckSpec(c.name, c.query, c.min, c.max) for c in settings.checks)
    return AnalysisSpec(settings.interval, settings.failure_limit, settings.on_no_data, tuple(checks))
