"""Acknowledgement, escalation and forwarding under virtual time.

Covers:
- an acknowledged group is not repeated; a new alert joining it is still notified; the
  ack ends when the alert resolves (a re-fire is notified and repeats again) or at its
  ``until`` time (repeats resume);
- ack by fingerprint prefix or by matchers; asking for nothing firing is an error;
- escalation: not acknowledged within a step's ``after`` (from the first notification),
  the step's receiver is notified, then the next step's; an ack before a step stops it;
  escalated receivers hear the resolution and are then dropped; a new episode starts
  the chain again; a restart (state saved and restored) continues an escalation where it
  was, without repeating its steps;
- forwarding integrations get every change at once (no group_wait), firing alerts again
  every resend_interval, resolved ones once, only if they were forwarded firing.
"""

from __future__ import annotations

import pytest

from scalepilot.control.alerting.routing import AckError, Reason, Router
from tests.unit.test_routing_support import BASIC, T0, Driver, alert, router, summary


def test_ack_stops_repeats_but_not_news() -> None:
    d = Driver(router(BASIC))
    a = alert(service="shop", instance="a")
    d.fire(a)
    d.run(30)
    (ack,) = d.router.acknowledge(fingerprints=[a.fingerprint[:6]], by="ana", comment="on it", until=None, now=d.now)
    assert ack.fingerprint == a.fingerprint
    assert d.run(5 * 3600) == []  # no 4h repeat
    d.fire(alert(service="shop", instance="b"))
    (n,) = d.run(300)
    assert n.reason is Reason.CHANGED and len(n.alerts) == 2
    views = {dict(v.alert.labels)["instance"]: v for v in d.router.alerts(d.now)}
    assert views["a"].ack is not None and views["a"].ack.by == "ana" and views["b"].ack is None


def test_ack_ends_when_the_alert_resolves_or_at_until() -> None:
    d = Driver(router(BASIC))
    a = alert(service="shop")
    d.fire(a)
    d.run(30)
    d.router.acknowledge(matchers=['service="shop"'], by="ana", comment="", until=d.now + 3600, now=d.now)
    # until passes after 1 h: the repeat (due at 4 h) happens as usual.
    assert [n.reason for n in d.run(4 * 3600)] == [Reason.REPEAT]
    d.router.acknowledge(matchers=['service="shop"'], by="ana", comment="", until=None, now=d.now)
    d.resolve(a)
    d.run(300)
    assert d.router.acks.all() == []
    d.fire(alert(service="shop", at=d.now))
    assert [n.reason for n in d.run(300)] == [Reason.CHANGED]
    with pytest.raises(AckError, match="no firing alert"):
        d.router.acknowledge(matchers=['service="none"'], by="ana", comment="", until=None, now=d.now)
    with pytest.raises(AckError, match="matches no firing"):
        d.router.acknowledge(fingerprints=["zzz"], by="ana", comment="", until=None, now=d.now)


ESCALATE = (
    BASIC
    + """
  - name: secondary
    webhook_configs: [{url: "http://127.0.0.1:2/"}]
  - name: manager
    email_configs: [{to: m@example.org, from: sp@example.org, smarthost: "127.0.0.1:25", send_resolved: true}]
escalations:
  - receiver: team
    steps:
      - {after: 15m, receiver: secondary}
      - {after: 30m, receiver: manager}
"""
)


def test_unacknowledged_alerts_escalate_step_by_step() -> None:
    d = Driver(router(ESCALATE))
    a = alert(service="shop")
    d.fire(a)
    d.run(30)
    notes = d.run(3600)
    assert [(n.created_at - T0, n.receiver, n.reason) for n in notes] == [
        (30 + 900, "secondary", Reason.ESCALATION),
        (30 + 1800, "manager", Reason.ESCALATION),
    ]
    d.resolve(a)
    notes = d.run(300)
    assert sorted((n.receiver, n.status) for n in notes) == [
        ("manager", "resolved"),
        ("secondary", "resolved"),
        ("team", "resolved"),
    ]
    assert d.router.groups() == []  # the group ended with its alerts
    # A new episode starts the chain again.
    d.fire(alert(service="shop", at=d.now))
    d.run(30)
    assert [n.receiver for n in d.run(900)] == ["secondary"]


def test_ack_before_a_step_stops_the_escalation() -> None:
    d = Driver(router(ESCALATE))
    d.fire(alert(service="shop"))
    d.run(30)
    assert [n.receiver for n in d.run(900)] == ["secondary"]
    d.router.acknowledge(matchers=['service="shop"'], by="bo", comment="mine", until=None, now=d.now)
    assert d.run(3600) == []


FORWARD = """
route: {receiver: am, group_by: [alertname], group_wait: 30s}
receivers:
  - name: am
    alertmanager_configs: [{url: "http://127.0.0.1:9093", resend_interval: 1m}]
"""


def test_forwarding_sends_changes_at_once_and_resends_firing() -> None:
    d = Driver(router(FORWARD))
    a = alert(service="shop")
    d.fire(a)
    notes = d.run(1)
    assert [(n.created_at - T0, n.reason, n.status) for n in notes] == [(1.0, Reason.FORWARD, "firing")]
    notes = d.run(180)
    assert [n.created_at - T0 for n in notes] == [61.0, 121.0, 181.0]
    assert all(n.alerts[0].ends_at_ms and n.alerts[0].ends_at_ms > n.created_at * 1000 for n in notes)
    d.resolve(a)
    notes = d.run(1)
    assert [(n.status, n.alerts[0].resolved) for n in notes] == [("resolved", True)]
    assert d.run(1200) == []  # resolved re-sends and no more firing: nothing more


def test_forwarding_skips_resolved_alerts_it_never_forwarded() -> None:
    d = Driver(router(FORWARD))
    d.router.receive([alert(service="shop", at=T0 - 600, resolved_at=T0 - 60)], d.now)
    assert summary(d.run(120)) == []


def test_a_restart_neither_forgets_nor_repeats_an_escalation() -> None:
    d = Driver(router(ESCALATE))
    a = alert(service="shop")
    d.fire(a)
    d.run(30)
    assert [n.receiver for n in d.run(900)] == ["secondary"]
    state = d.router.snapshot()
    # A new router from the saved state; the rule engine re-sends the firing alert.
    d.router = Router.restore(d.router.plan, state)
    d.fire(a)
    notes = d.run(1800)
    assert [(n.created_at - T0, n.receiver, n.reason) for n in notes] == [(30 + 1800, "manager", Reason.ESCALATION)]
    d.resolve(a)
    assert sorted(n.receiver for n in d.run(300)) == ["manager", "secondary", "team"]  # all hear the resolution
