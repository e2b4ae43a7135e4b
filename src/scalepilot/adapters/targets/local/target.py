"""The local target: a service's replicas as child processes of scalepilot.

What it needs from the rest of scalepilot is injected, so this adapter imports no other
adapter and tests can drive it with plain functions:

- ``probe_ready(replica) -> bool`` — the readiness check (the service builds it from
  ``target.readiness`` with its probes adapter). It must return False on failure, not
  raise: an exception is a bug and surfaces from :meth:`LocalTarget.status`.
- ``in_flight(replica_id) -> int`` — requests the balancer has open to a replica, read
  while it drains.
- ``on_change(status)`` — called whenever a replica's state, pid or port changes, so the
  balancer routes to exactly the READY replicas.
- ``emit(event)`` — the events listed in :mod:`..events`.
- ``store`` — only ``get_state``/``put_state``: which processes run, so the next start
  can clean up what a crash of scalepilot left (see :mod:`.leftovers`).

Scaling is level-triggered: :meth:`LocalTarget.scale` records the desired count and
reconciles at once — too few replicas: start new ones in the lowest free slots; too
many: remove the ones serving least (in backoff, then starting, then the newest ready).
Reconciling never awaits, so two scale calls cannot interleave, and each replica's
runner (:mod:`.supervisor`) carries out its own start or removal concurrently: a slow
drain holds up nothing else.

**Groups** let two revisions run side by side (canary and blue-green rollouts). Every
replica belongs to a group, ``stable`` unless a rollout says otherwise. Each group has
a template (a :class:`LocalTargetSettings`; ``stable``'s is :attr:`LocalTarget.settings`)
and a desired count, and is reconciled as above on its own; slots (``index``,
``{replica}``) stay unique over all groups, a new replica taking the lowest free one.
:meth:`~LocalTarget.scale_group` runs another group beside ``stable`` (a changed
template replaces that group's replicas: the new ones are started, the old ones
removed), :meth:`~LocalTarget.promote` makes a group the stable one (its replicas join
``stable`` without a restart, the old stable ones are removed). A replica keeps the
template it was started from for its whole life, restarts included, and reports its
``group`` and ``revision`` (:func:`~scalepilot.config.targets.template_revision`).
:meth:`~LocalTarget.scale` and the counts of :meth:`~LocalTarget.status` are about
``stable`` only, since the autoscaler must not count a canary; the replica list holds
every group, so the balancer routes to all of them by group weight.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any, Protocol

from scalepilot.adapters.targets.errors import InvalidReplicas, TargetClosed
from scalepilot.adapters.targets.events import make_event
from scalepilot.adapters.targets.local import leftovers
from scalepilot.adapters.targets.local.leftovers import ReplicaRecord
from scalepilot.adapters.targets.local.supervisor import ReplicaContext, ReplicaRunner
from scalepilot.config.targets import LocalTargetSettings, template_revision
from scalepilot.domain.clock import Clock
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.store import StoreError
from scalepilot.domain.targets import Replica, ReplicaState, TargetError, TargetStatus

log = logging.getLogger(__name__)

STATE_VERSION = 1
STABLE = "stable"
_ROUTED = (ReplicaState.READY,)


class StateStore(Protocol):
    """The part of :class:`~scalepilot.domain.store.Store` the target uses."""

    def put_state(self, key: str, value: dict[str, Any]) -> None: ...

    def get_state(self, key: str) -> dict[str, Any] | None: ...


def state_key(service: str) -> str:
    return f"target/local/{service}"


class LocalTarget:
    """Runs ``settings.command`` as N replicas, and other groups' templates beside them.
    Implements :class:`~scalepilot.domain.targets.ScaleTarget`."""

    kind = "local"

    def __init__(
        self,
        service: str,
        settings: LocalTargetSettings,
        *,
        store: StateStore,
        clock: Clock,
        emit: Callable[[Event], None],
        probe_ready: Callable[[Replica], Awaitable[bool]],
        in_flight: Callable[[str], int],
        on_change: Callable[[TargetStatus], None],
        log_dir: Path,
        base_dir: Path = Path(),
        death_signal: signal.Signals | None = signal.SIGKILL,
    ) -> None:
        """``log_dir`` receives ``<replica id>.log`` per replica (e.g.
        ``<data_dir>/logs/<service>``); ``base_dir`` is what a relative ``cwd`` is
        relative to (the config file's directory). ``death_signal`` is what replicas get
        when scalepilot dies: SIGKILL, since the balancer that fed them died too and
        there is nothing to drain; None disables it (tests of the start-up cleanup)."""
        self.service = service
        self.settings = settings
        self._store = store
        self._clock = clock
        self._emit = emit
        self._probe_ready = probe_ready
        self._in_flight = in_flight
        self._on_change = on_change
        self._log_dir = log_dir
        self._base_dir = base_dir
        self._death_signal = death_signal
        self._runners: dict[str, ReplicaRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._desired: dict[str, int] = {STABLE: 0}
        """Per group, stable first; a group other than stable exists while it wants
        replicas."""
        self._templates: dict[str, ReplicaContext] = {}
        """Per group (the same keys as ``_desired`` once started): what its new replicas
        are made from."""
        self._seq = 0
        self._owner = ""
        self._state = "new"  # new → running → stopped
        self._bug: BaseException | None = None
        self._persisted: dict[str, Any] | None = None

    # --- ScaleTarget -----------------------------------------------------------------
    async def start(self) -> None:
        """Stop what an earlier run left behind, then start ``settings.replicas``."""
        if self._state != "new":
            raise TargetError(f"the local target of {self.service} was already started")
        doc = self._store.get_state(state_key(self.service)) or {}
        owner = doc.get("owner")
        self._owner = owner if isinstance(owner, str) and owner else secrets.token_hex(8)
        raw = doc.get("replicas")
        records = [r for r in map(ReplicaRecord.from_json, raw if isinstance(raw, list) else []) if r]
        await self._clean_up(records)
        self._templates[STABLE] = self._context(self.settings)
        self._state = "running"
        self._persist()
        await self.scale(self.settings.replicas)

    async def status(self) -> TargetStatus:
        self._raise_bug()
        return self.snapshot()

    async def scale(self, replicas: int) -> None:
        """Ask for ``replicas`` in the stable group; returns once new replicas' processes
        were started (or failed to start) and removals have begun."""
        self._check_running()
        if replicas < 0:
            raise InvalidReplicas(replicas)
        self._desired[STABLE] = replicas
        await self._started(self._reconcile())

    async def stop(self) -> None:
        """Drain and stop every replica of every group, all at once; bounded by
        ``grace_period`` + ``stop_timeout`` (and a few seconds of kill and pipe draining).
        Idempotent."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        self._desired = {STABLE: 0}
        self._templates = {STABLE: self._templates[STABLE]}
        runners = list(self._runners.values())
        for runner in runners:
            runner.request_removal("shutdown")
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._persist()

    # --- groups ----------------------------------------------------------------------
    async def scale_group(self, group: str, replicas: int, settings: LocalTargetSettings | None = None) -> None:
        """Run ``replicas`` replicas of ``settings`` in ``group`` (any name but "stable"), besides the
        stable ones; ``settings`` is required the first time and when it changes (a group whose
        template changes has its old replicas replaced). 0 removes the group's replicas (drained, as a
        scale-down). Returns as ``scale()`` does: once new processes were started, removals begun.

        Replaced means the new replicas are started and the old ones removed at once, not
        one by one. Settings that differ only in what :func:`template_revision` leaves out
        (counts, timings) replace nothing: the group's new replicas use them. A group at 0
        is forgotten, template included: :meth:`groups` no longer lists it, and raising it
        again needs ``settings``. Raises :class:`ValueError` for the name "stable" (that is
        :meth:`scale`) and for a new group without ``settings``."""
        self._check_running()
        if replicas < 0:
            raise InvalidReplicas(replicas)
        if not group or group == STABLE:
            raise ValueError(f"scale_group needs a group other than {STABLE!r} (use scale() for it), got {group!r}")
        if replicas == 0:
            self._desired.pop(group, None)
            self._templates.pop(group, None)
        else:
            current = self._templates.get(group)
            if settings is not None and (current is None or current.settings != settings):
                self._templates[group] = self._context(settings)
            elif current is None:
                raise ValueError(f"group {group!r} of {self.service} is new: its settings are required")
            self._desired[group] = replicas
        await self._started(self._reconcile())

    async def promote(self, group: str) -> None:
        """Make ``group`` the stable one: its template becomes ``self.settings`` (what the stable
        count, restarts and future scale-ups use), its replicas join "stable" without a restart,
        and the old stable replicas are removed (drained as a scale-down). If fewer than the stable
        desired count are then live, the missing ones are started from the new template first.

        "First": the missing replicas are started before the old ones are asked to go (in
        the same step; nothing waits for the new ones to become ready). If the group has
        more replicas than the stable count, the extra ones are removed as a scale-down
        would. Returns as :meth:`scale` does. Raises :class:`ValueError` for a group that
        does not exist (never scaled up, scaled to 0, or "stable")."""
        self._check_running()
        if group == STABLE or group not in self._desired:
            raise ValueError(f"{self.service} has no group {group!r} to promote")
        old = [r for r in self._runners.values() if r.group == STABLE and not r.removing]
        for runner in self._runners.values():
            if runner.group == group:
                runner.group = STABLE
        del self._desired[group]
        ctx = self._templates.pop(group)
        self._templates[STABLE] = ctx
        self.settings = ctx.settings
        started = self._reconcile(replace=old)
        if not started:
            self._changed()  # the promoted replicas' group changed: the balancer must know
        await self._started(started)

    def groups(self) -> dict[str, int]:
        """Desired replicas per group, "stable" included."""
        return dict(self._desired)

    # --- views -----------------------------------------------------------------------
    @property
    def desired(self) -> int:
        """Of the stable group."""
        return self._desired[STABLE]

    def replicas(self) -> tuple[Replica, ...]:
        """Every replica of every group, those being removed included, by slot."""
        return tuple(r.snapshot() for r in sorted(self._runners.values(), key=lambda r: r.index))

    def snapshot(self) -> TargetStatus:
        """:meth:`status` without awaiting: what ``on_change`` receives. The counts are of
        the stable group (what the autoscaler scales), the replicas of every group."""
        live = [r for r in self._runners.values() if not r.removing and r.group == STABLE]
        return TargetStatus(
            desired=self._desired[STABLE],
            current=len(live),
            ready=sum(1 for r in live if r.state in _ROUTED),
            replicas=self.replicas(),
        )

    def log_path(self, replica_id: str) -> Path:
        """Where a replica's output goes (``.1`` beside it after a rotation)."""
        return self._log_dir / f"{replica_id}.log"

    # --- reconcile -------------------------------------------------------------------
    def _reconcile(self, replace: Collection[ReplicaRunner] = ()) -> list[ReplicaRunner]:
        """Compare desired with actual, per group, and act; synchronous, so it is never
        interleaved. A replica of another revision than its group's template, or one in
        ``replace``, does not count: it is removed once its successor was started."""
        used = {r.index for r in self._runners.values()}
        started: list[ReplicaRunner] = []
        replaced: list[ReplicaRunner] = []
        surplus: list[ReplicaRunner] = []
        for group, desired in self._desired.items():
            ctx = self._templates[group]
            live: list[ReplicaRunner] = []
            for runner in self._runners.values():
                if runner.group != group or runner.removing:
                    continue
                if runner in replace or runner.ctx.revision != ctx.revision:
                    replaced.append(runner)
                else:
                    live.append(runner)
            started += [self._start(group, ctx, used) for _ in range(desired - len(live))]
            surplus += sorted(live, key=ReplicaRunner.removal_order)[: max(len(live) - desired, 0)]
        # A group scaled to 0 is gone from _desired: all of its replicas are surplus.
        surplus += [r for r in self._runners.values() if r.group not in self._desired and not r.removing]
        for runner in replaced:
            runner.request_removal("replaced")
        for runner in surplus:
            runner.request_removal("scale-down")
        if started:
            # After the removals were asked for, so the counts reported do not include
            # the replicas that are on their way out.
            self._changed()
        return started

    def _start(self, group: str, ctx: ReplicaContext, used: set[int]) -> ReplicaRunner:
        """A runner in the lowest slot not in ``used`` (which it then joins)."""
        index = next(i for i in itertools.count() if i not in used)
        used.add(index)
        self._seq += 1
        runner = ReplicaRunner(ctx, index, self._seq, group)
        self._runners[runner.id] = runner
        task = asyncio.create_task(runner.run(), name=f"replica {runner.id}")
        task.add_done_callback(self._runner_done)
        self._tasks[runner.id] = task
        return runner

    async def _started(self, started: list[ReplicaRunner]) -> None:
        """Wait until each new runner tried its first start, so the caller sees the pids."""
        if started:
            await asyncio.gather(*(r.first_attempt.wait() for r in started))
        self._raise_bug()

    def _context(self, settings: LocalTargetSettings) -> ReplicaContext:
        """What the runners of one template share."""
        cwd = settings.cwd if settings.cwd.is_absolute() else self._base_dir / settings.cwd
        return ReplicaContext(
            service=self.service,
            settings=settings,
            revision=template_revision(settings),
            clock=self._clock,
            cwd=cwd,
            log_dir=self._log_dir,
            owner=self._owner,
            death_signal=self._death_signal,
            probe_ready=self._probe_ready,
            in_flight=self._in_flight,
            emit=self._emit_kind,
            changed=self._changed,
            removed=self._removed,
            ports_in_use=self._ports_in_use,
        )

    def _check_running(self) -> None:
        self._raise_bug()
        if self._state != "running":
            raise TargetClosed(f"the local target of {self.service} is not running")

    def _runner_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None and self._bug is None:
            self._bug = exc

    def _raise_bug(self) -> None:
        """A runner died of an exception: that is a bug (a probe that raised, a bad
        callback), and it must surface rather than leave a replica silently missing."""
        if self._bug is not None:
            raise self._bug

    # --- callbacks of the runners -------------------------------------------------------
    def _emit_kind(self, kind: EventKind, message: str, /, **details: Any) -> None:
        self._emit(make_event(self._clock, self.service, kind, message, **details))

    def _changed(self) -> None:
        self._persist()
        self._on_change(self.snapshot())

    def _removed(self, runner: ReplicaRunner) -> None:
        if self._runners.get(runner.id) is runner:
            del self._runners[runner.id]
            self._tasks.pop(runner.id, None)
        self._changed()

    def _ports_in_use(self) -> set[int]:
        return {r.port for r in self._runners.values() if r.port is not None}

    # --- durable record and start-up cleanup ----------------------------------------------
    def _persist(self) -> None:
        """Record the running processes. A store error is logged and the write retried at
        the next change (each write is the whole list): the replicas matter more than
        the record, and a missed record is still caught by the owner-id scan."""
        doc = {
            "version": STATE_VERSION,
            "owner": self._owner,
            "replicas": [rec.to_json() for r in self._runners.values() if (rec := r.record()) is not None],
        }
        if doc == self._persisted:
            return  # a state change that moved no process: nothing new to record
        try:
            self._store.put_state(state_key(self.service), doc)
            self._persisted = doc
        except StoreError as exc:
            log.warning("cannot record the replicas of %s (will retry at the next change): %s", self.service, exc)

    async def _clean_up(self, records: list[ReplicaRecord]) -> None:
        stop_timeout = self.settings.stop_timeout

        def work() -> list[leftovers.Leftover]:
            return leftovers.stop(leftovers.find(self._owner, records), stop_timeout)

        for left in await asyncio.to_thread(work):
            self._emit_kind(
                EventKind.REPLICA_ORPHAN_STOPPED,
                f"stopped pid {left.pid} ({left.replica or 'unknown replica'}) left by an earlier run: {left.outcome}",
                replica=left.replica,
                pid=left.pid,
                found_by=left.found_by,
                outcome=left.outcome,
                cmdline=left.cmdline,
            )
