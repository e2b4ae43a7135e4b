"""Loop scheduling under virtual time.

Covers: ticks land on k*interval+offset; a restart keeps the phase; missed ticks are
skipped, not bunched; the loop stops promptly when asked; lag is reported.
"""

from __future__ import annotations

import asyncio

from scalepilot.domain.clock import VirtualClock
from scalepilot.service.schedule import first_tick, next_tick, run_every


def test_first_tick_is_aligned_to_interval_plus_offset() -> None:
    assert first_tick(100.0, 15.0, 3.0) == 108.0  # 105 + 3
    assert first_tick(108.0, 15.0, 3.0) == 108.0
    assert first_tick(108.5, 15.0, 3.0) == 123.0


def test_next_tick_skips_missed_ticks() -> None:
    assert next_tick(100.0, 101.0, 10.0) == 110.0
    # the tick took 35 s: 110, 120, 130 are gone; the next is 140, not 110
    assert next_tick(100.0, 135.0, 10.0) == 140.0
    assert next_tick(100.0, 140.0, 10.0) == 150.0


async def test_run_every_ticks_on_schedule_in_virtual_time() -> None:
    clock = VirtualClock(start=1000.0)
    stop = asyncio.Event()
    seen: list[float] = []
    lags: list[float] = []

    async def tick(due: float) -> None:
        seen.append(due)
        if len(seen) == 3:
            clock.advance(25.0)  # a slow tick: 2 scheduled runs are missed
        if len(seen) == 5:
            stop.set()

    await asyncio.wait_for(run_every(clock, 10.0, 4.0, stop, tick, on_lag=lags.append), timeout=5)
    assert seen == [1004.0, 1014.0, 1024.0, 1054.0, 1064.0]
    assert lags == [0.0] * 5


async def test_stop_interrupts_a_long_wait() -> None:
    class RealWaitClock(VirtualClock):
        async def sleep(self, seconds: float) -> None:
            await asyncio.Event().wait()  # never returns by itself

    stop = asyncio.Event()
    calls: list[float] = []

    async def tick(due: float) -> None:
        calls.append(due)

    task = asyncio.create_task(run_every(RealWaitClock(0.5), 3600.0, 0.0, stop, tick))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert calls == []
