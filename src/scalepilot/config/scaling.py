"""A service's ``autoscaling:`` section.

Two modes share one engine (``control.scaling``):

``mode: hpa`` (default)
    Kubernetes' HorizontalPodAutoscaler algorithm: each metric has a ``target``;
    ``tolerance`` and ``behavior`` are the HPA's own, and ``behavior`` is written exactly
    as in an HPA manifest (``scaleUp``/``scaleDown``, ``stabilizationWindowSeconds``,
    ``selectPolicy``, ``policies: [{type: Pods|Percent, value, periodSeconds}]``,
    ``tolerance``), so an existing manifest's block can be pasted in unchanged.

``mode: threshold``
    The style teams write by hand: each metric has ``scale_up_above`` and
    ``scale_down_below``; one ``step`` is added or removed per action, separated by
    ``cooldown.up`` / ``cooldown.down``.

What reading each metric ``type`` expects from the service loop (the engine reads no
metrics itself; see ``domain.scaling.MetricReading``):

========== ============== =====================================================================
type       target type    reading (unit)
========== ============== =====================================================================
cpu        utilization    per replica: CPU use as % of that replica's CPU limit; or one
                          value: the average of that over the ready replicas
memory     utilization    per replica: memory use as % of the memory limit; or one value: the
                          average over the ready replicas
rps        average value  per replica: requests per second it served; or one value: the whole
                          service's requests per second (e.g. at the balancer)
in_flight  average value  per replica: requests in flight on it; or one value: the service total
latency    value          one value: the ``quantile`` of the service's request latency, in
                          seconds (e.g. ``histogram_quantile(0.95, ...)`` over all replicas)
series     value          one value: the PromQL expression's result
series     average value  per replica: the expression's value per ``replica``; or one value:
                          the service total
========== ============== =====================================================================

Percentages may be written ``70%`` or ``70``; latencies as durations (``250ms``);
request rates as ``50`` (per second), ``50/s``, ``3000/min`` or ``180000/h``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import promql_parser
from croniter import croniter
from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import Duration, PositiveDuration
from scalepilot.domain.scaling import TargetType

_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]*")
_NUMBER = r"\s*(\d+(?:\.\d+)?|\.\d+)\s*"
_PERCENT_RE = re.compile(_NUMBER + r"%?\s*")
_RATE_RE = re.compile(_NUMBER + r"(?:/\s*(s|sec|m|min|h|hour))?\s*")
_RATE_UNITS = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
_QUANTITY_RE = re.compile(_NUMBER + r"(m?)\s*")
_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def _number(value: Any, pattern: re.Pattern[str], what: str) -> re.Match[str] | float:
    if isinstance(value, bool):
        raise PydanticCustomError("number", "must be {what}", {"what": what})
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise PydanticCustomError("number", "must be {what}", {"what": what})
        return float(value)
    if isinstance(value, str) and (m := pattern.fullmatch(value)):
        return m
    raise PydanticCustomError("number", "must be {what}", {"what": what})


def _coerce_percent(value: Any) -> float:
    got = _number(value, _PERCENT_RE, "a percentage such as 70% or 70")
    pct = got if isinstance(got, float) else float(got.group(1))
    if pct > 100:
        raise PydanticCustomError(
            "percent", "must not exceed 100%: utilization is a share of the replica's limit, which it cannot pass"
        )
    return pct


def _coerce_rate(value: Any) -> float:
    got = _number(value, _RATE_RE, "a request rate such as 50, 50/s or 3000/min")
    if isinstance(got, float):
        return got
    return float(got.group(1)) / _RATE_UNITS[got.group(2)]


_PLAIN_RE = re.compile(_NUMBER)


def _coerce_number(value: Any) -> float:
    got = _number(value, _PLAIN_RE, "a number that is not negative")
    return got if isinstance(got, float) else float(got.group(1))


def _coerce_quantity(value: Any) -> float:
    got = _number(value, _QUANTITY_RE, "a fraction such as 0.1 (or a Kubernetes quantity such as 100m)")
    if isinstance(got, float):
        return got
    return float(got.group(1)) / (1000.0 if got.group(2) else 1.0)


_NUMBER_SCHEMA = {"type": "number", "minimum": 0}
_PERCENT_PATTERN = r"^\s*\d+(\.\d+)?\s*%?\s*$"
Percent = Annotated[
    float,
    BeforeValidator(_coerce_percent),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _PERCENT_PATTERN, "examples": ["70%"]}, _NUMBER_SCHEMA]}),
]
"""A percentage, 0-100: ``70%`` or ``70``."""
Rate = Annotated[
    float,
    BeforeValidator(_coerce_rate),
    WithJsonSchema({"anyOf": [{"type": "string", "examples": ["50/s", "3000/min"]}, _NUMBER_SCHEMA]}),
]
"""Requests per second; ``50``, ``50/s``, ``3000/min`` and ``180000/h`` are the same."""
Number = Annotated[float, BeforeValidator(_coerce_number), WithJsonSchema(_NUMBER_SCHEMA)]
"""A plain number, not negative."""
Quantity = Annotated[
    float,
    BeforeValidator(_coerce_quantity),
    WithJsonSchema({"anyOf": [{"type": "string", "examples": ["0.05", "50m"]}, _NUMBER_SCHEMA]}),
]
"""A fraction, written as a number or a Kubernetes quantity (``0.05`` or ``50m``)."""


# --- metrics ----------------------------------------------------------------------------

_TARGET_DOC = "The HPA target (mode hpa): the controller keeps the value near it."
_UP_DOC = "Mode threshold: add a step when the value is above this."
_DOWN_DOC = "Mode threshold: remove a step when the value is below this (and every other metric agrees)."
_ACTIVATION_DOC = (
    "Scale to zero: the service wakes from zero replicas when the value is above this, and may go to zero "
    "when it has stayed at or below it (with every other such metric) for scale_to_zero.cooldown. "
    "Default 0, as KEDA's activationThreshold. Only with scale_to_zero.enabled."
)


class _Metric(Model):
    type: str
    name: str | None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME_RE.fullmatch(v):
            raise PydanticCustomError(
                "metric_name", "must start with a letter or _ and use letters, digits, _ . : -, e.g. queue_depth"
            )
        return v

    @property
    def metric_name(self) -> str:
        """Key of the reading, and the metric's name in decisions."""
        return self.name or self.default_name()

    def default_name(self) -> str:
        return self.type

    def hpa_target_type(self) -> TargetType:
        """How the value compares with the target (the HPA's target type)."""
        return TargetType.AVERAGE_VALUE

    @property
    def wakes(self) -> bool:
        """Whether the metric can be read with no replica running (and so wake the service)."""
        return True


