"""Notifications, composed: the sink the rule engine hands alerts to, the dispatcher that
runs routing, and the delivery worker that empties the outbox.

::

    rule engine ──AlertSink.send(alerts)──▶ Router.receive (memory, at once)
                                                  │ every tick, or sooner when woken
    dispatcher: Router.tick(now) ──notifications──▶ store.outbox_add (fsync'ed) ──▶ state
                                                  │ wakes
    delivery:   outbox_claim (lease) ──▶ Notifier.send ──▶ done | retry (backoff) | dead
                       ▲ per-integration circuit breaker; at most max_in_flight at once

**At least once.** A notification exists in the outbox before any attempt to send it,
and is only marked done after its receiver accepted it; the router's log is saved after
the outbox write. A crash anywhere means a repeat, never a loss. A restarted delivery
worker (a new store on the same data directory) first makes every item the old one had
claimed due again. Each notification carries a stable id (a header for webhooks, the
``Message-Id`` of mail) so a receiver can recognise a repeat.

**Failures.** A transient error (refused, timeout, 5xx) reschedules the item with
exponential backoff and jitter and counts against the integration's circuit breaker; a
permanent one (4xx, a template that cannot render) dead-letters it at once. Dead
letters are recorded as ``notification_dead`` events. An unexpected exception in a send
is a bug: it stops the runtime (the item, already leased into the future with its
attempt counted, cannot crash-loop it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import Counter

from scalepilot import __version__
from scalepilot.adapters.notify import (
    Message,
    MessageAlert,
    Notifier,
    NotifierContext,
    NotifyError,
    ReceiverUnavailable,
    build_notifier,
)
from scalepilot.config.alertmanager import AlertingSettings
from scalepilot.control.alerting.routing import (
    Ack,
    AlertView,
    CircuitBreaker,
    Notification,
    Reason,
    Router,
    Silence,
    Verdict,
    after_failure,
    build_plan,
)
from scalepilot.control.alerting.routing.delivery import BreakerState
from scalepilot.domain.alerts import Alert
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.store import OutboxItem, OutboxState, Store, StoreError

log = logging.getLogger(__name__)

STATE_KEY = "alerting/router"
TICK_S = 1.0
"""The dispatcher runs at least this often: maintenance windows, silences and
escalations are checked at this resolution; group timers wake it exactly."""
PRUNE_EVERY_S = 60.0
DRAIN_S = 10.0

NOTIFICATION_DEAD = EventKind.NOTIFICATION_DEAD
CIRCUIT_OPENED = EventKind.NOTIFICATION_CIRCUIT_OPENED
CIRCUIT_CLOSED = EventKind.NOTIFICATION_CIRCUIT_CLOSED

Key = tuple[str, str]


class AlertSink(Protocol):
    """What the rule engine calls. Cheap and non-blocking: it only files alerts in
    memory and wakes the dispatcher."""

    def send(self, alerts: Sequence[Alert]) -> None:
        """Firing and resolved alerts, as Prometheus sends them to Alertmanager: firing
        ones re-sent while they fire (``ends_at`` a few minutes ahead), resolved ones
        with ``resolved`` set and ``ends_at`` the resolution time."""
        ...

    def set_pending(self, alerts: Sequence[Alert]) -> None:
        """The rule engine's current pending alerts (for ``scalepilot alerts`` only)."""
        ...


class NotificationsError(Exception):
    """The notification setup is unusable (a template that does not compile...)."""


def to_message(note: Notification, external_url: str) -> Message:
    return Message(
        id=note.id,
        receiver=note.receiver,
        integration=note.integration,
        group_key=note.group_key,
        group_labels=dict(note.group_labels),
        alerts=tuple(
            MessageAlert(
                status="resolved" if a.resolved else "firing",
                labels=dict(a.labels),
                annotations=dict(a.annotations),
                starts_at_ms=a.starts_at_ms,
                ends_at_ms=a.ends_at_ms,
                generator_url=a.generator_url,
                fingerprint=a.fingerprint,
            )
            for a in note.alerts
        ),
        external_url=external_url,
        created_ms=to_ms(note.created_at),
        reason=str(note.reason),
    )


@dataclass(slots=True)
class _Counters:
    sent: Counter
    failed: Counter
    dead: Counter


