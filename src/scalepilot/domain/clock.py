"""The clock is an argument: live loops get :class:`SystemClock`, tests and the simulator a
virtual one, so a 10-minute cooldown is tested in milliseconds through the same code."""

from __future__ import annotations

import asyncio
import time
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
    return int(round(seconds * 1000))
