"""Open-loop load: requests arrive on their own schedule, whether or not earlier ones
have been answered.

A closed loop (N clients, each waiting for its answer before sending again) slows down
exactly when the service does and so hides overload; real users keep arriving. Here
arrivals are a Poisson process whose rate follows a profile over time, and each second's
offered load, answers, errors and latencies are recorded, so "the service fell behind"
shows up as served < offered and a rising p95.

Bounded by construction: a total duration, a cap on requests in flight (arrivals beyond
it are counted as *shed* rather than piling up), and loopback URLs only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from scalepilot.adapters.loadgen.client import Client, HTTPError

Profile = Callable[[float], float]
"""Requests per second wanted at t seconds after the start."""

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(slots=True)
class LoadSecond:
    """What happened in one second of the run (by arrival time for offered and shed, by
    completion time for the rest)."""

    second: int
    offered: int = 0
    ok: int = 0
    errors: int = 0
    shed: int = 0
    latencies_s: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float | None:
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ramp(points: list[tuple[float, float]]) -> Profile:
    """A profile through (seconds, rps) points, linear in between and flat outside."""
    pts = sorted(points)

    def rate(t: float) -> float:
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, r0), (t1, r1) in itertools.pairwise(pts):
            if t <= t1:
                return r0 + (r1 - r0) * (t - t0) / (t1 - t0) if t1 > t0 else r1
        return pts[-1][1]

    return rate


class LoadGenerator:
    def __init__(
        self,
        url: str,
        profile: Profile,
        *,
        duration_s: float,
        max_in_flight: int = 256,
        timeout_s: float = 10.0,
        seed: int | None = None,
    ) -> None:
        host = urlsplit(url).hostname or ""
        if host not in _LOOPBACK:
            raise ValueError(f"load is only generated against loopback addresses, not {host!r}")
        self.url = url
        self.profile = profile
        self.duration_s = duration_s
        self.max_in_flight = max_in_flight
        self.timeout_s = timeout_s
        self.seconds: list[LoadSecond] = []
        self.in_flight = 0
        self._random = random.Random(seed)
        self._started: float | None = None
        self._path = "/"

    def _bucket(self, at: float) -> LoadSecond:
        assert self._started is not None
        index = max(0, int(at - self._started))
        while len(self.seconds) <= index:
            self.seconds.append(LoadSecond(len(self.seconds)))
        return self.seconds[index]

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self._started is None else time.monotonic() - self._started

    def recent(self, seconds: int = 5) -> list[LoadSecond]:
        """The last complete seconds (the current one is still filling)."""
        done = int(self.elapsed_s)
        return [s for s in self.seconds[max(0, done - seconds) : done]]

    async def run(self, stop: asyncio.Event | None = None) -> list[LoadSecond]:
        stop = stop or asyncio.Event()
        parts = urlsplit(self.url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        client = Client(parts.hostname or "127.0.0.1", parts.port or 80, timeout_s=self.timeout_s)
        try:
            self._started = time.monotonic()
            pending: set[asyncio.Task[None]] = set()
            next_at = self._started
            end = self._started + self.duration_s
            while not stop.is_set():
                now = time.monotonic()
                # Every arrival scheduled before now (several when the loop ran late) goes
                # out, and none at or after the end: the arrivals are a function of the
                # seed and the profile alone, however busy the machine is.
                while next_at <= now and next_at < end:
                    rate = self.profile(next_at - self._started)
                    if rate <= 0:
                        next_at += 0.1  # idle: look at the profile again shortly
                        continue
                    bucket = self._bucket(next_at)
                    bucket.offered += 1
                    if self.in_flight >= self.max_in_flight:
                        bucket.shed += 1
                    else:
                        task = asyncio.create_task(self._one(client))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                    next_at += self._random.expovariate(rate)
                if now >= end:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, min(next_at, end) - time.monotonic()))
            if pending:
                await asyncio.wait(pending, timeout=self.timeout_s)
            for task in pending:
                task.cancel()
        finally:
            await client.aclose()
        return self.seconds

    async def _one(self, client: Client) -> None:
        self.in_flight += 1
        started = time.monotonic()
        ok = False
        try:
            ok = await client.get(self._path) < 400
        except (HTTPError, OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            ok = False
        finally:
            self.in_flight -= 1
        done = time.monotonic()
        bucket = self._bucket(done)
        if ok:
            bucket.ok += 1
            bucket.latencies_s.append(done - started)
        else:
            bucket.errors += 1
