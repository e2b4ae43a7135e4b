"""Aggregation groups and the notification log: Alertmanager's flush semantics.

A group is the alerts of one route that share the route's ``group_by`` labels. Its timer:

- created by its first alert, it first flushes ``group_wait`` later — at once if that
  alert started more than ``group_wait`` ago (it fired while nobody was listening);
- after each flush, the next is ``group_interval`` later;
- a flush notifies an integration only if :func:`needs_update` says so, comparing the
  alerts with what the log says that integration was last told;
- after a flush, resolved alerts that were part of it (and not updated since) leave the
  group, and an empty group is deleted.

The log outlives groups, so a resolved alert the rule engine keeps re-sending for 15
minutes re-creates a group that then notifies nobody: the log says they already know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scalepilot.control.alerting.routing.tree import Route
from scalepilot.domain.alerts import Alert
from scalepilot.domain.labels import Labels


@dataclass(frozen=True, slots=True)
class LogEntry:
    """What one integration was last told about one group."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"firing": sorted(self.firing), "resolved": sorted(self.resolved), "at": self.at, "seq": self.seq}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogEntry:
        return cls(frozenset(d["firing"]), frozenset(d["resolved"]), float(d["at"]), int(d["seq"]))


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
    all_acked: bool = False,
) -> bool:
    """Alertmanager's ``DedupStage.needsUpdate``, plus acknowledgement.

    Differences, on purpose: a repeat is due once ``repeat_interval`` *has* passed
    (Alertmanager's log time is taken after sending, so it usually repeats one
    ``group_interval`` later); and while every firing alert is acknowledged there is no
    repeat at all.
    """
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # Everything resolved: tell those who were told it fired, whatever send_resolved
        # says (the integration drops resolved alerts itself), so the log is cleared.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    if all_acked:
        return False
    return now - entry.at >= repeat_interval


@dataclass(slots=True)
class Member:
    alert: Alert
    updated_at: float


@dataclass(slots=True)
class Group:
    route: Route
    labels: Labels
    key: str
    """Alertmanager's group key: ``<route key>:<group labels>``."""
    created_at: float
    next_flush: float
    has_flushed: bool = False
    members: dict[str, Member] = field(default_factory=dict)
    receivers: list[str] = field(default_factory=list)
    """The route's receiver, then those escalation added (until they heard it resolve)."""
    held_by_route: bool = False
    """A flush was muted by the route's time intervals: re-notify when they end."""
    held_by_window: set[str] = field(default_factory=set)
    """Fingerprints a maintenance window held at a flush: re-notify when it ends."""
    escalation_started: float | None = None
    escalation_steps: int = 0

    def insert(self, alert: Alert, now: float) -> None:
        self.members[alert.fingerprint] = Member(alert, now)
        if not self.has_flushed and alert.starts_at_ms / 1000 + self.route.opts.group_wait < now:
            self.next_flush = min(self.next_flush, now)

    def schedule_next(self, now: float) -> None:
        """``group_interval`` after the flush that was due, skipping missed ones."""
        interval = self.route.opts.group_interval
        nxt = self.next_flush + interval
        if nxt <= now:
            nxt = now + interval
        self.next_flush = nxt
