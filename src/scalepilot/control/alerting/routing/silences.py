"""Silences: matchers that mute alerts between a start and an end.

As in Alertmanager a silence is *pending* before its start, *active* until its end and
*expired* after; expiring one early sets its end to now, and an expired silence is kept
(for the record) until ``retention`` after its end. scalepilot adds *until resolved*: such
a silence also expires at the first moment none of the alerts it matched still fires —
"mute this until it is fixed" without guessing how long the fix takes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from scalepilot.config.alertmanager import parse_matchers
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher

RETENTION_S = 5 * 86400.0
"""Expired silences are forgotten this long after their end (Alertmanager's default)."""


class SilenceError(ValueError):
    """A silence request that cannot be honoured; the message says why."""


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[str, ...]
    starts_at: float
    ends_at: float | None
    """None only for an until-resolved silence: no time bound."""
    created_by: str
    comment: str
    until_resolved: bool = False
    matched: bool = False
    """An until-resolved silence has seen a firing alert (so it may now expire)."""
    updated_at: float = 0.0
    parsed: tuple[Matcher, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.parsed:
            object.__setattr__(self, "parsed", tuple(m for text in self.matchers for m in parse_matchers(text)))

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if self.ends_at is not None and now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE

    def matches(self, labels: Labels) -> bool:
        return all(m.matches(labels) for m in self.parsed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": list(self.matchers),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "until_resolved": self.until_resolved,
            "matched": self.matched,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Silence:
        return cls(
            id=d["id"],
            matchers=tuple(d["matchers"]),
            starts_at=float(d["starts_at"]),
            ends_at=None if d["ends_at"] is None else float(d["ends_at"]),
            created_by=d["created_by"],
            comment=d["comment"],
            until_resolved=bool(d.get("until_resolved", False)),
            matched=bool(d.get("matched", False)),
            updated_at=float(d.get("updated_at", 0.0)),
        )


class Silences:
    """The silences of one router, by id. Methods take ``now``; nothing reads a clock."""

    def __init__(self, items: Iterable[Silence] = ()) -> None:
        self._items: dict[str, Silence] = {s.id: s for s in items}

    def add(
        self,
        matchers: Sequence[str],
        *,
        starts_at: float,
        ends_at: float | None,
        created_by: str,
        comment: str,
        until_resolved: bool,
        now: float,
        firing: Sequence[Labels] = (),
    ) -> Silence:
        """Validate and add a silence. ``firing``: labels of the alerts firing now, so an
        until-resolved silence knows whether it already matches something."""
        try:
            parsed = tuple(m for text in matchers for m in parse_matchers(text))
        except ValueError as exc:
            raise SilenceError(str(exc)) from None
        if not parsed:
            raise SilenceError("a silence needs at least one matcher")
        if all(m.matches_empty() for m in parsed):
            raise SilenceError("at least one matcher must not match the empty string (it would silence everything)")
        if not created_by.strip():
            raise SilenceError("say who creates the silence (created_by)")
        if ends_at is not None and ends_at <= starts_at:
            raise SilenceError("the silence must end after it starts")
        if ends_at is not None and ends_at <= now:
            raise SilenceError("the silence would already have ended")
        matched = any(all(m.matches(ls) for m in parsed) for ls in firing)
        if ends_at is None and not until_resolved:
            raise SilenceError("give an end time, or make the silence until-resolved")
        if ends_at is None and not matched:
            raise SilenceError("an until-resolved silence without an end must match an alert that fires now")
        digest = hashlib.sha256(f"{'|'.join(matchers)}|{starts_at}|{now}|{len(self._items)}".encode()).hexdigest()
        silence = Silence(
            id=f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
            matchers=tuple(matchers),
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            until_resolved=until_resolved,
            matched=matched,
            updated_at=now,
            parsed=parsed,
        )
        self._items[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        s = self._items.get(silence_id)
        if s is None:
            raise KeyError(silence_id)
        if s.state(now) is SilenceState.EXPIRED:
            raise SilenceError(f"silence {silence_id} has already expired")
        # A pending one is expired by moving both ends to now: it never applied.
        start = min(s.starts_at, now)
        expired = replace(s, starts_at=start, ends_at=now, updated_at=now)
        self._items[silence_id] = expired
        return expired

    def get(self, silence_id: str) -> Silence | None:
        return self._items.get(silence_id)

    def all(self) -> list[Silence]:
        return sorted(self._items.values(), key=lambda s: (s.starts_at, s.id))

    def active(self, now: float) -> list[Silence]:
        return [s for s in self._items.values() if s.state(now) is SilenceState.ACTIVE]

    def muting(self, labels: Labels, now: float) -> list[str]:
        """Ids of the active silences that mute an alert with ``labels``."""
        return [s.id for s in self.active(now) if s.matches(labels)]

    def update(self, firing: Sequence[Labels], now: float) -> bool:
        """Expire until-resolved silences whose alerts all resolved, mark those that now
        match one, forget long-expired ones. True if anything changed (persist it)."""
        changed = False
        for s in list(self._items.values()):
            state = s.state(now)
            if state is SilenceState.EXPIRED:
                assert s.ends_at is not None
                if now - s.ends_at > RETENTION_S:
                    del self._items[s.id]
                    changed = True
                continue
            if not s.until_resolved or state is not SilenceState.ACTIVE:
                continue
            hit = any(s.matches(ls) for ls in firing)
            if hit and not s.matched:
                self._items[s.id] = replace(s, matched=True, updated_at=now)
                changed = True
            elif not hit and s.matched:
                self._items[s.id] = replace(s, ends_at=now, updated_at=now)
                changed = True
        return changed
