"""The autoscaling engine's inputs, memory and output, as plain frozen data.

``control.scaling.decide(policy, state, observation, now)`` reads an :class:`Observation`
and a :class:`ScalerState` and returns a :class:`Decision` with the next state. Nothing
here is mutated: every decision returns a new state, so the live loop, the tests and the
simulator can keep, compare or replay any of them.

The engine never reads metrics itself. The caller turns each configured metric into a
:class:`MetricReading`: either one value per replica (``per_replica``) or one value for
the whole service (``value``). Which one each metric kind expects, and in which unit, is
documented at the top of ``config.scaling``.

Decisions are stored as events and shown in ``/status``, so they round-trip through JSON
(:meth:`Decision.to_dict` / :meth:`Decision.from_dict`); so does the state, which the
service persists to survive restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """A frozen slots dataclass for the type checker, a plain slots dataclass at run time.

    ``frozen=True`` makes ``__init__`` set each field through ``object.__setattr__``:
    about 2.3 µs for a ``MetricOutcome`` against 0.5 µs, and the simulator builds half a
    million of these types for a month at the HPA's 15 s sync. Immutability stays a
    checked rule: mypy (run in CI) rejects any assignment to a field; hashing is by
    value, as for a frozen dataclass."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


class TargetType(StrEnum):
    """How a metric's value is compared with its target (the HPA's ``target.type``)."""

    UTILIZATION = "utilization"
    """Average share of each replica's limit, in percent (cpu, memory)."""
    AVERAGE_VALUE = "average_value"
    """Average per replica; a service-level reading is the service's total."""
    VALUE = "value"
    """One value for the whole service, compared as it is (latency quantiles)."""


class LimitKind(StrEnum):
    """What changed a decision on its way from the raw proposal to the final count, in
    the order the engine applies them."""

    TOLERANCE = "tolerance"
    """A metric's ratio was within the tolerance band around 1.0: no change for it."""
    MISSING = "missing"
    """Replicas missing a value or not ready were filled in conservatively (HPA rules)."""
    INVALID = "invalid"
    """A metric had no usable reading: no scale-down on the others' word alone."""
    STABILIZATION = "stabilization"
    RATE = "rate"
    """A scaling policy (``Pods``/``Percent`` per period) or ``selectPolicy: Disabled``."""
    MIN = "min"
    MAX = "max"
    COOLDOWN = "cooldown"
    SCHEDULE = "schedule"
    SCALE_TO_ZERO = "scale_to_zero"
    PREDICTIVE = "predictive"
    """The request-rate forecast asked for more replicas than the metrics (predictive)."""


@record
class MetricReading:
    """One metric's current value(s), computed by the caller from the store.

    Give exactly one of ``per_replica`` (replica id -> value; replicas may be absent,
    the engine applies the HPA's missing-metric rules) or ``value`` (one value for the
    whole service). NaN counts as missing.
    """

    per_replica: Mapping[str, float] | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        if (self.per_replica is None) == (self.value is None):
            raise ValueError("give exactly one of per_replica and value")


@record
class Forecast:
    """The service's request rate forecast ``horizon`` ahead, for a predictive policy.

    Made by the caller from the rate's history (``control.forecast``); the engine only
    turns it into replicas, and only upward."""

    rps: float | None
    """Predicted requests per second at ``at``; ``None`` when no forecast could be made."""
    at: float
    """Unix seconds the prediction is for (decision time + horizon)."""
    horizon: float
    """Seconds ahead of the decision."""
    error: float | None
    """Recent forecast error: Σ|forecast − actual| ÷ Σ actual over the forecasts whose
    targets fell in the last hour (0.25 = 25 %); ``None`` until one has been checked."""
    history: float
    """Seconds of rate history behind the forecast."""

    def to_dict(self) -> dict[str, Any]:
        return {"rps": self.rps, "at": self.at, "horizon": self.horizon, "error": self.error, "history": self.history}