class CPUMetric(_Metric):
    """Average CPU use per replica as a percentage of the replica's CPU limit."""

    type: Literal["cpu"]
    name: str | None = Field(None, description="Key of the reading and name in reasons; default 'cpu'.")
    target: Percent | None = Field(None, description=_TARGET_DOC + " % of the CPU limit, e.g. 70%.")
    scale_up_above: Percent | None = Field(None, description=_UP_DOC + " % of the CPU limit.")
    scale_down_below: Percent | None = Field(None, description=_DOWN_DOC + " % of the CPU limit.")

    def hpa_target_type(self) -> TargetType:
        return TargetType.UTILIZATION

    @property
    def wakes(self) -> bool:
        return False  # no replica, no CPU reading (KEDA's cpu scaler cannot wake from zero either)


class MemoryMetric(_Metric):
    """Average memory use per replica as a percentage of the replica's memory limit."""

    type: Literal["memory"]
    name: str | None = Field(None, description="Key of the reading and name in reasons; default 'memory'.")
    target: Percent | None = Field(None, description=_TARGET_DOC + " % of the memory limit, e.g. 80%.")
    scale_up_above: Percent | None = Field(None, description=_UP_DOC + " % of the memory limit.")
    scale_down_below: Percent | None = Field(None, description=_DOWN_DOC + " % of the memory limit.")

    def hpa_target_type(self) -> TargetType:
        return TargetType.UTILIZATION

    @property
    def wakes(self) -> bool:
        return False


class RPSMetric(_Metric):
    """Requests per second per replica."""

    type: Literal["rps"]
    name: str | None = Field(None, description="Key of the reading and name in reasons; default 'rps'.")
    target: Rate | None = Field(None, description=_TARGET_DOC + " Requests per second per replica.")
    scale_up_above: Rate | None = Field(None, description=_UP_DOC + " Requests per second per replica.")
    scale_down_below: Rate | None = Field(None, description=_DOWN_DOC + " Requests per second per replica.")
    activation: Rate | None = Field(None, description=_ACTIVATION_DOC + " Requests per second (service total).")