class Notifications:
    """Build with the alerting settings; :meth:`run` runs both loops until ``stop``."""

    def __init__(
        self,
        settings: AlertingSettings,
        *,
        store: Store,
        clock: Clock,
        base_dir: Path,
        external_url: str,
        registry: Any = None,
        rng: random.Random | None = None,
        notifiers: dict[Key, Notifier] | None = None,
    ) -> None:
        self.settings = settings
        self.delivery = settings.delivery
        self.store = store
        self.clock = clock
        self.external_url = external_url
        self.plan = build_plan(settings)
        self.router = Router.restore(self.plan, store.get_state(STATE_KEY))
        self._rng = rng or random.Random()
        ctx = NotifierContext(settings.global_, base_dir, f"scalepilot/{__version__}")
        if notifiers is None:
            notifiers = {}
            try:
                for r in settings.receivers:
                    for name, cfg in r.integrations():
                        notifiers[r.name, name] = build_notifier(name, cfg, ctx, r.name)
            except NotifyError as exc:
                raise NotificationsError(f"alerting.receivers: {exc}") from exc
        self.notifiers = notifiers
        timeouts = [getattr(cfg, "timeout", 10.0) for r in settings.receivers for _, cfg in r.integrations()]
        self.lease_ms = to_ms(max(timeouts, default=10.0) + 30.0)
        self.breakers = {key: CircuitBreaker(self.delivery.breaker) for key in self.notifiers}
        self.pending: list[Alert] = []
        self._unsaved: list[OutboxItem] = []
        self._wake_dispatch = asyncio.Event()
        self._wake_delivery = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._last_prune = 0.0
        self.delivered = 0
        self.failures = 0
        self._counters: _Counters | None = None
        if registry is not None:
            self._counters = _Counters(
                Counter(
                    "scalepilot_notifications_sent",
                    "Notifications delivered.",
                    ["receiver", "integration"],
                    registry=registry,
                ),
                Counter(
                    "scalepilot_notification_failures",
                    "Failed delivery attempts.",
                    ["receiver", "integration"],
                    registry=registry,
                ),
                Counter(
                    "scalepilot_notifications_dead",
                    "Notifications given up (dead letters).",
                    ["receiver", "integration"],
                    registry=registry,
                ),
            )

    # --- the sink -------------------------------------------------------------------------
    def send(self, alerts: Sequence[Alert]) -> None:
        if alerts:
            self.router.receive(alerts, self.clock.now())
            self._wake_dispatch.set()

    def set_pending(self, alerts: Sequence[Alert]) -> None:
        self.pending = list(alerts)

    # --- running --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Both loops; returns when ``stop`` is set and the in-flight sends drained."""
        await asyncio.gather(self.run_dispatcher(stop), self.run_delivery(stop))

    async def _sleep(self, seconds: float, wake: asyncio.Event, stop: asyncio.Event) -> None:
        if seconds <= 0 or wake.is_set() or stop.is_set():
            wake.clear()
            return
        waiters = {
            asyncio.ensure_future(wake.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.clock.sleep(seconds)),
        }
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        wake.clear()

    async def dispatch_once(self) -> int:
        """One router tick: notifications into the outbox, then the router's state saved.
        Returns how many notifications were queued."""
        now = self.clock.now()
        notes = self.router.tick(now)
        items = [
            OutboxItem(
                id=n.id,
                receiver=n.receiver,
                integration=n.integration,
                group_key=n.group_key,
                created_ms=to_ms(n.created_at),
                payload=to_message(n, self.external_url).to_dict(),
                next_ms=to_ms(n.created_at),
                supersedes=n.reason is Reason.FORWARD,
            )
            for n in notes
        ]
        batch = self._unsaved + items
        if batch:
            try:
                await asyncio.to_thread(self.store.outbox_add, batch)
            except StoreError as exc:
                if not exc.transient:
                    raise
                self._unsaved = batch
                log.warning("cannot queue %d notifications yet, will retry: %s", len(batch), exc)
                return 0
            self._unsaved = []
            self._wake_delivery.set()
        if self.router.dirty:
            await self.save_state()
        return len(batch)

    async def save_state(self) -> None:
        snapshot = self.router.snapshot()
        await asyncio.to_thread(self.store.put_state, STATE_KEY, snapshot)

    async def run_dispatcher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.dispatch_once()
            now = self.clock.now()
            due = self.router.next_flush()
            wait = TICK_S if due is None else min(TICK_S, max(0.0, due - now))
            await self._sleep(wait, self._wake_dispatch, stop)

    async def run_delivery(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self.store.outbox_requeue, to_ms(self.clock.now()))
        try:
            while not stop.is_set():
                started = await self.deliver_once()
                now = self.clock.now()
                if now - self._last_prune >= PRUNE_EVERY_S:
                    self._last_prune = now
                    await self._prune(now)
                if started:
                    continue
                await self._sleep(await self._idle_wait(now), self._wake_delivery, stop)
        finally:
            await self.drain()

    async def drain(self) -> None:
        """Let in-flight sends finish (they were claimed; finishing beats a repeat),
        within :data:`DRAIN_S`."""
        if self._inflight:
            _, late = await asyncio.wait(set(self._inflight), timeout=DRAIN_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _idle_wait(self, now: float) -> float:
        due_ms = await asyncio.to_thread(self.store.outbox_next_due)
        wait = TICK_S
        if due_ms is not None:
            wait = min(wait, max(0.0, due_ms / 1000 - now))
        # Items of an open circuit are due but not claimable: wait for its cool-down.
        if wait == 0.0:
            reopen = [b.reopen_at() for b in self.breakers.values() if b.state(now) is BreakerState.OPEN]
            wait = min([TICK_S, *(max(0.05, r - now) for r in reopen if r is not None)])
        return wait

    def _skip(self, now: float) -> tuple[list[Key], Key | None]:
        """Pairs not to claim for, and one half-open pair whose probe may go now."""
        skip: list[Key] = []
        probe: Key | None = None
        for key, breaker in self.breakers.items():
            state = breaker.state(now)
            if state is BreakerState.CLOSED:
                continue
            if state is BreakerState.HALF_OPEN and probe is None and breaker.allow(now):
                probe = key
            else:
                skip.append(key)
        return skip, probe

    async def deliver_once(self) -> int:
        """Claim what is due (within the in-flight bound) and start sending it."""
        free = self.delivery.max_in_flight - len(self._inflight)
        if free <= 0:
            return 0
        now = self.clock.now()
        now_ms = to_ms(now)
        skip, probe = self._skip(now)
        if probe is not None:
            skip.append(probe)
        claimed = await asyncio.to_thread(self.store.outbox_claim, now_ms, free, self.lease_ms, skip)
        if probe is not None and len(claimed) < free:
            others = [k for k in self.breakers if k != probe]
            claimed += await asyncio.to_thread(self.store.outbox_claim, now_ms, 1, self.lease_ms, others)
            if not any((i.receiver, i.integration) == probe for i in claimed):
                self.breakers[probe].release()
        for item in claimed:
            task = asyncio.create_task(self._deliver(item), name=f"notify {item.receiver}/{item.integration}")
            self._inflight.add(task)
            task.add_done_callback(self._sent)
        return len(claimed)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake_delivery.set()

    async def _deliver(self, item: OutboxItem) -> None:
        key = (item.receiver, item.integration)
        notifier = self.notifiers.get(key)
        breaker = self.breakers.get(key)
        if notifier is None or breaker is None:
            # Its receiver left the config: nobody can deliver it any more.
            await self._dead(item, f"{item.receiver}/{item.integration} is no longer configured")
            return
        message = Message.from_dict(item.payload)
        try:
            await notifier.send(message)
        except NotifyError as exc:
            await self._failed(item, breaker, exc)
            return
        except asyncio.CancelledError:
            breaker.release()
            raise
        now = self.clock.now()
        was_open = breaker.opened_at is not None
        breaker.success()
        self.delivered += 1
        if self._counters:
            self._counters.sent.labels(*key).inc()
        await asyncio.to_thread(self.store.outbox_finish, item.id, OutboxState.DONE, to_ms(now))
        if was_open:
            await self._event(CIRCUIT_CLOSED, f"{item.receiver}/{item.integration} accepts notifications again", item)

    async def _failed(self, item: OutboxItem, breaker: CircuitBreaker, exc: NotifyError) -> None:
        now = self.clock.now()
        self.failures += 1
        if self._counters:
            self._counters.failed.labels(item.receiver, item.integration).inc()
        if isinstance(exc, ReceiverUnavailable):
            if breaker.failure(now):
                await self._event(
                    CIRCUIT_OPENED,
                    f"{item.receiver}/{item.integration} failed {breaker.failures} times in a row; "
                    f"pausing sends for {self.delivery.breaker.cooldown:g}s: {exc}",
                    item,
                    failures=breaker.failures,
                    cooldown_s=self.delivery.breaker.cooldown,
                    error=str(exc),
                )
        else:
            breaker.release()
        outcome = after_failure(
            self.delivery,
            attempts=item.attempts,
            created_at=item.created_ms / 1000,
            now=now,
            transient=exc.transient,
            draw=self._rng.random(),
        )
        log.warning("notification %s to %s/%s failed: %s", item.id, item.receiver, item.integration, exc)
        if outcome.verdict is Verdict.DEAD:
            await self._dead(item, f"{exc} ({outcome.reason})")
        else:
            assert outcome.next_at is not None
            await asyncio.to_thread(self.store.outbox_retry, item.id, to_ms(outcome.next_at), str(exc), to_ms(now))

    async def _dead(self, item: OutboxItem, error: str) -> None:
        now_ms = to_ms(self.clock.now())
        if self._counters:
            self._counters.dead.labels(item.receiver, item.integration).inc()
        await asyncio.to_thread(self.store.outbox_finish, item.id, OutboxState.DEAD, now_ms, error)
        await self._event(
            NOTIFICATION_DEAD,
            f"gave up notifying {item.receiver}/{item.integration} after {item.attempts} attempts: {error}",
            item,
            error=error,
        )

    async def _event(self, kind: str, message: str, item: OutboxItem, **extra: Any) -> None:
        details = {
            "receiver": item.receiver,
            "integration": item.integration,
            "notification": item.id,
            "group": item.group_key,
            "attempts": item.attempts,
            **extra,
        }
        await asyncio.to_thread(self.store.add_event, Event(to_ms(self.clock.now()), kind, message, details=details))

    async def _prune(self, now: float) -> None:
        d = self.delivery
        await asyncio.to_thread(self.store.outbox_prune, to_ms(now - d.keep_delivered), to_ms(now - d.keep_dead))

    async def aclose(self) -> None:
        for notifier in self.notifiers.values():
            with contextlib.suppress(Exception):
                await notifier.aclose()

    # --- operations for the API and CLI ---------------------------------------------------------
    def alerts(self) -> list[AlertView]:
        return self.router.alerts(self.clock.now())

    async def add_silence(
        self,
        matchers: Sequence[str],
        *,
        starts_at: float | None,
        ends_at: float | None,
        created_by: str,
        comment: str,
        until_resolved: bool,
    ) -> Silence:
        now = self.clock.now()
        silence = self.router.add_silence(
            matchers,
            starts_at=now if starts_at is None else starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            until_resolved=until_resolved,
            now=now,
        )
        await self.save_state()
        return silence

    async def expire_silence(self, silence_id: str) -> Silence:
        silence = self.router.expire_silence(silence_id, self.clock.now())
        await self.save_state()
        return silence

    async def acknowledge(
        self,
        *,
        fingerprints: Sequence[str],
        matchers: Sequence[str],
        by: str,
        comment: str,
        until: float | None,
    ) -> list[Ack]:
        acks = self.router.acknowledge(
            fingerprints=fingerprints, matchers=matchers, by=by, comment=comment, until=until, now=self.clock.now()
        )
        await self.save_state()
        self._wake_dispatch.set()
        return acks

    def status(self) -> dict[str, Any]:
        """For ``/status``: counts and circuit states, never a URL or a secret."""
        now = self.clock.now()
        return {
            "alerts": len(self.router.alerts(now)),
            "groups": len(self.router.groups()),
            "silences_active": len(self.router.silences.active(now)),
            "delivered": self.delivered,
            "failed_attempts": self.failures,
            "in_flight": len(self._inflight),
            "outbox": self.store.outbox_counts(),
            "receivers": [
                {
                    "receiver": r,
                    "integration": i,
                    "circuit": str(b.state(now)),
                    "consecutive_failures": b.failures,
                }
                for (r, i), b in self.breakers.items()
            ],
        }
