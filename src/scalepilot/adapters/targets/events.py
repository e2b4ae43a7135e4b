"""The event kinds targets emit, and the one way they build an event.

Kinds are plain strings in :class:`~scalepilot.domain.events.Event`; they are listed here
so the service, the API and tests refer to names instead of repeating literals.
Details are JSON-able dicts; every replica event carries ``replica`` (its id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event


class TargetEventKind(StrEnum):
    REPLICA_STARTED = "replica_started"
    """A replica's process was started (first start or restart)."""
    REPLICA_START_FAILED = "replica_start_failed"
    """Its process could not be started (missing executable or cwd); retried with backoff."""
    REPLICA_READY = "replica_ready"
    """It passed its readiness check and is routed to."""
    REPLICA_NOT_READY = "replica_not_ready"
    """A ready replica failed ``failure_threshold`` checks in a row; no longer routed."""
    REPLICA_EXITED = "replica_exited"
    """Its process ended without being asked to; a restart follows after a backoff."""
    REPLICA_CRASH_LOOP = "replica_crash_loop"
    """``crash_loop.restarts`` crashes within ``crash_loop.within``; once per loop."""
    REPLICA_STOPPED = "replica_stopped"
    """It was removed (scale-down or shutdown): drained, terminated, gone."""
    REPLICA_ORPHAN_STOPPED = "replica_orphan_stopped"
    """A process an earlier run left behind was found at start-up and stopped."""
    SCALE_COMMAND_SUCCEEDED = "scale_command_succeeded"
    SCALE_COMMAND_FAILED = "scale_command_failed"


def make_event(clock: Clock, service: str, kind: TargetEventKind, message: str, **details: Any) -> Event:
    return Event(
        timestamp_ms=to_ms(clock.now()),
        kind=str(kind),
        message=message,
        service=service,
        details=details,
    )
