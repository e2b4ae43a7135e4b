"""Scheduled minimums.

Covers: inside and outside a window (start inclusive, end exclusive, weekends); time
zones (the cron read on the zone's wall clock); daylight-saving changes (the same local
opening hour before and after, a window's duration in elapsed time across the switch,
a local time that does not exist); overlapping windows joining; the highest minimum of
several open windows; a schedule holding a minimum against a scale-down, overriding a
cooldown, and on its own without metrics; the schedule memo answering the same for any
order of queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scalepilot.control.scaling import decide
from scalepilot.control.scaling.schedules import Schedule
from scalepilot.domain.scaling import LimitKind, ScalerState
from tests.unit.test_scaling_support import Run, policy, service


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def peak(**extra: Any) -> dict[str, Any]:
    return {"name": "peak", "cron": "0 9 * * mon-fri", "duration": "10h", "min_replicas": 6, **extra}


CPU = [{"type": "cpu", "target": 50}]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (utc(2024, 1, 8, 8, 59), 2),  # Monday, a minute before the window
        (utc(2024, 1, 8, 9, 0), 6),  # the window opens at the fire time
        (utc(2024, 1, 8, 13, 30), 6),
        (utc(2024, 1, 8, 18, 59, 59), 6),
        (utc(2024, 1, 8, 19, 0), 2),  # 10 h later it is closed
        (utc(2024, 1, 13, 12, 0), 2),  # Saturday
    ],
)
def test_inside_and_outside_the_window(when: float, expected: int) -> None:
    p = policy(metrics=CPU, min_replicas=2, schedules=[peak()])
    decision, _ = decide(p, ScalerState(), service(2, {"cpu": 50}), when)
    assert decision.replicas == expected
    if expected == 6:
        assert decision.limits[-1].kind is LimitKind.SCHEDULE
        assert decision.reason == "cpu 50% within 10% of target 50%: stay at 2, raised to 6 by schedule peak"


@pytest.mark.parametrize(
    ("zone", "opens_utc"),
    [
        ("UTC", utc(2024, 1, 8, 9, 0)),
        ("Europe/Istanbul", utc(2024, 1, 8, 6, 0)),  # UTC+3, no daylight saving
        ("America/New_York", utc(2024, 1, 8, 14, 0)),  # EST, UTC-5
        ("Asia/Kolkata", utc(2024, 1, 8, 3, 30)),  # UTC+5:30
    ],
)
def test_the_cron_is_read_in_the_time_zone(zone: str, opens_utc: float) -> None:
    s = Schedule("peak", "0 9 * * mon-fri", 3600.0, zone, 6)
    assert s.window_end(opens_utc - 1) is None
    assert s.window_end(opens_utc) == opens_utc + 3600
    assert s.window_end(opens_utc + 3599) == opens_utc + 3600
    assert s.window_end(opens_utc + 3600) is None


@pytest.mark.parametrize(
    ("day", "opens_utc_hour"),
    [
        ((2024, 3, 29), 8),  # Friday before the spring switch: 09:00 CET = 08:00 UTC
        ((2024, 4, 1), 7),  # Monday after: 09:00 CEST = 07:00 UTC
        ((2024, 10, 25), 7),  # Friday before the autumn switch: CEST
        ((2024, 10, 28), 8),  # Monday after: CET
    ],
)
def test_the_local_opening_hour_survives_daylight_saving_changes(
    day: tuple[int, int, int], opens_utc_hour: int
) -> None:
    s = Schedule("peak", "0 9 * * mon-fri", 3600.0, "Europe/Berlin", 6)
    opens = utc(*day, opens_utc_hour, 0)
    assert s.window_end(opens - 60) is None
    assert s.window_end(opens) == opens + 3600


def test_a_window_lasts_its_duration_in_elapsed_time_across_a_switch() -> None:
    # midnight Berlin on 2024-03-31 is 23:00 UTC the day before; at 02:00 local the clocks jump to
    # 03:00, and a 4 h window still lasts 4 h: it ends at 03:00 UTC (05:00 local)
    s = Schedule("night", "0 0 * * *", 4 * 3600.0, "Europe/Berlin", 3)
    opens = utc(2024, 3, 30, 23, 0)
    assert s.window_end(opens) == utc(2024, 3, 31, 3, 0)
    assert s.window_end(utc(2024, 3, 31, 2, 59)) is not None
    assert s.window_end(utc(2024, 3, 31, 3, 0)) is None


def test_a_local_time_that_does_not_exist_fires_at_the_next_valid_minute() -> None:
    # 02:30 does not exist in Berlin on 2024-03-31: the window opens at 03:00 CEST (01:00 UTC)
    s = Schedule("batch", "30 2 * * *", 3600.0, "Europe/Berlin", 3)
    assert s.window_end(utc(2024, 3, 31, 0, 59)) is None
    assert s.window_end(utc(2024, 3, 31, 1, 0)) == utc(2024, 3, 31, 2, 0)
    assert s.window_end(utc(2024, 3, 31, 2, 0)) is None


def test_overlapping_windows_join() -> None:
    s = Schedule("always", "0 * * * *", 2 * 3600.0, "UTC", 2)
    t = utc(2024, 1, 8, 0, 0)
    assert all(s.window_end(t + k * 600) is not None for k in range(200))


def test_the_memo_answers_the_same_in_any_order() -> None:
    s = Schedule("peak", "0 9 * * mon-fri", 36000.0, "UTC", 6)
    fresh = Schedule("peak", "0 9 * * mon-fri", 36000.0, "UTC", 6)
    times = [utc(2024, 1, 8, h, m) for h in (3, 9, 12, 18, 19, 23) for m in (0, 59)]
    for t in times + times[::-1] + times[::2]:
        expected = Schedule("peak", "0 9 * * mon-fri", 36000.0, "UTC", 6).window_end(t)
        assert s.window_end(t) == expected
    assert s == fresh and hash(s) == hash(fresh)


def test_the_highest_open_minimum_wins() -> None:
    schedules = [
        peak(name="day", min_replicas=4),
        {"name": "lunch", "cron": "0 12 * * *", "duration": "2h", "min_replicas": 8},
        {"name": "weekly", "cron": "0 0 * * mon", "duration": "1d", "min_replicas": 5},
    ]
    p = policy(metrics=CPU, schedules=schedules)
    noon, _ = decide(p, ScalerState(), service(2, {"cpu": 50}), utc(2024, 1, 8, 12, 30))
    assert (noon.replicas, noon.limits[-1].detail) == (8, "schedule lunch")
    morning, _ = decide(p, ScalerState(), service(2, {"cpu": 50}), utc(2024, 1, 8, 10, 0))
    assert (morning.replicas, morning.limits[-1].detail) == (5, "schedule weekly")


def test_a_window_holds_its_minimum_against_a_scale_down() -> None:
    p = policy(metrics=CPU, schedules=[peak()], behavior={"scaleDown": {"stabilizationWindowSeconds": 0}})
    decision, _ = decide(p, ScalerState(), service(8, {"cpu": 10}), utc(2024, 1, 8, 10, 0))
    assert decision.replicas == 6
    assert decision.reason == "cpu 10% < target 50%: 8 → 2, limited to 6 by schedule peak"


def test_a_window_overrides_a_cooldown() -> None:
    p = policy(
        mode="threshold",
        metrics=[{"type": "cpu", "scale_up_above": 70, "scale_down_below": 30}],
        schedules=[peak()],
    )
    opens = utc(2024, 1, 8, 9, 0)
    recently = ScalerState().with_scale_event(opens - 60, 2, 3)
    decision, _ = decide(p, recently, service(3, {"cpu": 90}), opens)
    assert decision.replicas == 6
    assert [lim.kind for lim in decision.limits] == [LimitKind.COOLDOWN, LimitKind.SCHEDULE]


def test_schedules_without_metrics() -> None:
    run = Run(policy(min_replicas=2, schedules=[peak()]), replicas=2, now=utc(2024, 1, 8, 8, 30))
    assert run.step({}, after=0).reason == "no metrics: stay at 2"
    assert run.step({}, after=1800).replicas == 6  # 09:00
    assert run.step({}, after=36000).replicas == 2  # 19:00: back to min_replicas
