"""The one way targets build an event (kinds: :class:`~scalepilot.domain.events.EventKind`)."""

from __future__ import annotations

from typing import Any

from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event, EventKind


def make_event(clock: Clock, service: str, kind: EventKind, message: str, **details: Any) -> Event:
    return Event(
        timestamp_ms=to_ms(clock.now()),
        kind=str(kind),
        message=message,
        service=service,
        details=details,
    )
