"""Whether an external metric source is up, since when, and why not.

Queries drive the state: every answer (even a rejected query) proves the source is up,
and every :class:`~.errors.PrometheusDown` after the last retry marks it down with its
reason. Only transitions are logged, so a Prometheus that stays down for an hour costs
two log lines, not one per control-loop tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceHealth:
    name: str
    health: str = "unknown"
    """``unknown`` (no query yet), ``up`` or ``down``."""
    last_error: str = ""
    since_ms: int | None = None
    """When ``health`` last changed."""
    last_success_ms: int | None = None
    last_failure_ms: int | None = None
    queries: int = 0
    failures: int = 0
    on_change: Callable[[SourceHealth, str], None] | None = field(default=None, repr=False)
    """Called after each transition with the previous ``health`` (the service records
    an event)."""

    def succeeded(self, now_ms: int) -> None:
        self.queries += 1
        self.last_success_ms = now_ms
        if self.health != "up":
            if self.health == "down":
                log.warning("metric source %s is up again (down since %s ms)", self.name, self.since_ms)
            previous = self.health
            self.health, self.since_ms, self.last_error = "up", now_ms, ""
            self._changed(previous)

    def failed(self, now_ms: int, reason: str) -> None:
        self.queries += 1
        self.failures += 1
        self.last_failure_ms = now_ms
        self.last_error = reason
        if self.health != "down":
            log.warning("metric source %s is down: %s", self.name, reason)
            previous = self.health
            self.health, self.since_ms = "down", now_ms
            self._changed(previous)

    def _changed(self, previous: str) -> None:
        if self.on_change is not None:
            self.on_change(self, previous)

    def to_dict(self) -> dict[str, Any]:
        return {
            "health": self.health,
            "last_error": self.last_error,
            "since_ms": self.since_ms,
            "last_success_ms": self.last_success_ms,
            "last_failure_ms": self.last_failure_ms,
            "queries": self.queries,
            "failures": self.failures,
        }
