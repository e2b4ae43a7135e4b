"""Running one periodic loop: on schedule, its lag measured, store failures handled.

A transient store error (SQLite busy, a disk that filled up) costs one tick: it is
logged and counted, and the loop runs again at its next tick. A permanent one (corrupt
database, a second writer) is re-raised: it stops the runtime, visibly, because retrying
cannot fix it and carrying on would only hide it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from scalepilot.domain.clock import Clock
from scalepilot.domain.store import StoreError
from scalepilot.service.schedule import run_every
from scalepilot.service.selfmetrics import SelfMetrics

log = logging.getLogger(__name__)

Tick = Callable[[float], Awaitable[None]]


def absorb_transient_store_errors(tick: Tick, loop: str, metrics: SelfMetrics) -> Tick:
    async def guarded(scheduled: float) -> None:
        try:
            await tick(scheduled)
        except StoreError as exc:
            if not exc.transient:
                raise
            metrics.store_errors.labels(loop).inc()
            log.warning("%s: store unavailable, skipping this tick: %s", loop, exc)

    return guarded


async def run_loop(
    name: str,
    tick: Tick,
    *,
    clock: Clock,
    interval_s: float,
    offset_s: float,
    stop: asyncio.Event,
    metrics: SelfMetrics,
) -> None:
    """Run ``tick`` every ``interval_s`` (phase ``offset_s``) until ``stop`` is set."""
    await run_every(
        clock,
        interval_s,
        offset_s,
        stop,
        absorb_transient_store_errors(tick, name, metrics),
        on_lag=metrics.loop_lag.labels(name).observe,
    )


class Tasks:
    """The tasks of one owner (the runtime, a service controller): spawned by name,
    stopped together, and a task that ends with an exception is reported through
    ``on_crash`` at once — a bug in a loop must not pass silently."""

    def __init__(self, on_crash: Callable[[str, BaseException], None]) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._on_crash = on_crash
        self._stopping = False

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._ended)
        self._tasks.append(task)
        return task

    def forget(self, task: asyncio.Task[None]) -> None:
        """Stop tracking ``task`` (it was ended on purpose, e.g. its target was removed)."""
        if task in self._tasks:
            self._tasks.remove(task)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        if exc is not None:
            self._on_crash(task.get_name(), exc)

    def crashed(self) -> list[str]:
        return [t.get_name() for t in self._tasks if t.done() and not t.cancelled() and t.exception()]

    async def drain(self) -> None:
        """Wait for every task to end by itself (their stop event is set), then forget
        them; crashes were reported as they happened."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        # Crashes were reported when they happened; here they are only collected.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
