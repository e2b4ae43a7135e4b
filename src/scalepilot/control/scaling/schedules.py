"""Scheduled minimums: hold at least N replicas from each cron fire time, for a duration.

A window opens at every time the cron expression fires, read on the wall clock of the
schedule's time zone, and lasts ``duration`` of elapsed time: ``0 9 * * mon-fri`` in
``Europe/Berlin`` opens at 09:00 Berlin time in winter (08:00 UTC) and in summer
(07:00 UTC) alike. Around daylight-saving changes croniter's rules apply: a fire time
that does not exist (02:30 on the spring-forward night) happens at the first valid
minute after it (03:00), and one that happens twice (02:30 on the fall-back night) fires
twice, so that night's window is the union of both and ends an hour later. Windows that
overlap (an hourly cron with a two-hour duration) simply join.

croniter costs ~0.1 ms per query, far too much to ask on every decision, so each
:class:`Schedule` memoizes its last answer together with the interval of time over
which that answer cannot change (until the window ends, or until the next fire time).
The memo is a cache of a pure function of ``now``: decisions stay deterministic.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


class Schedule:
    """One compiled ``schedules:`` entry."""

    __slots__ = ("_memo", "_tz", "cron", "duration", "min_replicas", "name", "timezone")

    def __init__(self, name: str, cron: str, duration: float, timezone: str, min_replicas: int) -> None:
        self.name = name
        self.cron = cron
        self.duration = duration
        self.timezone = timezone
        self.min_replicas = min_replicas
        self._tz = ZoneInfo(timezone)
        self._memo: tuple[float, float, float | None] = (0.0, 0.0, None)
        """(valid_from, valid_until, window end or None when closed)."""

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, {self.cron!r}, {self.duration:g}s, {self.timezone}, min {self.min_replicas})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.name, self.cron, self.duration, self.timezone, self.min_replicas) == (
            other.name,
            other.cron,
            other.duration,
            other.timezone,
            other.min_replicas,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.cron, self.duration, self.timezone, self.min_replicas))

    def window_end(self, now: float) -> float | None:
        """When the window open at ``now`` closes (unix seconds), or ``None`` if no window
        is open at ``now``."""
        lo, hi, end = self._memo
        if lo <= now < hi:
            return end
        # The first fire strictly after now - duration: its window [f, f + duration) is
        # the only one that can cover now, unless an earlier one does too (then f <= now
        # anyway, and the union is still open at now).
        start = datetime.fromtimestamp(now - self.duration, self._tz)
        fire = croniter(self.cron, start).get_next(float)
        if fire <= now:
            end = fire + self.duration
            self._memo = (now, end, end)
            return end
        self._memo = (now, fire, None)
        return None


def scheduled_minimum(schedules: tuple[Schedule, ...], now: float) -> tuple[int, Schedule | None]:
    """The highest minimum among the windows open at ``now``, and its schedule."""
    best, which = 0, None
    for s in schedules:
        if s.min_replicas > best and s.window_end(now) is not None:
            best, which = s.min_replicas, s
    return best, which