class InFlightMetric(_Metric):
    """Requests in flight (being served) per replica."""

    type: Literal["in_flight"]
    name: str | None = Field(None, description="Key of the reading and name in reasons; default 'in_flight'.")
    target: Number | None = Field(None, description=_TARGET_DOC + " Requests in flight per replica.")
    scale_up_above: Number | None = Field(None, description=_UP_DOC + " Requests in flight per replica.")
    scale_down_below: Number | None = Field(None, description=_DOWN_DOC + " Requests in flight per replica.")
    activation: Number | None = Field(None, description=_ACTIVATION_DOC + " Requests in flight (service total).")


class LatencyMetric(_Metric):
    """A quantile of the service's request latency, e.g. p95 (a Value target: one number
    for the whole service, from a histogram over all replicas)."""

    type: Literal["latency"]
    name: str | None = Field(None, description="Key of the reading and name in reasons; default p95 for 0.95.")
    quantile: float = Field(
        0.95,
        gt=0,
        lt=1,
        description="Which quantile, 0-1. 0.95 by default: the tail most users feel without chasing outliers.",
    )
    target: PositiveDuration | None = Field(None, description=_TARGET_DOC + " A duration, e.g. 250ms.")
    scale_up_above: Duration | None = Field(None, description=_UP_DOC + " A duration, e.g. 500ms.")
    scale_down_below: Duration | None = Field(None, description=_DOWN_DOC + " A duration.")
    activation: Duration | None = Field(None, description=_ACTIVATION_DOC + " A duration.")

    def default_name(self) -> str:
        return f"p{round(self.quantile * 100, 4):g}"

    def hpa_target_type(self) -> TargetType:
        return TargetType.VALUE


def check_promql(v: str) -> str:
    """``v`` parsed as PromQL giving an instant vector or a number; a readable error if not."""
    try:
        expr = promql_parser.parse(v)
    except ValueError as exc:
        raise PydanticCustomError("promql", "invalid PromQL: {e}", {"e": str(exc)}) from None
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    # A reading is a number per series: a range vector or a string cannot be one.
    kind = (
        "range vector"
        if isinstance(expr, promql_parser.MatrixSelector | promql_parser.SubqueryExpr)
        else "string"
        if isinstance(expr, promql_parser.StringLiteral)
        else None
    )
    if kind is not None:
        raise PydanticCustomError(
            "promql",
            "the query returns a {k}; it must give an instant vector or a number, "
            "e.g. sum(rate(jobs_total[1m])) rather than jobs_total[1m]",
            {"k": kind},
        )
    return v


class SeriesMetric(_Metric):
    """Any stored series or PromQL expression, e.g. a queue's length."""

    type: Literal["series"]
    name: str = Field(description="Key of the reading and name in reasons, e.g. queue_depth.")
    query: str = Field(description='PromQL selector or expression, e.g. sum(queue_length{queue="orders"}).')
    target_type: Literal["value", "average_value"] = Field(
        "value",
        description="value: the expression's one value is compared with the target as it is (scale ∝ value / "
        "target × replicas). average_value: the value per replica is (a service-level reading is the total; "
        "replicas = ceil(total / target)).",
    )
    unit: str = Field("", description="Shown after values in reasons, e.g. jobs. Empty by default.")
    target: Number | None = Field(None, description=_TARGET_DOC + " In the series' unit.")
    scale_up_above: Number | None = Field(None, description=_UP_DOC)
    scale_down_below: Number | None = Field(None, description=_DOWN_DOC)
    activation: Number | None = Field(None, description=_ACTIVATION_DOC)

    def hpa_target_type(self) -> TargetType:
        return TargetType(self.target_type)

    @field_validator("query")
    @classmethod
    def _promql(cls, v: str) -> str:
        return check_promql(v)


Metric = Annotated[
    CPUMetric | MemoryMetric | RPSMetric | InFlightMetric | LatencyMetric | SeriesMetric,
    Field(discriminator="type"),
]


# --- Kubernetes HPA behavior (camelCase, as in a manifest) ------------------------------


class HPAScalingPolicy(Model):
    """``{type: Pods|Percent, value, periodSeconds}``: at most ``value`` pods (or percent of
    the replicas at the period's start) may change within any ``periodSeconds``."""

    type: Literal["Pods", "Percent"]
    value: int = Field(description="Pods, or percent of the replicas the period started with. Greater than 0.")
    periodSeconds: int = Field(description="Length of the sliding window the policy holds over, 1-1800 s.")

    @field_validator("value")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise PydanticCustomError("policy_value", "must be greater than 0")
        return v

    @field_validator("periodSeconds")
    @classmethod
    def _period(cls, v: int) -> int:
        if not 0 < v <= 1800:
            raise PydanticCustomError("policy_period", "must be greater than 0 and at most 1800 (30 min)")
        return v


