"""The router: alerts in, notifications out, under a clock that is an argument.

``receive(alerts, now)`` files each alert into the groups of the routes it matches;
``tick(now)`` runs what is due and returns the notifications to send. Everything the
router decides is in memory and pure; the caller persists :meth:`Router.snapshot` (the
notification log, silences, acknowledgements) and puts the notifications in the outbox.

Per group and tick, in this order:

1. forwarding integrations get every change at once and firing alerts again every
   ``resend_interval`` (a real Alertmanager resolves an alert at its ``endsAt``);
2. a group held by a mute time interval or a maintenance window whose hold has ended is
   flushed at once and re-notifies what still fires;
3. a group whose timer is due is flushed (:mod:`.groups`);
4. escalation: unacknowledged firing alerts past a step's ``after`` go to its receiver.

Muting, as Alertmanager's pipeline: an alert that is inhibited, silenced or held by a
maintenance window is left out of notifications (and so out of the log: when the mute
ends, it is news again). A route muted by time sends nothing and keeps its resolved
alerts until the mute ends, so the people who were told an alert fired hear it resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scalepilot.config.alertmanager import parse_matchers
from scalepilot.control.alerting.routing.acks import Ack, Acks
from scalepilot.control.alerting.routing.groups import Group, LogEntry, Member, needs_update
from scalepilot.control.alerting.routing.inhibit import inhibitors
from scalepilot.control.alerting.routing.notification import Notification, Reason, notification_id
from scalepilot.control.alerting.routing.plan import Integration, Plan
from scalepilot.control.alerting.routing.silences import Silence, Silences
from scalepilot.control.alerting.routing.tree import format_label_set
from scalepilot.domain.alerts import Alert
from scalepilot.domain.labels import Labels

LOG_RETENTION_S = 5 * 86400.0
"""Log entries no group refers to are forgotten after this (Alertmanager keeps 120 h)."""

LogKey = tuple[str, str, str]


class AckError(ValueError):
    """An acknowledgement that matches no firing alert."""


def at(alert: Alert, now: float) -> Alert:
    """The alert as of ``now``: a firing one whose ``ends_at`` passed has resolved (the
    rule engine stopped re-sending it), as Alertmanager decides."""
    if not alert.resolved and alert.ends_at_ms is not None and alert.ends_at_ms <= now * 1000:
        return replace(alert, resolved=True)
    return alert


def _sort_key(a: Alert) -> tuple[str, str, Labels]:
    labels = dict(a.labels)
    return labels.get("job", ""), labels.get("instance", ""), a.labels


@dataclass(frozen=True, slots=True)
class Mute:
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    window: str | None = None

    @property
    def muted(self) -> bool:
        return bool(self.silenced_by or self.inhibited_by or self.window)


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as routing sees it, for ``scalepilot alerts`` and the API."""

    alert: Alert
    first_seen: float
    last_seen: float
    mute: Mute
    ack: Ack | None
    receivers: tuple[str, ...]

    @property
    def state(self) -> str:
        if self.alert.resolved:
            return "resolved"
        return "suppressed" if self.mute.muted else "firing"


@dataclass(slots=True)
class _Tick:
    """Per-tick caches: the firing alerts (inhibition sources) and each alert's mute."""

    now: float
    firing: list[Alert]
    mutes: dict[str, Mute] = field(default_factory=dict)


