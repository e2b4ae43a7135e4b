"""Waiting for whichever comes first: a process exit, a request, or a clock's timeout.

Timeouts go through the injected :class:`~scalepilot.domain.clock.Clock`, so a test's
clock decides how long a backoff or a grace period lasts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from scalepilot.domain.clock import Clock


async def first_of(*waits: Awaitable[object], clock: Clock, seconds: float | None = None) -> None:
    """Return when one of ``waits`` completes or ``seconds`` of ``clock`` pass.

    The others are cancelled and awaited, so no task outlives the call. Pass coroutines
    or tasks that may be cancelled (shield shared futures). An exception of a wait that
    completes first propagates.
    """
    tasks = [asyncio.ensure_future(w) for w in waits]
    if seconds is not None:
        tasks.append(asyncio.ensure_future(clock.sleep(max(0.0, seconds))))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc
