"""Exponential backoff and crash-loop detection, as plain arithmetic on timestamps.

Both are pure (the caller passes ``now``), so the sequence of waits is tested without
waiting, and the supervisor, the command target and a simulator agree on it.

There is no jitter: a service's replicas restart one by one as they crash, and there is
one scale command per service, so there is no herd to spread.
"""

from __future__ import annotations

from collections import deque

from scalepilot.config.targets import BackoffSettings, CrashLoopSettings


class Backoff:
    """The wait before retry number ``failures`` (1-based): ``initial × multiplier^(n-1)``,
    capped at ``max``. :meth:`reset` forgets the failures after a success."""

    def __init__(self, settings: BackoffSettings) -> None:
        self._settings = settings
        self.failures = 0

    def next_delay(self) -> float:
        """Count one more failure and return the wait before the next attempt, in seconds."""
        self.failures += 1
        s = self._settings
        # Cap the exponent too: multiplier ** 1000 overflows a float long before anyone waits.
        exponent = min(self.failures - 1, 64)
        return float(min(s.max, s.initial * s.multiplier**exponent))

    def reset(self) -> None:
        self.failures = 0


class CrashLoop:
    """Crash times within the window. A crash loop begins when the ``restarts``-th crash
    lands within ``within`` seconds; :meth:`crash` reports that once per loop (not at
    every further crash), and the loop ends when the window holds fewer crashes again."""

    def __init__(self, settings: CrashLoopSettings) -> None:
        self._settings = settings
        self._times: deque[float] = deque()
        self.looping = False

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self._settings.within:
            self._times.popleft()

    def crash(self, now: float) -> bool:
        """Record a crash at ``now``; True if it starts a crash loop."""
        self._expire(now)
        self._times.append(now)
        if len(self._times) >= self._settings.restarts:
            started = not self.looping
            self.looping = True
            return started
        self.looping = False
        return False

    def recent(self, now: float) -> int:
        """Crashes within the window ending at ``now``."""
        self._expire(now)
        if len(self._times) < self._settings.restarts:
            self.looping = False
        return len(self._times)
