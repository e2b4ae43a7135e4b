"""Muting under virtual time: inhibition, silences, time intervals, maintenance windows.

Covers:
- inhibition: a firing critical mutes the warning of the same service, not of another
  service; a resolved source stops muting (the warning is then notified); an alert
  matching both sides does not mute itself;
- silences: matching alerts are left out while the silence is active (pending before its
  start, expired after); an alert unsilenced while still firing is notified; expiring
  early works; bad requests are refused (no matcher, all-empty matchers, end before
  start); until-resolved silences expire when the alerts they matched resolve, and a
  later re-fire is notified;
- time intervals: weekday / time ranges / days of month (negative) / months / years, in a
  time zone (Europe/Istanbul, America/New_York across the DST change);
- a route's mute_time_intervals hold its notifications, and what still fires when the
  interval ends is re-notified at once; active_time_intervals are the converse;
- a maintenance window holds matching alerts (others are notified) and re-notifies what
  is still firing when the window ends, including alerts notified before it opened.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scalepilot.config.alertmanager import TimeIntervalSpec
from scalepilot.control.alerting.routing import Reason, SilenceError
from scalepilot.control.alerting.routing.timeintervals import IntervalSpec
from tests.unit.test_routing_support import BASIC, T0, Driver, alert, router, summary

INHIBIT = """
route: {receiver: team, group_by: [alertname, service, severity]}
receivers: [{name: team, webhook_configs: [{url: "http://127.0.0.1:1/"}]}]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [service]
"""


def test_critical_inhibits_warning_of_the_same_service() -> None:
    d = Driver(router(INHIBIT))
    crit = alert("Latency", service="shop", severity="critical")
    d.fire(crit)
    d.fire(alert("Latency", service="shop", severity="warning"))
    d.fire(alert("Latency", service="cart", severity="warning"))
    notes = d.run(30)
    assert sorted((dict(n.group_labels)["service"], dict(n.group_labels)["severity"]) for n in notes) == [
        ("cart", "warning"),
        ("shop", "critical"),
    ]
    views = {(dict(v.alert.labels)["service"], dict(v.alert.labels)["severity"]): v for v in d.router.alerts(d.now)}
    assert views["shop", "warning"].mute.inhibited_by == (crit.fingerprint,)
    assert views["shop", "warning"].state == "suppressed"
    d.resolve(crit)
    notes = d.run(300)
    assert sorted((n.status, dict(n.group_labels)["severity"]) for n in notes) == [
        ("firing", "warning"),
        ("resolved", "critical"),
    ]


def test_an_alert_on_both_sides_does_not_inhibit_itself() -> None:
    text = INHIBIT.replace('target_matchers: [severity="warning"]', 'target_matchers: [severity=~"warning|critical"]')
    d = Driver(router(text))
    d.fire(alert("Latency", service="shop", severity="critical"))
    assert len(d.run(30)) == 1


def test_silence_mutes_until_it_ends_then_the_alert_is_news() -> None:
    d = Driver(router(BASIC))
    d.router.add_silence(
        ['service="shop"'], starts_at=T0 + 60, ends_at=T0 + 3600, created_by="ana", comment="deploy", now=T0
    )
    d.fire(alert(service="shop"))
    assert len(d.run(30)) == 1  # the silence is still pending
    d.fire(alert("ErrorRate", service="shop"))
    assert d.run(3000) == []  # active: ErrorRate never notified
    notes = d.run(700)  # group_interval ticks at 60 + k * 300: the first after the end is 3660
    # HighLatency was notified before the silence and did not change: not repeated yet.
    assert summary(notes) == [(3660.0, "team", "firing", ["ErrorRate"])]


def test_expire_a_silence_early_and_invalid_silences() -> None:
    d = Driver(router(BASIC))
    s = d.router.add_silence(['service="shop"'], starts_at=T0, ends_at=T0 + 86400, created_by="a", comment="", now=T0)
    d.fire(alert(service="shop"))
    assert d.run(100) == []
    d.router.expire_silence(s.id, d.now)
    assert len(d.run(300)) == 1
    with pytest.raises(SilenceError, match="already expired"):
        d.router.expire_silence(s.id, d.now)
    bad = [
        ([], "at least one"),
        (['service=~".*"'], "empty string"),
        (['service="x'], "unterminated"),
    ]
    for matchers, msg in bad:
        with pytest.raises(SilenceError, match=msg):
            d.router.add_silence(matchers, starts_at=T0, ends_at=T0 + 60, created_by="a", comment="", now=T0)
    with pytest.raises(SilenceError, match="end after"):
        d.router.add_silence(['a="b"'], starts_at=T0 + 60, ends_at=T0, created_by="a", comment="", now=T0)
    with pytest.raises(SilenceError, match="must match an alert"):
        d.router.add_silence(
            ['service="none"'], starts_at=T0, ends_at=None, until_resolved=True, created_by="a", comment="", now=T0
        )


def test_until_resolved_silence_expires_when_its_alerts_resolve() -> None:
    d = Driver(router(BASIC))
    a = alert(service="shop")
    d.fire(a)
    s = d.router.add_silence(
        ['service="shop"'], starts_at=T0, ends_at=None, until_resolved=True, created_by="a", comment="", now=T0
    )
    assert d.run(600) == []
    d.resolve(a)
    d.run(1)
    state = d.router.silences.get(s.id)
    assert state is not None and state.ends_at == d.now and state.state(d.now) == "expired"
    d.run(1200)
    d.fire(alert(service="shop", at=d.now))
    assert summary(d.run(30))[0][2] == "firing"


def _spec(**kw: object) -> IntervalSpec:
    return IntervalSpec.from_config(TimeIntervalSpec.model_validate(kw))


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_time_interval_fields_and_time_zones() -> None:
    business = _spec(
        weekdays=["monday:friday"], times=[{"start_time": "09:00", "end_time": "17:00"}], location="Europe/Istanbul"
    )
    assert business.contains(_ts("2024-03-04T06:00:00+00:00"))  # Monday 09:00 in Istanbul (UTC+3)
    assert not business.contains(_ts("2024-03-04T05:59:00+00:00"))
    assert not business.contains(_ts("2024-03-04T14:00:00+00:00"))  # 17:00 is exclusive
    assert not business.contains(_ts("2024-03-09T08:00:00+00:00"))  # Saturday
    last_days = _spec(days_of_month=["-3:-1"], months=["february"], years=["2024"])
    assert last_days.contains(_ts("2024-02-27T12:00:00+00:00"))  # Feb 2024 has 29 days
    assert not last_days.contains(_ts("2024-02-26T12:00:00+00:00"))
    assert not last_days.contains(_ts("2025-02-27T12:00:00+00:00"))
    ny = _spec(times=[{"start_time": "02:00", "end_time": "03:00"}], location="America/New_York")
    assert ny.contains(_ts("2024-01-10T07:30:00+00:00"))  # EST: UTC-5
    assert ny.contains(_ts("2024-07-10T06:30:00+00:00"))  # EDT: UTC-4
    assert not ny.contains(_ts("2024-07-10T07:30:00+00:00"))
    whole = _spec(days_of_month=["1:31"])
    assert whole.contains(_ts("2024-04-30T12:00:00+00:00"))


WINDOWS = """
route:
  receiver: team
  group_by: [alertname, service]
  routes:
    - matchers: [team="db"]
      receiver: team
      mute_time_intervals: [night]
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: "22:00", end_time: "23:00"}]}]
  - name: deploy
    time_intervals: [{times: [{start_time: "22:30", end_time: "23:30"}], location: Europe/Istanbul}]
