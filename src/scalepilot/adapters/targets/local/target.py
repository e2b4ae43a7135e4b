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
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from scalepilot.adapters.targets.errors import InvalidReplicas, TargetClosed
from scalepilot.adapters.targets.events import make_event
from scalepilot.adapters.targets.local import leftovers
from scalepilot.adapters.targets.local.leftovers import ReplicaRecord
from scalepilot.adapters.targets.local.supervisor import ReplicaContext, ReplicaRunner
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.clock import Clock
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.store import StoreError
from scalepilot.domain.targets import Replica, ReplicaState, TargetError, TargetStatus

log = logging.getLogger(__name__)

STATE_VERSION = 1
_ROUTED = (ReplicaState.READY,)


class StateStore(Protocol):
    """The part of :class:`~scalepilot.domain.store.Store` the target uses."""

    def put_state(self, key: str, value: dict[str, Any]) -> None: ...

    def get_state(self, key: str) -> dict[str, Any] | None: ...


def state_key(service: str) -> str:
    return f"target/local/{service}"


class LocalTarget:
    """Runs ``settings.command`` as N replicas. Implements
    :class:`~scalepilot.domain.targets.ScaleTarget`."""

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
        self._cwd = settings.cwd if settings.cwd.is_absolute() else base_dir / settings.cwd
        self._death_signal = death_signal
        self._runners: dict[str, ReplicaRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._desired = 0
        self._seq = 0
        self._owner = ""
        self._ctx: ReplicaContext | None = None
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
        self._ctx = ReplicaContext(
            service=self.service,
            settings=self.settings,
            clock=self._clock,
            cwd=self._cwd,
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
        self._state = "running"
        self._persist()
        await self.scale(self.settings.replicas)

    async def status(self) -> TargetStatus:
        self._raise_bug()
        return self.snapshot()

    async def scale(self, replicas: int) -> None:
        """Ask for ``replicas``; returns once new replicas' processes were started (or
        failed to start) and removals have begun."""
        self._raise_bug()
        if self._state != "running":
            raise TargetClosed(f"the local target of {self.service} is not running")
        if replicas < 0:
            raise InvalidReplicas(replicas)
        self._desired = replicas
        started = self._reconcile()
        if started:
            await asyncio.gather(*(r.first_attempt.wait() for r in started))
        self._raise_bug()

    async def stop(self) -> None:
        """Drain and stop every replica, all at once; bounded by ``grace_period`` +
        ``stop_timeout`` (and a few seconds of kill and pipe draining). Idempotent."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        self._desired = 0
        runners = list(self._runners.values())
        for runner in runners:
            runner.request_removal("shutdown")
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._persist()

    # --- views -----------------------------------------------------------------------
    @property
    def desired(self) -> int:
        return self._desired

    def replicas(self) -> tuple[Replica, ...]:
        """Every replica, those being removed included, by slot."""
        return tuple(r.snapshot() for r in sorted(self._runners.values(), key=lambda r: r.index))

    def snapshot(self) -> TargetStatus:
        """:meth:`status` without awaiting: what ``on_change`` receives."""
        live = [r for r in self._runners.values() if not r.removing]
        return TargetStatus(
            desired=self._desired,
            current=len(live),
            ready=sum(1 for r in live if r.state in _ROUTED),
            replicas=self.replicas(),
        )

    def log_path(self, replica_id: str) -> Path:
        """Where a replica's output goes (``.1`` beside it after a rotation)."""
        return self._log_dir / f"{replica_id}.log"

    # --- reconcile -------------------------------------------------------------------
    def _reconcile(self) -> list[ReplicaRunner]:
        """Compare desired with actual and act; synchronous, so it is never interleaved."""
        assert self._ctx is not None
        live = [r for r in self._runners.values() if not r.removing]
        started: list[ReplicaRunner] = []
        if len(live) < self._desired:
            used = {r.index for r in self._runners.values()}
            index = 0
            for _ in range(self._desired - len(live)):
                while index in used:
                    index += 1
                used.add(index)
                self._seq += 1
                runner = ReplicaRunner(self._ctx, index, self._seq)
                self._runners[runner.id] = runner
                task = asyncio.create_task(runner.run(), name=f"replica {runner.id}")
                task.add_done_callback(self._runner_done)
                self._tasks[runner.id] = task
                started.append(runner)
            self._changed()
        elif len(live) > self._desired:
            for runner in sorted(live, key=ReplicaRunner.removal_order)[: len(live) - self._desired]:
                runner.request_removal("scale-down")
        return started

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
