"""Fixed-rate ticks with a stable phase.

Ticks land on ``k * interval + offset`` (wall time), so a restarted process keeps each
target on the same beat, and a tick that runs long is followed by the next scheduled one
rather than drifting. Missed ticks are skipped, not bunched: after a 10 s stall a 1 s
loop runs once, not ten times.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from scalepilot.domain.clock import Clock


def first_tick(now: float, interval: float, offset: float) -> float:
    base = math.floor(now / interval) * interval + (offset % interval)
    return base if base >= now else base + interval


def next_tick(previous: float, now: float, interval: float) -> float:
    nxt = previous + interval
    if nxt <= now:
        nxt += math.ceil((now - nxt) / interval) * interval
        if nxt <= now:
            nxt += interval
    return nxt


async def run_every(
    clock: Clock,
    interval: float,
    offset: float,
    stop: asyncio.Event,
    tick: Callable[[float], Awaitable[None]],
    on_lag: Callable[[float], None] | None = None,
) -> None:
    """Call ``tick(scheduled_time)`` on schedule until ``stop`` is set."""
    due = first_tick(clock.now(), interval, offset)
    while not stop.is_set():
        wait = due - clock.now()
        if wait > 0:
            stop_wait = asyncio.ensure_future(stop.wait())
            sleeper = asyncio.ensure_future(clock.sleep(wait))
            try:
                await asyncio.wait({stop_wait, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop_wait.cancel()
                sleeper.cancel()
            if stop.is_set():
                return
        started = clock.now()
        if on_lag is not None:
            on_lag(max(0.0, started - due))
        await tick(due)
        due = next_tick(due, clock.now(), interval)