maintenance_windows:
  - name: nightly-deploy
    time_intervals: [deploy]
    matchers: [service="shop"]
receivers: [{name: team, webhook_configs: [{url: "http://127.0.0.1:1/"}]}]
"""
# T0 is 22:13:20 UTC, so "night" (22:00-23:00 UTC) is on; "deploy" is 19:30-20:30 UTC.


def test_mute_time_interval_holds_and_renotifies_at_its_end() -> None:
    d = Driver(router(WINDOWS))
    d.fire(alert(service="pg", team="db"))
    d.fire(alert(service="web"))
    assert [dict(n.group_labels)["service"] for n in d.run(30)] == ["web"]
    end = datetime(2023, 11, 14, 23, 0, tzinfo=UTC).timestamp()
    assert [dict(n.group_labels)["service"] for n in d.run(end - d.now - 1)] == []
    notes = [n for n in d.run(1) if dict(n.group_labels)["service"] == "pg"]
    assert [(n.created_at, n.reason) for n in notes] == [(end, Reason.WINDOW_ENDED)]


def test_maintenance_window_holds_and_renotifies_what_still_fires() -> None:
    start = datetime(2023, 11, 15, 19, 30, tzinfo=UTC).timestamp()
    end = datetime(2023, 11, 15, 20, 30, tzinfo=UTC).timestamp()
    d = Driver(router(WINDOWS), now=start - 600, _last_resend=start - 600)
    shop = alert(service="shop", at=d.now)
    d.fire(shop)
    assert len(d.run(30)) == 1  # before the window: notified
    d.run(start - d.now + 60)  # into the window
    d.fire(alert("ErrorRate", service="shop", at=d.now))
    d.fire(alert("ErrorRate", service="cart", at=d.now))
    notes = d.run(600)
    assert [dict(n.group_labels)["service"] for n in notes] == ["cart"]  # shop is held
    views = {(v.alert.name, dict(v.alert.labels)["service"]): v for v in d.router.alerts(d.now)}
    assert views["ErrorRate", "shop"].mute.window == "nightly-deploy"
    d.run(end - d.now - 1)
    notes = d.run(1)
    assert sorted((n.created_at, n.reason, n.alerts[0].name) for n in notes) == [
        (end, Reason.WINDOW_ENDED, "ErrorRate"),
        (end, Reason.WINDOW_ENDED, "HighLatency"),
    ]


def test_active_time_intervals_send_only_inside() -> None:
    text = """
route:
  receiver: team
  routes: [{matchers: [team="db"], receiver: team, active_time_intervals: [day]}]
time_intervals:
  - name: day
    time_intervals: [{times: [{start_time: "08:00", end_time: "20:00"}]}]
receivers: [{name: team}]
"""
    # "team" has no integrations: nothing is sent, but the route's hold is visible.
    d = Driver(router(text))
    d.fire(alert(team="db"))
    d.run(60)
    (group,) = d.router.groups()
    assert group.held_by_route
