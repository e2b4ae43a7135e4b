"""A replica as the balancer sees it: where to connect, and which group it belongs to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backend:
    id: str
    """The replica's id (``shop-3``); in-flight counts and stats are kept under it."""
    host: str
    port: int
    group: str = "stable"
    """Replica group; groups share traffic by the weights of ``set_group_weights``."""

    def __str__(self) -> str:
        return f"{self.id} ({self.host}:{self.port})"