@record
class Observation:
    """What the service looks like at decision time."""

    spec_replicas: int
    """What the target was last asked for (the HPA's ``spec.replicas``): the engine's
    'current' count, the one every proposal is compared with."""
    replicas: Mapping[str, bool]
    """Every replica that exists and is not being removed, id -> ready (passing its
    readiness probe). A starting replica is not ready."""
    readings: Mapping[str, MetricReading | None]
    """By metric name (``cpu``, ``p95``, a series' name...). A metric absent here or
    mapped to ``None`` has no reading: it is *invalid* for this decision."""
    forecast: Forecast | None = None
    """The request-rate forecast, for a policy with ``predictive`` (ignored otherwise);
    ``None``: no forecast this time, the decision is reactive only."""

    @classmethod
    def of(
        cls,
        spec_replicas: int,
        readings: Mapping[str, MetricReading | None],
        *,
        ready: int | None = None,
        unready: int = 0,
    ) -> Observation:
        """An observation for a target that knows only counts: replicas get the ids
        ``"0"``, ``"1"``, ... (ready ones first). ``ready`` defaults to ``spec_replicas``."""
        n_ready = spec_replicas if ready is None else ready
        replicas = {str(i): i < n_ready for i in range(n_ready + unready)}
        return cls(spec_replicas, replicas, readings)


@record
class ScalerState:
    """The engine's memory between decisions, bounded by the policy's longest window.

    Returned anew by every decision. If the caller cannot carry a decision out (the
    target refused), it should keep the *previous* state; if something else changed the
    replica count (a person, another tool), it records that with
    :meth:`with_scale_event` so cooldowns and rate policies count it.
    """

    recommendations: tuple[tuple[float, int], ...] = ()
    """(time, replicas) of recent unstabilized recommendations, oldest first: the
    stabilization windows choose among them."""
    events: tuple[tuple[float, int], ...] = ()
    """(time, signed replica change) of recent scale actions, oldest first: the rate
    policies measure what already changed within their period."""
    last_scale_up: float | None = None
    last_scale_down: float | None = None
    idle_since: float | None = None
    """Since when every wake-capable metric has been at or below its activation value
    (scale to zero); ``None`` while any is active or unknown."""

    def with_scale_event(self, at: float, from_replicas: int, to_replicas: int) -> ScalerState:
        """This state plus a scale action from ``from_replicas`` to ``to_replicas`` at
        ``at`` (unix seconds), e.g. a manual scale from the dashboard."""
        change = to_replicas - from_replicas
        if change == 0:
            return self
        return ScalerState(
            self.recommendations,
            (*self.events, (at, change)),
            at if change > 0 else self.last_scale_up,
            at if change < 0 else self.last_scale_down,
            self.idle_since,
        )

    @property
    def last_scale(self) -> float | None:
        """Time of the last scale action of either direction."""
        up, down = self.last_scale_up, self.last_scale_down
        if up is None:
            return down
        return up if down is None or up > down else down

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendations": [list(r) for r in self.recommendations],
            "events": [list(e) for e in self.events],
            "last_scale_up": self.last_scale_up,
            "last_scale_down": self.last_scale_down,
            "idle_since": self.idle_since,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalerState:
        return cls(
            tuple((float(t), int(r)) for t, r in data.get("recommendations", ())),
            tuple((float(t), int(c)) for t, c in data.get("events", ())),
            data.get("last_scale_up"),
            data.get("last_scale_down"),
            data.get("idle_since"),
        )


