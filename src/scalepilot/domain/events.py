"""Typed events: everything scalepilot notices or does, with a human-readable message
and machine-readable details."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    TARGET_UP = "target_up"
    TARGET_DOWN = "target_down"
    PROBE_UP = "probe_up"
    PROBE_DOWN = "probe_down"
    CONFIG_LOADED = "config_loaded"
    STARTED = "started"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Event:
    timestamp_ms: int
    kind: str
    message: str
    service: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