class Router:
    def __init__(
        self,
        plan: Plan,
        *,
        silences: Iterable[Silence] = (),
        acks: Iterable[Ack] = (),
        log: dict[LogKey, LogEntry] | None = None,
        escalations: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.plan = plan
        self.silences = Silences(silences)
        self.acks = Acks(acks)
        self._log: dict[LogKey, LogEntry] = dict(log or {})
        self._groups: dict[tuple[str, Labels], Group] = {}
        self._alerts: dict[str, Member] = {}
        self._first_seen: dict[str, float] = {}
        # Escalation progress of groups not rebuilt since a restart, by group key: applied
        # when the rule engine's re-sent alerts recreate the group, so a restart neither
        # forgets a running escalation nor repeats its steps.
        self._escalations: dict[str, dict[str, Any]] = dict(escalations or {})
        self.dirty = False
        """Silences, acknowledgements or the log changed since :meth:`snapshot`."""

    # --- input ------------------------------------------------------------------------
    def receive(self, alerts: Iterable[Alert], now: float) -> None:
        for incoming in alerts:
            alert = incoming
            fp = alert.fingerprint
            old = self._alerts.get(fp)
            if old is not None and not at(old.alert, now).resolved and not alert.resolved:
                # The same firing episode: keep when it started.
                alert = replace(alert, starts_at_ms=min(old.alert.starts_at_ms, alert.starts_at_ms))
            if old is None or (at(old.alert, now).resolved and not alert.resolved):
                self._first_seen[fp] = now
            self._alerts[fp] = Member(alert, now)
            resolved = at(alert, now).resolved
            for route in self.plan.root.match(alert.labels):
                labels = route.group_labels(alert.labels)
                gid = (route.id, labels)
                group = self._groups.get(gid)
                if group is None:
                    key = f"{route.key}:{format_label_set(labels)}"
                    if resolved and not self._told_firing(key, fp):
                        continue  # nobody heard it fire here: nothing to say
                    group = Group(
                        route=route,
                        labels=labels,
                        key=key,
                        created_at=now,
                        next_flush=now + route.opts.group_wait,
                        receivers=[route.opts.receiver],
                    )
                    self._groups[gid] = group
                    progress = self._escalations.pop(key, None)
                    if progress is not None:
                        group.escalation_started = float(progress["started"])
                        group.escalation_steps = int(progress["steps"])
                        group.receivers += [r for r in progress["receivers"] if r not in group.receivers]
                group.insert(alert, now)

    def _told_firing(self, group_key: str, fp: str) -> bool:
        return any(k[0] == group_key and fp in e.firing for k, e in self._log.items())

    # --- the tick ----------------------------------------------------------------------
    def tick(self, now: float) -> list[Notification]:
        current = {fp: at(m.alert, now) for fp, m in self._alerts.items()}
        firing = [a for a in current.values() if not a.resolved]
        if self.silences.update([a.labels for a in firing], now):
            self.dirty = True
        if self.acks.update({fp for fp, a in current.items() if a.resolved}, now):
            self.dirty = True
        ctx = _Tick(now, firing)
        out: list[Notification] = []
        for gid, group in list(self._groups.items()):
            out += self._forward(group, ctx)
            out += self._release_held(group, ctx)
            if now >= group.next_flush:
                out += self._flush(group, ctx)
                group.has_flushed = True
                group.schedule_next(now)
            out += self._escalate(group, ctx)
            if not group.members:
                del self._groups[gid]
        self._forget(now)
        return out

    def next_flush(self) -> float | None:
        """When the earliest group timer is due (the caller may sleep until then)."""
        return min((g.next_flush for g in self._groups.values()), default=None)

    def _forget(self, now: float) -> None:
        grouped = {fp for g in self._groups.values() for fp in g.members}
        for fp in [fp for fp, m in self._alerts.items() if fp not in grouped and at(m.alert, now).resolved]:
            del self._alerts[fp]
            self._first_seen.pop(fp, None)
        keys = {g.key for g in self._groups.values()}
        stale = [k for k, e in self._log.items() if k[0] not in keys and now - e.at > LOG_RETENTION_S]
        for k in stale:
            del self._log[k]
        if stale:
            self.dirty = True
            logged = {k[0] for k in self._log}
            for key in [k for k in self._escalations if k not in logged]:
                del self._escalations[key]

    def _mute(self, alert: Alert, ctx: _Tick) -> Mute:
        fp = alert.fingerprint
        cached = ctx.mutes.get(fp)
        if cached is None:
            cached = Mute(
                silenced_by=tuple(self.silences.muting(alert.labels, ctx.now)),
                inhibited_by=tuple(inhibitors(self.plan.inhibit_rules, alert.labels, ctx.firing)),
                window=self.plan.open_window(alert.labels, ctx.now),
            )
            ctx.mutes[fp] = cached
        return cached

    def _members(self, group: Group, ctx: _Tick) -> list[tuple[Alert, float]]:
        return [(at(m.alert, ctx.now), m.updated_at) for m in group.members.values()]

    def _emit(
        self,
        group: Group,
        receiver: str,
        integ: Integration,
        alerts: Sequence[Alert],
        firing: frozenset[str],
        resolved: frozenset[str],
        reason: Reason,
        now: float,
    ) -> Notification | None:
        key = (group.key, receiver, integ.name)
        entry = self._log.get(key)
        seq = entry.seq + 1 if entry is not None else 1
        self._log[key] = LogEntry(firing, resolved, now, seq)
        self.dirty = True
        sent = [a for a in alerts if integ.send_resolved or not a.resolved]
        if not sent:
            return None
        return Notification(
            id=notification_id(group.key, receiver, integ.name, seq, now),
            receiver=receiver,
            integration=integ.name,
            group_key=group.key,
            group_labels=group.labels,
            alerts=tuple(sorted(sent, key=_sort_key)),
            created_at=now,
            reason=reason,
        )

    def _flush(self, group: Group, ctx: _Tick, *, force: bool = False) -> list[Notification]:
        now = ctx.now
        snapshot = self._members(group, ctx)
        if self.plan.route_muted(group.route, now):
            group.held_by_route = True
            return []
        unmuted: list[Alert] = []
        for alert, _ in snapshot:
            mute = self._mute(alert, ctx)
            if mute.window is not None and not alert.resolved:
                group.held_by_window.add(alert.fingerprint)
            if not mute.muted:
                unmuted.append(alert)
        out: list[Notification] = []
        firing = frozenset(a.fingerprint for a in unmuted if not a.resolved)
        resolved = frozenset(a.fingerprint for a in unmuted if a.resolved)
        all_acked = bool(firing) and all(self.acks.is_acked(fp, now) for fp in firing)
        if unmuted:
            base = group.route.opts.receiver
            for receiver in list(group.receivers):
                for integ in self.plan.receivers.get(receiver, ()):
                    if integ.forward_resend is not None:
                        continue
                    entry = self._log.get((group.key, receiver, integ.name))
                    due = needs_update(
                        entry,
                        firing,
                        resolved,
                        send_resolved=integ.send_resolved,
                        repeat_interval=group.route.opts.repeat_interval,
                        now=now,
                        all_acked=all_acked,
                    )
                    if force and firing and not all_acked:
                        reason = Reason.WINDOW_ENDED
                    elif due:
                        reason = _reason(entry, firing, resolved, now, group.route.opts.repeat_interval)
                    else:
                        continue
                    note = self._emit(group, receiver, integ, unmuted, firing, resolved, reason, now)
                    if note is not None:
                        out.append(note)
                    if receiver == base and firing and not all_acked and group.escalation_started is None:
                        group.escalation_started = now
            group.receivers = [r for r in group.receivers if r == base or firing or self._still_told(group, r)]
        if not group.held_by_route:
            for alert, updated in snapshot:
                member = group.members.get(alert.fingerprint)
                if alert.resolved and member is not None and member.updated_at == updated:
                    del group.members[alert.fingerprint]
        return out

    def _still_told(self, group: Group, receiver: str) -> bool:
        return any(
            (e := self._log.get((group.key, receiver, i.name))) is not None and e.firing
            for i in self.plan.receivers.get(receiver, ())
        )

    def _release_held(self, group: Group, ctx: _Tick) -> list[Notification]:
        now = ctx.now
        if group.held_by_route:
            if self.plan.route_muted(group.route, now):
                return []
            group.held_by_route = False
            return self._flush(group, ctx, force=True)
        if not group.held_by_window:
            return []
        released = set()
        for fp in group.held_by_window:
            member = group.members.get(fp)
            if member is None or self._mute(at(member.alert, now), ctx).window is None:
                released.add(fp)
        if not released:
            return []
        group.held_by_window -= released
        still = [fp for fp in released if fp in group.members and not at(group.members[fp].alert, now).resolved]
        return self._flush(group, ctx, force=True) if still else []

    def _forward(self, group: Group, ctx: _Tick) -> list[Notification]:
        now = ctx.now
        receiver = group.route.opts.receiver
        integrations = [i for i in self.plan.receivers.get(receiver, ()) if i.forward_resend is not None]
        if not integrations or self.plan.route_muted(group.route, now):
            return []
        unmuted = [a for a, _ in self._members(group, ctx) if not self._mute(a, ctx).muted]
        firing = frozenset(a.fingerprint for a in unmuted if not a.resolved)
        out: list[Notification] = []
        for integ in integrations:
            assert integ.forward_resend is not None
            entry = self._log.get((group.key, receiver, integ.name))
            told = entry.firing if entry is not None else frozenset()
            changed = firing != told
            resend = bool(firing) and entry is not None and now - entry.at >= integ.forward_resend
            if not (changed or resend):
                continue
            # Resolved alerts only to an Alertmanager that heard them fire.
            sent = [a for a in unmuted if not a.resolved or a.fingerprint in told]
            resolved = frozenset(a.fingerprint for a in sent if a.resolved)
            note = self._emit(group, receiver, integ, sent, firing, resolved, Reason.FORWARD, now)
            if note is not None:
                out.append(note)
        return out

    def _escalate(self, group: Group, ctx: _Tick) -> list[Notification]:
        now = ctx.now
        steps = self.plan.escalations.get(group.route.opts.receiver)
        if not steps or self.plan.route_muted(group.route, now):
            return []
        unmuted = [a for a, _ in self._members(group, ctx) if not self._mute(a, ctx).muted]
        firing = [a for a in unmuted if not a.resolved]
        if not firing:
            if group.escalation_started is not None:
                self.dirty = True
            group.escalation_started = None
            group.escalation_steps = 0
            return []
        unacked = [a for a in firing if not self.acks.is_acked(a.fingerprint, now)]
        started = group.escalation_started
        out: list[Notification] = []
        if not unacked or started is None:
            return out
        fps = frozenset(a.fingerprint for a in firing)
        resolved = frozenset(a.fingerprint for a in unmuted if a.resolved)
        while group.escalation_steps < len(steps) and now >= started + steps[group.escalation_steps].after:
            step = steps[group.escalation_steps]
            group.escalation_steps += 1
            if step.receiver not in group.receivers:
                group.receivers.append(step.receiver)
            for integ in self.plan.receivers.get(step.receiver, ()):
                note = self._emit(group, step.receiver, integ, unmuted, fps, resolved, Reason.ESCALATION, now)
                if note is not None:
                    out.append(note)
        return out

    # --- silences and acknowledgements ---------------------------------------------------
    def firing_labels(self, now: float) -> list[Labels]:
        return [m.alert.labels for m in self._alerts.values() if not at(m.alert, now).resolved]

    def add_silence(
        self,
        matchers: Sequence[str],
        *,
        starts_at: float,
        ends_at: float | None,
        created_by: str,
        comment: str,
        until_resolved: bool = False,
        now: float,
    ) -> Silence:
        silence = self.silences.add(
            matchers,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            until_resolved=until_resolved,
            now=now,
            firing=self.firing_labels(now),
        )
        self.dirty = True
        return silence

    def expire_silence(self, silence_id: str, now: float) -> Silence:
        silence = self.silences.expire(silence_id, now)
        self.dirty = True
        return silence

    def acknowledge(
        self,
        *,
        fingerprints: Sequence[str] = (),
        matchers: Sequence[str] = (),
        by: str,
        comment: str,
        until: float | None,
        now: float,
    ) -> list[Ack]:
        """Acknowledge the firing alerts named by fingerprint (a unique prefix will do) or
        matched by every one of ``matchers``."""
        if not by.strip():
            raise AckError("say who acknowledges (by)")
        if until is not None and until <= now:
            raise AckError("until must be in the future")
        parsed = [m for text in matchers for m in parse_matchers(text)]
        firing = [m.alert for m in self._alerts.values() if not at(m.alert, now).resolved]
        chosen: list[Alert] = []
        for prefix in fingerprints:
            hits = [a for a in firing if a.fingerprint.startswith(prefix)]
            if len(hits) != 1:
                what = "no firing alert" if not hits else f"{len(hits)} firing alerts"
                raise AckError(f"fingerprint {prefix!r} matches {what}")
            chosen += hits
        if parsed:
            chosen += [a for a in firing if all(m.matches(a.labels) for m in parsed)]
        if not chosen:
            raise AckError("no firing alert matches")
        out = []
        for a in {a.fingerprint: a for a in chosen}.values():
            ack = Ack(a.fingerprint, a.name, by, comment, now, until)
            self.acks.add(ack)
            out.append(ack)
        self.dirty = True
        return out

    # --- views and persistence ----------------------------------------------------------------
    def alerts(self, now: float) -> list[AlertView]:
        receivers: dict[str, list[str]] = {}
        for g in self._groups.values():
            for fp in g.members:
                receivers.setdefault(fp, [])
                for r in g.receivers:
                    if r not in receivers[fp]:
                        receivers[fp].append(r)
        current = [at(m.alert, now) for m in self._alerts.values()]
        ctx = _Tick(now, [a for a in current if not a.resolved])
        out = []
        for fp, member in self._alerts.items():
            alert = at(member.alert, now)
            out.append(
                AlertView(
                    alert=alert,
                    first_seen=self._first_seen.get(fp, member.updated_at),
                    last_seen=member.updated_at,
                    mute=self._mute(alert, ctx),
                    ack=self.acks.get(fp, now),
                    receivers=tuple(receivers.get(fp, ())),
                )
            )
        return sorted(out, key=lambda v: (v.alert.resolved, -v.alert.starts_at_ms, v.alert.labels))

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def snapshot(self) -> dict[str, Any]:
        """The state worth keeping across a restart (groups are rebuilt by the alerts the
        rule engine re-sends within a minute)."""
        self.dirty = False
        return {
            "version": 1,
            "silences": [s.to_dict() for s in self.silences.all()],
            "acks": [a.to_dict() for a in self.acks.all()],
            "log": [
                {"group": k[0], "receiver": k[1], "integration": k[2], **e.to_dict()} for k, e in self._log.items()
            ],
            "escalations": {
                **self._escalations,
                **{
                    g.key: {
                        "started": g.escalation_started,
                        "steps": g.escalation_steps,
                        "receivers": list(g.receivers),
                    }
                    for g in self._groups.values()
                    if g.escalation_started is not None
                },
            },
        }

    @classmethod
    def restore(cls, plan: Plan, data: dict[str, Any] | None) -> Router:
        if not data:
            return cls(plan)
        log = {(d["group"], d["receiver"], d["integration"]): LogEntry.from_dict(d) for d in data.get("log", [])}
        return cls(
            plan,
            silences=[Silence.from_dict(d) for d in data.get("silences", [])],
            acks=[Ack.from_dict(d) for d in data.get("acks", [])],
            log=log,
            escalations=data.get("escalations", {}),
        )


def _reason(
    entry: LogEntry | None, firing: frozenset[str], resolved: frozenset[str], now: float, repeat: float
) -> Reason:
    if entry is None:
        return Reason.FIRST
    if firing <= entry.firing and firing and resolved <= entry.resolved and now - entry.at >= repeat:
        return Reason.REPEAT
    return Reason.CHANGED
