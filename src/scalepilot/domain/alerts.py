"""Alerts as the rule engine hands them to notification routing.

The same shape as an alert Prometheus sends to Alertmanager (``POST /api/v2/alerts``):
labels that identify it (``alertname`` among them), annotations that describe it, when it
started, and — once it resolved, or as a deadline the sender keeps pushing forward while
it fires — when it ends. Identity is the label set; the fingerprint is a stable hash of
it, as Alertmanager computes one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from scalepilot.domain.labels import Labels, get_label


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class Alert:
    labels: Labels
    """Sorted (name, value) pairs; includes ``alertname``; no ``__name__``."""
    annotations: tuple[tuple[str, str], ...] = ()
    starts_at_ms: int = 0
    ends_at_ms: int | None = None
    """When a resolved alert resolved; for a firing one, the time after which a receiver
    may consider it resolved if it hears nothing more (Prometheus sends
    ``now + 4 × resend delay``)."""
    resolved: bool = False
    generator_url: str = ""
    value: float | None = field(default=None, compare=False)
    """The value of the expression that made it fire, for templates and people."""

    @property
    def name(self) -> str:
        return get_label(self.labels, "alertname")

    @property
    def fingerprint(self) -> str:
        """A stable 16-hex-digit id of the label set."""
        digest = hashlib.sha256()
        for k, v in self.labels:
            digest.update(k.encode())
            digest.update(b"\xff")
            digest.update(v.encode())
            digest.update(b"\xff")
        return digest.hexdigest()[:16]

    def annotation(self, name: str) -> str:
        for k, v in self.annotations:
            if k == name:
                return v
        return ""