@record
class MetricOutcome:
    """One metric's part in a decision."""

    name: str
    unit: str
    """How ``value`` and ``target`` are written: ``%``, ``s`` (shown as ms), ``req/s``,
    or a free unit of a series (may be empty)."""
    value: float | None
    """The value compared with the target: the average over ready replicas that reported
    (per-replica readings; whole percent for utilization, as the HPA truncates), the
    per-replica average of a service total, or the service-level value. ``None`` when
    the metric had no usable reading."""
    target: float
    """The HPA target, or the scale-up threshold in threshold mode."""
    proposal: int | None
    """Replicas this metric asks for after tolerance and missing-replica rules; ``None``
    when invalid."""
    raw: int | None = None
    """Replicas from the bare formula (``ceil(ratio × replicas)``), before tolerance and
    missing-replica rules."""
    ratio: float | None = None
    """value / target (HPA mode)."""
    lower: float | None = None
    """The scale-down threshold (threshold mode)."""
    status: str = "ok"
    """Machine-readable: ``ok``; ``tolerance`` (inside the band, proposes the current
    count); ``held`` / ``dampened`` (missing or not-ready replicas filled in kept / reduced
    the change); ``invalid``; in threshold mode ``up``, ``down`` or ``hold``."""
    note: str = ""
    """Why the proposal differs from ``raw``, or why the metric is invalid, in words."""
    missing: int = 0
    """Ready replicas without a value."""
    unready: int = 0
    """Replicas not ready (their values are set aside)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "value": self.value,
            "target": self.target,
            "proposal": self.proposal,
            "raw": self.raw,
            "ratio": self.ratio,
            "lower": self.lower,
            "status": self.status,
            "note": self.note,
            "missing": self.missing,
            "unready": self.unready,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricOutcome:
        return cls(**{k: data[k] for k in _OUTCOME_FIELDS if k in data})


_OUTCOME_FIELDS = (
    "name",
    "unit",
    "value",
    "target",
    "proposal",
    "raw",
    "ratio",
    "lower",
    "status",
    "note",
    "missing",
    "unready",
)


@record
class Limit:
    """One step that changed the proposal: from ``before`` to ``after`` replicas."""

    kind: LimitKind
    before: int
    after: int
    detail: str
    """e.g. ``scale-up policy +2 pods/15s`` or ``max_replicas 10``."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "before": self.before, "after": self.after, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Limit:
        return cls(LimitKind(data["kind"]), int(data["before"]), int(data["after"]), str(data["detail"]))


class Decision:
    """What the engine decided at ``time`` and why.

    Immutable, like the other types here (every attribute is ``Final`` for the type
    checker). Not a dataclass for one reason: ``reason`` is words for people, and
    building them takes a third of a decision's time, so the engine may pass a function
    that makes them, called once on first read. The simulator, which makes 172,800
    decisions for a month at the HPA's 15 s sync and reads none of their reasons,
    never pays for them; everything that shows or stores a decision reads the same
    text as before."""

    __slots__ = ("_reason", "current", "limits", "metrics", "proposal", "replicas", "time")

    def __init__(
        self,
        time: float,
        current: int,
        metrics: tuple[MetricOutcome, ...],
        proposal: int,
        limits: tuple[Limit, ...],
        replicas: int,
        reason: str | Callable[[], str],
    ) -> None:
        self.time: Final = time
        """Unix seconds."""
        self.current: Final = current
        """The spec replicas the decision started from."""
        self.metrics: Final = metrics
        self.proposal: Final = proposal
        """The raw proposal, before any limit: the largest of the metrics' bare-formula
        counts; the current count when no metric could be used or the count was out of
        range; ``min_replicas`` without metrics."""
        self.limits: Final = limits
        """What changed the proposal, in the order applied."""
        self.replicas: Final = replicas
        """The final desired count."""
        self._reason = reason

    @property
    def reason(self) -> str:
        """One line for people, e.g. ``p95 412ms > target 250ms: 4 → 7, limited to 6 by
        scale-up policy +2 pods/15s``."""
        reason = self._reason
        if not isinstance(reason, str):
            reason = self._reason = reason()
        return reason

    @property
    def change(self) -> bool:
        """Whether ``replicas`` differs from ``current``: the caller should scale."""
        return self.replicas != self.current

    def with_reason(self, reason: str) -> Decision:
        """This decision with another reason (e.g. a note appended)."""
        return Decision(self.time, self.current, self.metrics, self.proposal, self.limits, self.replicas, reason)

    def _key(self) -> tuple[Any, ...]:
        return (self.time, self.current, self.metrics, self.proposal, self.limits, self.replicas, self.reason)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Decision(time={self.time!r}, current={self.current!r}, metrics={self.metrics!r}, "
            f"proposal={self.proposal!r}, limits={self.limits!r}, replicas={self.replicas!r}, "
            f"reason={self.reason!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "current": self.current,
            "metrics": [m.to_dict() for m in self.metrics],
            "proposal": self.proposal,
            "limits": [lim.to_dict() for lim in self.limits],
            "replicas": self.replicas,
            "change": self.change,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            float(data["time"]),
            int(data["current"]),
            tuple(MetricOutcome.from_dict(m) for m in data["metrics"]),
            int(data["proposal"]),
            tuple(Limit.from_dict(lim) for lim in data["limits"]),
            int(data["replicas"]),
            str(data["reason"]),
        )
