"""A rollout's memory and its measurements, as plain frozen data.

``control.rollout.advance(plan, state, observation, now)`` reads a
:class:`RolloutObservation` and a :class:`RolloutState` and returns what to do (a
:class:`Directive`) and the next state; nothing here is mutated. The state round-trips
through JSON (:meth:`RolloutState.to_dict` / :meth:`RolloutState.from_dict`): the
service stores it, so a restart of scalepilot knows how the last rollout ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    PROGRESSING = "progressing"
    PAUSED = "paused"
    """By a person, by a ``pause: manual`` step is *not* this (it is a stage's hold), or
    by a measurement without data under ``on_no_data: pause``."""
    PROMOTED = "promoted"
    """Ended: the new version is the stable one."""
    ABORTED = "aborted"
    """Ended: traffic went back to the stable group, the canary replicas stopped."""


ENDED = (Phase.PROMOTED, Phase.ABORTED)


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class CheckValue:
    name: str
    value: float | None
    """None: no data (an empty result, NaN) or the query failed (``error``)."""
    passed: bool | None
    """None when there is no value."""
    error: str = ""
    bound: str = ""
    """What the value was held to, for people: ``≤ 1``, ``0.2 … 0.5``."""


@dataclass(frozen=True, slots=True)
class Measurement:
    at: float
    verdict: Verdict
    values: tuple[CheckValue, ...]
    stage: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "verdict": self.verdict.value,
            "stage": self.stage,
            "values": [asdict(v) for v in self.values],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measurement:
        return cls(
            float(d["at"]),
            Verdict(d["verdict"]),
            tuple(CheckValue(**v) for v in d.get("values", [])),
            int(d.get("stage", 0)),
        )


@dataclass(frozen=True, slots=True)
class RolloutState:
    revision: str
    """The template revision being rolled out."""
    stable_revision: str
    """The revision it replaces."""
    started_at: float
    phase: Phase = Phase.PROGRESSING
    stage: int = 0
    stage_started_at: float = 0.0
    reached_at: float | None = None
    """When the current stage was reached (replicas ready, weight applied); its hold
    counts from here."""
    weight: int = 0
    """The canary's traffic weight now applied, in %."""
    skip_hold: bool = False
    """Promoted by hand: the current stage moves on as soon as it is reached."""
    failures: int = 0
    next_measure_at: float | None = None
    measurements: tuple[Measurement, ...] = ()
    """The latest few, newest last."""
    paused_at: float | None = None
    reason: str = ""
    """Why it paused or ended, in English (events carry the same in their details)."""
    actor: str = ""
    """Who paused, promoted or aborted it by hand; empty for scalepilot itself."""
    ended_at: float | None = None

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["phase"] = self.phase.value
        d["measurements"] = [m.to_dict() for m in self.measurements]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RolloutState:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["phase"] = Phase(known.get("phase", Phase.PROGRESSING))
        known["measurements"] = tuple(Measurement.from_dict(m) for m in known.get("measurements", []))
        return cls(**known)

    def but(self, **changes: Any) -> RolloutState:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class RolloutObservation:
    stable_desired: int
    """The stable group's desired count (the autoscaler's, or the configured one)."""
    canary_ready: int
    """Canary replicas of the revision being rolled out that pass their readiness check."""
    measurement: Measurement | None = None
    """Taken because ``measure_due`` said so; None otherwise."""


@dataclass(frozen=True, slots=True)
class Transition:
    kind: str
    """An ``EventKind`` value: ``rollout_step``, ``rollout_paused``, ..."""
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Directive:
    weight: int
    """The canary's traffic weight to apply, in % (the stable group gets the rest)."""
    canary_replicas: int
    promote: bool = False
    """Make the canary the stable group now (its weight is then moot)."""
    transitions: tuple[Transition, ...] = ()
