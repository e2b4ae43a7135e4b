"""Alertmanager's ``time_intervals``: is a moment inside a recurring window?

A named interval holds several specs and is on when any of them matches; a spec matches
when every field it sets matches (``times``, ``weekdays``, ``days_of_month``, ``months``,
``years``), each evaluated in the spec's ``location`` (UTC by default), exactly as
Alertmanager's ``timeinterval`` package does: ``end_time`` is exclusive, negative days
count from the end of the month, a day range past the month's end is clamped to it.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from scalepilot.config.alertmanager import NamedTimeInterval, TimeIntervalSpec


@dataclass(frozen=True, slots=True)
class IntervalSpec:
    times: tuple[tuple[int, int], ...]
    weekdays: tuple[tuple[int, int], ...]
    """Go's numbering: Sunday is 0."""
    days_of_month: tuple[tuple[int, int], ...]
    months: tuple[tuple[int, int], ...]
    years: tuple[tuple[int, int], ...]
    zone: tzinfo | None
    """None: the host's local zone (``location: Local``)."""

    @classmethod
    def from_config(cls, spec: TimeIntervalSpec) -> IntervalSpec:
        zone: tzinfo | None
        if spec.location is None or spec.location == "UTC":
            zone = UTC
        elif spec.location == "Local":
            zone = None
        else:
            zone = ZoneInfo(spec.location)
        return cls(
            times=tuple(t.minutes() for t in spec.times),
            weekdays=tuple(spec.weekday_ranges()),
            days_of_month=tuple(spec.day_ranges()),
            months=tuple(spec.month_ranges()),
            years=tuple(spec.year_ranges()),
            zone=zone,
        )

    def contains(self, t: float) -> bool:
        when = datetime.fromtimestamp(t, tz=self.zone) if self.zone is not None else datetime.fromtimestamp(t)
        if self.times:
            minute = when.hour * 60 + when.minute
            if not any(a <= minute < b for a, b in self.times):
                return False
        if self.weekdays:
            go_weekday = (when.weekday() + 1) % 7
            if not any(a <= go_weekday <= b for a, b in self.weekdays):
                return False
        if self.days_of_month and not _day_matches(when, self.days_of_month):
            return False
        if self.months and not any(a <= when.month <= b for a, b in self.months):
            return False
        return not self.years or any(a <= when.year <= b for a, b in self.years)


def _day_matches(when: datetime, ranges: Sequence[tuple[int, int]]) -> bool:
    days = calendar.monthrange(when.year, when.month)[1]
    for begin, end in ranges:
        b = days + begin + 1 if begin < 0 else begin
        e = days + end + 1 if end < 0 else end
        if b > days:
            continue
        b = max(-days, min(days, b))
        e = max(-days, min(days, e))
        if b <= when.day <= e:
            return True
    return False


@dataclass(frozen=True, slots=True)
class TimeInterval:
    name: str
    specs: tuple[IntervalSpec, ...]

    def contains(self, t: float) -> bool:
        return any(s.contains(t) for s in self.specs)


def build_intervals(named: Sequence[NamedTimeInterval]) -> dict[str, TimeInterval]:
    return {n.name: TimeInterval(n.name, tuple(IntervalSpec.from_config(s) for s in n.time_intervals)) for n in named}
