"""Aggregation groups under virtual time, with Alertmanager's flush semantics.

Covers:
- the first notification comes group_wait (30 s) after the group's first alert; alerts
  joining meanwhile are in it; an alert that started more than group_wait ago is
  notified at once;
- later alerts of a notified group wait for the next group_interval (5 m) tick;
- an unchanged firing group is repeated after repeat_interval (4 h), not before;
- a resolved alert is notified at the next group_interval tick (send_resolved) and then
  leaves the group; a group whose alerts all resolved is deleted; the rule engine's
  15 minutes of resolved re-sends notify nobody again;
- an integration without send_resolved hears nothing when only resolutions change, but
  the log still clears;
- a firing alert that is no longer re-sent resolves at its ends_at;
- group_by: separate groups per label value; ['...'] groups by every label; no
  group_by puts everything in one group; the group key has Alertmanager's format;
- notification ids are unique and stable in the snapshot/restore round trip, and a
  restored log does not re-notify what was already notified.
"""

from __future__ import annotations

from scalepilot.control.alerting.routing import Reason, Router
from tests.unit.test_routing_support import BASIC, T0, Driver, alert, router, settings, summary


def test_alerts_arriving_during_group_wait_are_batched() -> None:
    d = Driver(router(BASIC))
    d.fire(alert(service="shop", instance="a"))
    d.run(10)
    d.fire(alert(service="shop", instance="b"))
    (n,) = d.run(20)
    assert n.created_at == T0 + 30
    assert [dict(a.labels)["instance"] for a in n.alerts] == ["a", "b"]
    assert n.reason is Reason.FIRST
    assert n.group_key == '{}:{alertname="HighLatency", service="shop"}'


def test_an_alert_that_started_long_ago_is_notified_at_once() -> None:
    d = Driver(router(BASIC))
    d.fire(alert(service="shop", at=T0 - 300))
    assert summary(d.run(1)) == [(1.0, "team", "firing", ["HighLatency"])]


def test_new_alerts_in_a_notified_group_wait_for_group_interval() -> None:
    d = Driver(router(BASIC))
    d.fire(alert(service="shop", instance="a"))
    d.run(30)
    d.run(60)
    d.fire(alert(service="shop", instance="b"))
    assert d.run(239) == []  # t = 329
    (n,) = d.run(1)  # t = 330 = 30 + 300
    assert n.reason is Reason.CHANGED and len(n.alerts) == 2


def test_unchanged_group_repeats_after_repeat_interval() -> None:
    d = Driver(router(BASIC))
    d.fire(alert(service="shop"))
    d.run(30)
    assert d.run(4 * 3600 - 1) == []
    (n,) = d.run(1)
    assert n.created_at == T0 + 30 + 4 * 3600 and n.reason is Reason.REPEAT


def test_resolved_alert_is_notified_then_removed_and_not_renotified() -> None:
    d = Driver(router(BASIC))
    a = alert(service="shop")
    d.fire(a)
    d.run(100)
    d.resolve(a)
    notes = d.run(230)  # next tick at 330
    assert summary(notes) == [(330.0, "team", "resolved", ["HighLatency/resolved"])]
    assert d.router.groups() == []
    # The rule engine keeps sending the resolved alert for 15 minutes: nobody hears it again.
    assert d.run(1800) == []


def test_without_send_resolved_only_firing_changes_are_sent() -> None:
    r = router(
        """
route: {receiver: mail, group_by: [alertname]}
receivers:
  - name: mail
    email_configs: [{to: ops@example.org, from: sp@example.org, smarthost: "127.0.0.1:25"}]
"""
    )
    d = Driver(r)
    a, b = alert(instance="a"), alert(instance="b")
    d.fire(a)
    d.fire(b)
    d.run(30)
    d.resolve(a)
    assert d.run(300) == []  # a resolved but b still fires: nothing for email
    d.resolve(b)
    assert d.run(300) == []  # all resolved: log cleared, nothing sent without send_resolved
    d.fire(alert(instance="c"))
    assert [n.reason for n in d.run(30)] == [Reason.CHANGED]


def test_alert_no_longer_resent_resolves_at_its_ends_at() -> None:
    r = router(BASIC)
    r.receive([alert(service="shop")], T0)  # ends_at = T0 + 240, never refreshed
    assert len(r.tick(T0 + 30)) == 1
    assert r.tick(T0 + 239) == []
    (n,) = r.tick(T0 + 330)
    assert n.status == "resolved" and n.alerts[0].ends_at_ms == int((T0 + 240) * 1000)


def test_group_by_splits_and_dots_group_by_everything() -> None:
    d = Driver(router(BASIC))
    d.fire(alert(service="shop"))
    d.fire(alert(service="cart"))
    assert sorted(n.group_key for n in d.run(30)) == [
        '{}:{alertname="HighLatency", service="cart"}',
        '{}:{alertname="HighLatency", service="shop"}',
    ]
    all_labels = BASIC.replace("group_by: [alertname, service]", "group_by: ['...']")
    d = Driver(router(all_labels))
    d.fire(alert(service="shop", instance="a"))
    d.fire(alert(service="shop", instance="b"))
    assert len(d.run(30)) == 2
    no_group_by = BASIC.replace("  group_by: [alertname, service]\n", "")
    d = Driver(router(no_group_by))
    d.fire(alert("A", service="shop"))
    d.fire(alert("B", service="cart"))
    (n,) = d.run(30)
    assert n.group_key == "{}:{}" and len(n.alerts) == 2


def test_snapshot_restores_the_log_and_silences() -> None:
    s = settings(BASIC)
    d = Driver(router(BASIC))
    d.fire(alert(service="shop"))
    (first,) = d.run(30)
    d.router.add_silence(['service="cart"'], starts_at=T0, ends_at=T0 + 7200, created_by="ops", comment="x", now=d.now)
    state = d.router.snapshot()
    from scalepilot.control.alerting.routing import build_plan

    restored = Router.restore(build_plan(s), state)
    assert [x.id for x in restored.silences.all()] == [x.id for x in d.router.silences.all()]
    d2 = Driver(restored, now=d.now)
    d2.fire(alert(service="shop"))
    assert d2.run(3600) == []  # already notified before the restart
    (again,) = d2.run(4 * 3600)
    assert again.reason is Reason.REPEAT and again.id != first.id