class HPAScalingRules(Model):
    """One direction of ``behavior``; unset fields take the HPA's defaults."""

    stabilizationWindowSeconds: int | None = Field(
        None,
        description="Seconds of past recommendations considered: scale-up uses their lowest, scale-down their "
        "highest. Defaults 0 (up: react at once) and 300 (down: five minutes of the highest, against flapping), "
        "as the HPA. 0-3600.",
    )
    selectPolicy: Literal["Max", "Min", "Disabled"] | None = Field(
        None,
        description="Max (default): the policy allowing the largest change applies; Min: the smallest; "
        "Disabled: never scale in this direction.",
    )
    policies: list[HPAScalingPolicy] | None = Field(
        None,
        description="Rate limits. Default up: 4 pods or 100% per 15 s (the larger); down: 100% per 15 s.",
    )
    tolerance: Quantity | None = Field(
        None,
        description="Ratio band around the target inside which this direction does not scale, e.g. 0.05 = 5%. "
        "Defaults to autoscaling.tolerance.",
    )

    @field_validator("stabilizationWindowSeconds")
    @classmethod
    def _window(cls, v: int | None) -> int | None:
        if v is not None and not 0 <= v <= 3600:
            raise PydanticCustomError("stabilization", "must be between 0 and 3600 (one hour)")
        return v


class HPABehavior(Model):
    """The HPA's ``spec.behavior``."""

    scaleUp: HPAScalingRules | None = None
    scaleDown: HPAScalingRules | None = None


# --- the rest -----------------------------------------------------------------------------


class Cooldown(Model):
    """Mode threshold: quiet periods after a scale action.

    A scale-up is not made within ``up`` of the last scale action of either direction,
    and a scale-down not within ``down`` of it (as the HPA's old upscale/downscale
    forbidden windows). Manual scales recorded with ``ScalerState.with_scale_event``
    count. A schedule's minimum and waking from zero ignore cooldowns.
    """

    up: Duration = Field(
        300.0, description="5m: long enough for new replicas to start and their load to show in the metrics."
    )
    down: Duration = Field(
        600.0, description="10m: removing capacity is the riskier direction, so it waits twice as long."
    )


class ScheduleSettings(Model):
    """Hold at least ``min_replicas`` from each time ``cron`` fires, for ``duration``:
    capacity for a known peak before the metrics see it."""

    name: str | None = Field(None, description="Shown in reasons; default schedule[index].")
    cron: str = Field(
        description="Five fields (minute hour day-of-month month day-of-week) or @daily/@hourly/..., "
        "read in `timezone`, e.g. '0 9 * * mon-fri'."
    )
    duration: PositiveDuration = Field(description="How long each window lasts (elapsed time), e.g. 10h.")
    timezone: str = Field(
        "UTC",
        description="IANA time zone the cron fields are read in, e.g. Europe/Istanbul. Windows follow the local "
        "clock across daylight-saving changes. UTC by default: the same everywhere.",
    )
    min_replicas: int = Field(ge=1, description="Replicas held at least during the window.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        text = v.strip()
        if text.lower() not in _CRON_MACROS and len(text.split()) != 5:
            raise PydanticCustomError(
                "cron", "must have five fields (minute hour day-of-month month day-of-week), e.g. '0 9 * * mon-fri'"
            )
        try:
            croniter(text)
        except (ValueError, KeyError) as exc:
            raise PydanticCustomError("cron", "invalid cron expression: {e}", {"e": str(exc)}) from None
        return text

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", "unknown time zone '{v}': use an IANA name such as Europe/Istanbul or UTC", {"v": v}
            ) from None
        return v


class ScaleToZeroSettings(Model):
    """Go to zero replicas when idle and wake on demand, as KEDA does. Off by default:
    the first request after idling waits for a replica to start."""

    enabled: bool = Field(False, description="Allow zero replicas (and min_replicas: 0).")
    cooldown: PositiveDuration = Field(
        300.0,
        description="How long every wake-capable metric must stay at or below its activation before going to "
        "zero. 5m, as KEDA's cooldownPeriod.",
    )


