"""What the router decides to send: one notification for one integration of one
receiver, about the alerts of one group.

The id is stable and unique (group, receiver, integration, and the log entry's sequence
number), so the outbox and every retry carry it and a receiver can recognise a repeat
delivery of the same notification.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from scalepilot.domain.alerts import Alert
from scalepilot.domain.labels import Labels


class Reason(StrEnum):
    FIRST = "first"
    """The group's first notification to this integration (after group_wait)."""
    CHANGED = "changed"
    """New firing alerts, or resolved ones, since the last notification."""
    REPEAT = "repeat"
    """Nothing changed and repeat_interval passed."""
    WINDOW_ENDED = "window_ended"
    """A maintenance window or a mute time interval held it; what still fires is re-sent."""
    ESCALATION = "escalation"
    """Not acknowledged in time: the next receiver of the escalation chain."""
    FORWARD = "forward"
    """Forwarding to a real Alertmanager (changes at once, firing ones re-posted)."""


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    receiver: str
    integration: str
    group_key: str
    group_labels: Labels
    alerts: tuple[Alert, ...]
    """Firing and resolved alerts as of ``created_at``; a resolved one has ``resolved``
    set and its ``ends_at_ms``."""
    created_at: float
    reason: Reason

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if not a.resolved)

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"


def notification_id(group_key: str, receiver: str, integration: str, seq: int, created_at: float) -> str:
    """Unique even if the log was lost (a new store): the creation time is part of it."""
    text = f"{group_key}\x00{receiver}\x00{integration}\x00{seq}\x00{round(created_at * 1000)}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return digest[:32]
