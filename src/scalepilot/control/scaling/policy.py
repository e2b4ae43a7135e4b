"""Settings compiled once into plain, fast data for :func:`~.engine.decide`.

The config models are pydantic (validation, positions, docs); the engine runs tens of
thousands of times per simulated month, so it reads only these frozen dataclasses:
every default resolved (the HPA's default behavior, tolerances per direction, the
activation values), durations in seconds, percentages as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scalepilot.config.durations import format_duration
from scalepilot.config.scaling import AutoscalingSettings, HPAScalingRules
from scalepilot.control.scaling.predictive import PredictiveSpec
from scalepilot.control.scaling.schedules import Schedule
from scalepilot.domain.scaling import TargetType


class Mode(StrEnum):
    HPA = "hpa"
    THRESHOLD = "threshold"


class Select(StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """One HPA scaling policy: at most ``value`` pods (or percent) per ``period`` seconds."""

    percent: bool
    value: int
    period: float

    def describe(self, up: bool) -> str:
        """``+4 pods/15s``, ``-10%/60s``."""
        sign = "+" if up else "-"
        amount = f"{self.value}%" if self.percent else f"{self.value} pod{'s' if self.value != 1 else ''}"
        return f"{sign}{amount}/{self.period:g}s"


@dataclass(frozen=True, slots=True)
class DirectionRules:
    """One direction of the HPA's behavior, defaults filled in."""

    window: float
    """Stabilization window, seconds."""
    select: Select
    policies: tuple[RatePolicy, ...]
    tolerance: float


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    kind: str
    """cpu, memory, rps, in_flight, latency or series."""
    target_type: TargetType
    unit: str
    """``%``, ``s``, ``req/s`` or a series' own unit."""
    target: float
    """Mode hpa: the target. Mode threshold: the scale-up threshold."""
    lower: float
    """Mode threshold: the scale-down threshold (0 in mode hpa)."""
    activation: float
    wakes: bool
    """Readable with no replica running, so it can wake the service from zero."""


@dataclass(frozen=True, slots=True)
class Policy:
    """A compiled ``autoscaling:`` section. Build it with :func:`compile_policy`."""

    mode: Mode
    min_replicas: int
    """Floor while active, at least 1 (zero is reached only by scale to zero)."""
    max_replicas: int
    metrics: tuple[MetricSpec, ...]
    scale_up: DirectionRules
    scale_down: DirectionRules
    step: float
    step_percent: bool
    cooldown_up: float
    cooldown_down: float
    schedules: tuple[Schedule, ...]
    scale_to_zero: bool
    zero_cooldown: float
    history: float
    """How long recommendations are kept: the longest stabilization window."""
    event_history: float
    """How long scale events are kept: the longest policy period."""
    predictive: PredictiveSpec | None = None
    """``autoscaling.predictive`` when enabled: the forecast may raise the proposal."""

    # Derived once here rather than on every decision. Not compared: each is a function
    # of the fields above.
    hpa: bool = field(init=False, repr=False, compare=False)
    """``mode is Mode.HPA``."""
    max_detail: str = field(init=False, repr=False, compare=False)
    """The detail of a ``max`` limit: ``max_replicas 10``."""
    min_detail: str = field(init=False, repr=False, compare=False)
    up_stabilization: str = field(init=False, repr=False, compare=False)
    """The detail of a scale-up ``stabilization`` limit: ``scale-up stabilization window 0s``."""
    down_stabilization: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        derived = {
            "hpa": self.mode is Mode.HPA,
            "max_detail": f"max_replicas {self.max_replicas}",
            "min_detail": f"min_replicas {self.min_replicas}",
            "up_stabilization": f"scale-up stabilization window {format_duration(self.scale_up.window)}",
            "down_stabilization": f"scale-down stabilization window {format_duration(self.scale_down.window)}",
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen: the dataclasses idiom for derived fields


_UP_DEFAULT = (RatePolicy(False, 4, 15.0), RatePolicy(True, 100, 15.0))
_DOWN_DEFAULT = (RatePolicy(True, 100, 15.0),)
_UNITS = {"cpu": "%", "memory": "%", "rps": "req/s", "in_flight": "", "latency": "s"}


def _rules(
    rules: HPAScalingRules | None, window: float, policies: tuple[RatePolicy, ...], tolerance: float
) -> DirectionRules:
    """The HPA's defaulting (``GenerateHPAScaleUpRules``/``...DownRules``): each unset
    field takes the default; an empty policy list counts as unset."""
    if rules is None:
        return DirectionRules(window, Select.MAX, policies, tolerance)
    return DirectionRules(
        float(rules.stabilizationWindowSeconds) if rules.stabilizationWindowSeconds is not None else window,
        Select(rules.selectPolicy) if rules.selectPolicy is not None else Select.MAX,
        tuple(RatePolicy(p.type == "Percent", p.value, float(p.periodSeconds)) for p in rules.policies)
        if rules.policies
        else policies,
        rules.tolerance if rules.tolerance is not None else tolerance,
    )


def compile_policy(settings: AutoscalingSettings) -> Policy:
    """Resolve every default of ``settings`` into a :class:`Policy`."""
    behavior = settings.behavior
    up = _rules(behavior.scaleUp if behavior else None, 0.0, _UP_DEFAULT, settings.tolerance)
    down = _rules(behavior.scaleDown if behavior else None, 300.0, _DOWN_DEFAULT, settings.tolerance)
    threshold = settings.mode == "threshold"
    metrics = []
    for m in settings.metrics:
        unit = getattr(m, "unit", None) or _UNITS.get(m.type, "")
        high = m.scale_up_above if threshold else getattr(m, "target", None)
        low = m.scale_down_below if threshold else None
        metrics.append(
            MetricSpec(
                name=m.metric_name,
                kind=m.type,
                target_type=m.hpa_target_type(),
                unit=unit,
                target=float(high or 0.0),
                lower=float(low or 0.0),
                activation=float(getattr(m, "activation", None) or 0.0),
                wakes=m.wakes,
            )
        )
    step = settings.step
    step_percent = isinstance(step, str)
    hpa = not threshold
    return Policy(
        mode=Mode(settings.mode),
        min_replicas=max(1, settings.min_replicas),
        max_replicas=settings.max_replicas,
        metrics=tuple(metrics),
        scale_up=up,
        scale_down=down,
        step=float(step.rstrip("%")) if isinstance(step, str) else float(step),
        step_percent=step_percent,
        cooldown_up=0.0 if hpa else settings.cooldown.up,
        cooldown_down=0.0 if hpa else settings.cooldown.down,
        schedules=tuple(
            Schedule(s.name or f"schedule[{i}]", s.cron, s.duration, s.timezone, s.min_replicas)
            for i, s in enumerate(settings.schedules)
        ),
        scale_to_zero=settings.scale_to_zero.enabled,
        zero_cooldown=settings.scale_to_zero.cooldown,
        history=max(up.window, down.window) if hpa else 0.0,
        event_history=max((p.period for p in (*up.policies, *down.policies)), default=0.0) if hpa else 0.0,
        predictive=_predictive(settings),
    )


def _predictive(settings: AutoscalingSettings) -> PredictiveSpec | None:
    p = settings.predictive
    if not p.enabled or p.replica_rps is None:
        return None
    return PredictiveSpec(p.replica_rps, p.safety_factor, p.max_error, p.min_history, p.horizon)