class PredictiveSettings(Model):
    """Scale ahead of load on a forecast of the service's request rate (see
    docs/predictive.md). The forecast can only *raise* the count above what the metrics
    ask for: scaling in always follows the metrics and their stabilization."""

    enabled: bool = Field(False, description="Use the forecast. Off by default: it needs history and a capacity.")
    metric: str | None = Field(
        None,
        description="PromQL of the service's request rate in requests per second, evaluated over the stored "
        "history at 1-minute steps. Default: the balancer's sum(rate(scalepilot_lb_requests_total"
        '{service="NAME"}[1m])), read from the store\'s 1 m / 5 m rollups.',
    )
    replica_rps: Rate | None = Field(
        None,
        description="Requests per second one replica should carry (its capacity at the target, e.g. 70% of what "
        "`scalepilot loadtest` measured). Required when enabled: the forecast asks for "
        "ceil(predicted × safety_factor ÷ replica_rps) replicas.",
    )
    horizon: PositiveDuration = Field(
        180.0,
        description="How far ahead to provision: the replicas' startup delay (scale action to ready) plus a "
        "margin. 3m: a 1m startup plus a 2m margin; set it to your startup delay + 2m.",
    )
    safety_factor: float = Field(
        1.1,
        ge=1.0,
        le=10.0,
        description="Multiplies the predicted rate: headroom for forecast error. 1.1: the blend's typical error "
        "on smooth traffic is a few percent; 10% covers it without paying much.",
    )
    max_error: Quantity = Field(
        0.3,
        description="Fall back to the metrics alone while the recent forecast error (Σ|forecast − actual| ÷ "
        "Σ actual over the last hour) is above this fraction. 0.3: beyond it the forecast misleads more than "
        "it helps.",
    )
    min_history: Duration = Field(
        86_400.0,
        description="No forecast with less rate history than this (reactive only). 1d: a whole daily season, so "
        "the seasonal part has one day to look back on.",
    )
    seasonality: Literal["auto", "daily", "weekly", "none"] = Field(
        "auto",
        description="Seasons the forecast looks back over: auto (daily with a day of history, weekly too with "
        "two weeks), daily, weekly, or none (recent trend only).",
    )

    @model_validator(mode="after")
    def _needs_capacity(self) -> PredictiveSettings:
        if self.enabled and not self.replica_rps:
            raise PydanticCustomError(
                "predictive", "predictive.replica_rps is required (and greater than 0) when predictive is enabled"
            )
        return self

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str | None) -> str | None:
        return None if v is None else check_promql(v)


def _check_step(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)) and float(m.group(1)) > 0:
        return f"{m.group(1)}%"
    raise PydanticCustomError("step", "must be a number of replicas (1 or more) or a percentage such as 50%")


Step = Annotated[
    int | str,
    BeforeValidator(_check_step),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "examples": ["50%"]}]}),
]


