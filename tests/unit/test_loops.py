"""Store failures under a running loop.

Covers: a transient store error skips one tick, is counted per loop and the loop goes
on; a permanent one ends the loop with the error; a task that dies of a bug is reported
at once, and stopping cancels the others.
"""

from __future__ import annotations

import asyncio

import pytest

from scalepilot.adapters.store import StoreCorrupt, StoreUnavailable
from scalepilot.domain.clock import VirtualClock
from scalepilot.service.loops import Tasks, run_loop
from scalepilot.service.selfmetrics import SelfMetrics


async def test_transient_store_error_costs_one_tick() -> None:
    stop = asyncio.Event()
    metrics = SelfMetrics()
    ticks: list[float] = []

    async def tick(due: float) -> None:
        ticks.append(due)
        if len(ticks) == 2:
            raise StoreUnavailable("database is locked")
        if len(ticks) == 4:
            stop.set()

    await asyncio.wait_for(
        run_loop("scrape", tick, clock=VirtualClock(0.0), interval_s=1, offset_s=0, stop=stop, metrics=metrics),
        timeout=5,
    )
    assert ticks == [0.0, 1.0, 2.0, 3.0]
    assert metrics.registry.get_sample_value("scalepilot_store_errors_total", {"loop": "scrape"}) == 1.0


async def test_permanent_store_error_ends_the_loop() -> None:
    async def tick(due: float) -> None:
        raise StoreCorrupt("chunk 7 does not decode")

    with pytest.raises(StoreCorrupt):
        await asyncio.wait_for(
            run_loop(
                "probe",
                tick,
                clock=VirtualClock(0.0),
                interval_s=1,
                offset_s=0,
                stop=asyncio.Event(),
                metrics=SelfMetrics(),
            ),
            timeout=5,
        )


async def test_a_crashed_task_is_reported_and_stop_cancels_the_rest() -> None:
    crashes: list[tuple[str, str]] = []
    reported = asyncio.Event()

    def on_crash(name: str, exc: BaseException) -> None:
        crashes.append((name, str(exc)))
        reported.set()

    tasks = Tasks(on_crash)
    forever = asyncio.Event()

    async def bug() -> None:
        raise RuntimeError("a bug")

    tasks.spawn(bug(), "buggy loop")
    tasks.spawn(forever.wait(), "waiting loop")  # type: ignore[arg-type]
    await asyncio.wait_for(reported.wait(), timeout=5)
    assert crashes == [("buggy loop", "a bug")]
    assert tasks.crashed() == ["buggy loop"]
    await asyncio.wait_for(tasks.stop(), timeout=5)
    assert tasks.crashed() == []
