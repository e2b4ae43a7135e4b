"""What the router needs from ``alerting:``, built once: the route tree, each receiver's
integrations, inhibition rules, time intervals, maintenance windows and escalations.

The router knows integrations only by name (``webhook/0``) and two facts about them:
whether they want resolved notifications, and whether they *forward* (to a real
Alertmanager: every change at once and firing alerts re-posted every
``resend_interval``, instead of the grouped, deduplicated notifications people get).
"""

from __future__ import annotations

from dataclasses import dataclass

from scalepilot.config.alertmanager import AlertingSettings, AlertmanagerForwardConfig, EscalationStep, parse_matchers
from scalepilot.control.alerting.routing.inhibit import InhibitRule
from scalepilot.control.alerting.routing.timeintervals import TimeInterval, build_intervals
from scalepilot.control.alerting.routing.tree import Route, build_route
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher


@dataclass(frozen=True, slots=True)
class Integration:
    name: str
    send_resolved: bool
    forward_resend: float | None = None
    """Set for a forwarding integration: re-post firing alerts this often."""


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    intervals: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    comment: str

    def holds(self, labels: Labels) -> bool:
        return all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True, slots=True)
class Plan:
    root: Route
    receivers: dict[str, tuple[Integration, ...]]
    inhibit_rules: tuple[InhibitRule, ...]
    intervals: dict[str, TimeInterval]
    windows: tuple[Window, ...]
    escalations: dict[str, tuple[EscalationStep, ...]]

    def interval_on(self, name: str, now: float) -> bool:
        return self.intervals[name].contains(now)

    def open_window(self, labels: Labels, now: float) -> str | None:
        """The name of an open maintenance window holding an alert with ``labels``."""
        for w in self.windows:
            if w.holds(labels) and any(self.interval_on(n, now) for n in w.intervals):
                return w.name
        return None

    def route_muted(self, route: Route, now: float) -> bool:
        """Alertmanager's time mute: inside a mute interval, or outside every active one."""
        if any(self.interval_on(n, now) for n in route.opts.mute_time_intervals):
            return True
        active = route.opts.active_time_intervals
        return bool(active) and not any(self.interval_on(n, now) for n in active)


def build_plan(settings: AlertingSettings) -> Plan:
    receivers: dict[str, tuple[Integration, ...]] = {}
    for r in settings.receivers:
        out = []
        for name, cfg in r.integrations():
            if isinstance(cfg, AlertmanagerForwardConfig):
                out.append(Integration(name, send_resolved=True, forward_resend=cfg.resend_interval))
            else:
                out.append(Integration(name, send_resolved=bool(cfg.send_resolved)))
        receivers[r.name] = tuple(out)
    return Plan(
        root=build_route(settings.route),
        receivers=receivers,
        inhibit_rules=tuple(InhibitRule.from_config(r) for r in settings.inhibit_rules),
        intervals=build_intervals(settings.all_time_intervals()),
        windows=tuple(
            Window(w.name, tuple(w.time_intervals), tuple(m for t in w.matchers for m in parse_matchers(t)), w.comment)
            for w in settings.maintenance_windows
        ),
        escalations={e.receiver: tuple(e.steps) for e in settings.escalations},
    )
