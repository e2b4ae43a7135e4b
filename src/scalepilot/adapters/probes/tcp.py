"""TCP connect probes: the port accepts a connection within the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time

from scalepilot.adapters._net import describe_connect_failure
from scalepilot.adapters.probes.result import ProbeResult


async def probe_tcp(host: str, port: int, *, timeout_s: float) -> ProbeResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return ProbeResult(False, time.perf_counter() - started, f"no connection within the {timeout_s:g}s timeout")
    except OSError as exc:
        return ProbeResult(False, time.perf_counter() - started, describe_connect_failure(exc))
    duration = time.perf_counter() - started
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult(True, duration)
