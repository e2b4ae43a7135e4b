from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe run. ``error`` says why it failed, in words a person can act on."""

    success: bool
    duration_s: float
    error: str = ""
    status: int | None = None
