"""The clock is an argument: live loops get :class:`SystemClock`, tests and the simulator a
virtual one, so a 10-minute cooldown is tested in milliseconds through the same code."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def to_ms(seconds: float) -> int:
    return round(seconds * 1000)


class VirtualClock:
    """Time that moves only when someone sleeps: ``sleep(300)`` returns at once with the
    clock 300 s later. Tests and the simulator use it to run hours of loop time in
    milliseconds through the live code."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as RFC 3339 UTC with milliseconds: ``2026-12-07T02:19:09.123Z``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