class AutoscalingSettings(Model):
    """Horizontal autoscaling of one service."""

    mode: Literal["hpa", "threshold"] = Field(
        "hpa",
        description="hpa: Kubernetes' HPA algorithm (targets, tolerance, behavior). threshold: scale-up and "
        "scale-down thresholds with a step and cooldowns. hpa by default: proportional, and the behaviour "
        "people already know from Kubernetes.",
    )
    min_replicas: int = Field(
        1,
        ge=0,
        description="Fewest replicas while the service is active. 1 by default, as the HPA; 0 only with "
        "scale_to_zero.enabled (and then 1 while active).",
    )
    max_replicas: int = Field(ge=1, description="Most replicas ever asked for; a cost ceiling.")
    metrics: list[Metric] = Field(
        default_factory=list, description="What to scale on; with several, the largest proposal wins."
    )
    tolerance: Quantity = Field(
        0.1,
        description="Mode hpa: no scaling while value / target is within this fraction of 1.0 (both directions; "
        "behavior.scaleUp/scaleDown.tolerance override one). 0.1, the HPA's --horizontal-pod-autoscaler-tolerance.",
    )
    behavior: HPABehavior | None = Field(
        None, description="Mode hpa: the HPA's behavior block, unchanged. Unset: the HPA's defaults."
    )
    step: Step = Field(
        1,
        description="Mode threshold: replicas added or removed per action, or a percentage of the current "
        "count (rounded up, at least 1). 1 by default: the gentlest change.",
    )
    cooldown: Cooldown = Field(default_factory=Cooldown, description="Mode threshold: quiet periods.")
    schedules: list[ScheduleSettings] = Field(
        default_factory=list, description="Windows that raise the minimum for known peaks."
    )
    scale_to_zero: ScaleToZeroSettings = Field(default_factory=ScaleToZeroSettings)
    predictive: PredictiveSettings = Field(
        default_factory=PredictiveSettings,
        description="Scale ahead of load on a forecast of the request rate; off by default.",
    )
    interval: PositiveDuration = Field(
        15.0,
        description="Time between two decisions. 15s, the HPA's --horizontal-pod-autoscaler-sync-period; the "
        "default policies' 15 s periods assume it.",
    )
    window: PositiveDuration = Field(
        60.0,
        description="Rates and averages behind each reading are taken over this much recent data. 1m: four "
        "samples at the default 15s scrape interval, enough for a stable rate, recent enough to react.",
    )
    manual_pause: Duration = Field(
        300.0,
        description="After a person scales by hand, the autoscaler waits this long before deciding again, so "
        "its next tick does not undo the choice. 5m, one default scale-down window. 0 resumes at once.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AutoscalingSettings:
        if self.min_replicas > self.max_replicas:
            raise PydanticCustomError(
                "replicas",
                "min_replicas ({lo}) must not exceed max_replicas ({hi})",
                {"lo": self.min_replicas, "hi": self.max_replicas},
            )
        zero = self.scale_to_zero.enabled
        if self.min_replicas == 0 and not zero:
            raise PydanticCustomError(
                "replicas", "min_replicas 0 needs scale_to_zero.enabled: true (otherwise use 1 or more)"
            )
        if not self.metrics and not self.schedules:
            raise PydanticCustomError("metrics", "give at least one metric (or a schedule) to scale on")
        names: dict[str, int] = {}
        for i, metric in enumerate(self.metrics):
            name = metric.metric_name
            if name in names:
                raise PydanticCustomError(
                    "duplicate",
                    "metric name '{n}' is used twice (metrics[{a}] and metrics[{b}]); give one a name",
                    {"n": name, "a": names[name], "b": i},
                )
            names[name] = i
            self._check_metric(i, metric)
        for i, sched in enumerate(self.schedules):
            if sched.min_replicas > self.max_replicas:
                raise PydanticCustomError(
                    "schedule",
                    "schedules[{i}].min_replicas ({n}) must not exceed max_replicas ({hi})",
                    {"i": i, "n": sched.min_replicas, "hi": self.max_replicas},
                )
        if zero and not any(m.wakes for m in self.metrics):
            raise PydanticCustomError(
                "scale_to_zero",
                "scale_to_zero needs a metric other than cpu or memory: those cannot be read with no replica "
                "running, so nothing could wake the service",
            )
        if self.mode == "hpa":
            for key in ("step", "cooldown"):
                if key in self.model_fields_set:
                    raise PydanticCustomError("mode", "{k} belongs to mode: threshold", {"k": key})
        else:
            for key in ("tolerance", "behavior"):
                if key in self.model_fields_set:
                    raise PydanticCustomError("mode", "{k} belongs to mode: hpa", {"k": key})
        return self

    def _check_metric(self, i: int, metric: _Metric) -> None:
        where = f"metrics[{i}] ({metric.metric_name})"
        target = getattr(metric, "target", None)
        up = getattr(metric, "scale_up_above", None)
        down = getattr(metric, "scale_down_below", None)
        if self.mode == "hpa":
            if up is not None or down is not None:
                raise PydanticCustomError(
                    "mode", "{w}: scale_up_above and scale_down_below need mode: threshold", {"w": where}
                )
            if target is None:
                raise PydanticCustomError("target", "{w}: needs a target (mode hpa)", {"w": where})
            if target <= 0:
                raise PydanticCustomError("target", "{w}: target must be greater than 0", {"w": where})
        else:
            if target is not None:
                raise PydanticCustomError(
                    "mode", "{w}: target belongs to mode hpa; give scale_up_above and scale_down_below", {"w": where}
                )
            if up is None or down is None:
                raise PydanticCustomError(
                    "threshold", "{w}: needs scale_up_above and scale_down_below (mode threshold)", {"w": where}
                )
            if down >= up:
                raise PydanticCustomError(
                    "threshold", "{w}: scale_down_below must be lower than scale_up_above", {"w": where}
                )
        if getattr(metric, "activation", None) is not None and not self.scale_to_zero.enabled:
            raise PydanticCustomError(
                "activation", "{w}: activation only applies with scale_to_zero.enabled: true", {"w": where}
            )
