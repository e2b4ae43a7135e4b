"""Helpers shared by the ``test_routing_*`` modules (and a sanity test of them): a
router from YAML text, alerts from plain label dicts, and a virtual-time driver that
ticks the router every second and collects what it sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from scalepilot.config.alertmanager import AlertingSettings
from scalepilot.control.alerting.routing import Notification, Router, build_plan
from scalepilot.domain.alerts import Alert
from scalepilot.domain.labels import make_labels

T0 = 1_700_000_000.0
"""2023-11-14 22:13:20 UTC (a Tuesday): virtual time starts here."""


def settings(text: str) -> AlertingSettings:
    return AlertingSettings.model_validate(yaml.safe_load(text))


def router(text: str) -> Router:
    return Router(build_plan(settings(text)))


def alert(name: str = "HighLatency", *, at: float = T0, resolved_at: float | None = None, **labels: str) -> Alert:
    """A firing alert (``ends_at`` 4 minutes ahead, as the rule engine sends it), or a
    resolved one when ``resolved_at`` is given."""
    ls = make_labels(None, {"alertname": name, **labels})
    if resolved_at is not None:
        return Alert(ls, (("summary", f"{name} summary"),), int(at * 1000), int(resolved_at * 1000), resolved=True)
    return Alert(ls, (("summary", f"{name} summary"),), int(at * 1000), int((at + 240) * 1000))


@dataclass
class Driver:
    """Runs a router under virtual time: alerts re-sent every ``resend`` seconds while
    they fire (as the rule engine does), a tick every second."""

    router: Router
    now: float = T0
    firing: dict[str, Alert] = field(default_factory=dict)
    resolved: dict[str, tuple[Alert, float]] = field(default_factory=dict)
    sent: list[Notification] = field(default_factory=list)
    resend: float = 60.0
    _last_resend: float = T0

    def fire(self, a: Alert) -> None:
        self.firing[a.fingerprint] = a
        self.resolved.pop(a.fingerprint, None)
        self.router.receive([self._fresh(a)], self.now)

    def resolve(self, a: Alert) -> None:
        self.firing.pop(a.fingerprint, None)
        done = Alert(a.labels, a.annotations, a.starts_at_ms, int(self.now * 1000), resolved=True)
        self.resolved[a.fingerprint] = (done, self.now)
        self.router.receive([done], self.now)

    def _fresh(self, a: Alert) -> Alert:
        return Alert(a.labels, a.annotations, a.starts_at_ms, int((self.now + 240) * 1000))

    def run(self, seconds: float) -> list[Notification]:
        """Advance ``seconds`` (1 s ticks); returns what was sent meanwhile."""
        out: list[Notification] = []
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = round(self.now + 1.0, 6)
            if self.now - self._last_resend >= self.resend:
                self._last_resend = self.now
                self.router.receive([self._fresh(a) for a in self.firing.values()], self.now)
                for fp, (done, since) in list(self.resolved.items()):
                    if self.now - since > 900:
                        del self.resolved[fp]
                    else:
                        self.router.receive([done], self.now)
            notes = self.router.tick(self.now)
            out += notes
        self.sent += out
        return out


def summary(notes: list[Notification]) -> list[tuple[float, str, str, list[str]]]:
    """(seconds since T0, receiver, status, alertnames with status) per notification."""
    return [
        (
            n.created_at - T0,
            n.receiver,
            n.status,
            [f"{a.name}{'/resolved' if a.resolved else ''}" for a in n.alerts],
        )
        for n in notes
    ]


def labels_of(n: Notification) -> list[dict[str, Any]]:
    return [dict(a.labels) for a in n.alerts]


BASIC = """
route:
  receiver: team
  group_by: [alertname, service]
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
"""


def test_driver_sends_the_first_notification_after_group_wait() -> None:
    d = Driver(router(BASIC))
    d.fire(alert(service="shop"))
    assert d.run(29) == []
    assert summary(d.run(1)) == [(30.0, "team", "firing", ["HighLatency"])]
