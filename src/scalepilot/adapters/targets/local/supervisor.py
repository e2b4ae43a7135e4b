"""One replica's life: start, wait for ready, watch, restart with backoff, drain, stop.

Each replica has one :class:`ReplicaRunner` task, a small level-triggered loop: while the
replica is wanted, make sure a process runs; when it is no longer wanted, take it out of
the routing set, let its requests finish and stop it. The :class:`~.target.LocalTarget`
decides *how many* replicas are wanted; the runner owns everything about *one*, so a
crash of one replica never waits on another's drain. A runner keeps the template it was
created with (its :class:`ReplicaContext`) for its whole life: a restart after a crash
runs the same revision, even after its group moved on to another one.

::

    STARTING ──probe passes──▶ READY ──failure_threshold fails──▶ STARTING
       │  ▲                      │
       │  └──backoff elapsed── BACKOFF ◀──process exited (any code)──┘
       │                         (crash-loop event at N crashes within the window)
       └──removal─▶ (READY or requests in flight:) DRAINING ──in_flight 0 or grace──▶
                    STOPPING ──SIGTERM to the group; SIGKILL after stop_timeout──▶ gone

Any exit nobody asked for is a crash, exit code 0 included: a replica is meant to run.
A process that cannot even be started (missing executable) is treated the same way,
since the fix (installing it) happens outside scalepilot and the backoff keeps the
retries cheap.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scalepilot.adapters.targets.backoff import Backoff, CrashLoop
from scalepilot.adapters.targets.local import ports
from scalepilot.adapters.targets.local.leftovers import OWNER_ENV, REPLICA_ENV, ReplicaRecord
from scalepilot.adapters.targets.local.logs import ReplicaLog
from scalepilot.adapters.targets.process import ChildProcess, describe_exit
from scalepilot.adapters.targets.waiting import first_of
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import EventKind
from scalepilot.domain.targets import Replica, ReplicaState

DRAIN_POLL_S = 0.1
"""How often a draining replica's in-flight count is read: a tenth of a second adds at
most that to a scale-down, and reading a counter is free."""

# Removal order: what serves nobody goes first, then what serves least (newest).
_REMOVAL_RANK = {ReplicaState.BACKOFF: 0, ReplicaState.STARTING: 1, ReplicaState.READY: 2}


def render(text: str, *, port: int, index: int) -> str:
    """Replace the placeholders; any other text in braces stays as it is."""
    return text.replace("{port}", str(port)).replace("{replica}", str(index))


class Emit(Protocol):
    def __call__(self, kind: EventKind, message: str, /, **details: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class ReplicaContext:
    """What every runner of one template shares, given by the target: the template
    (``settings``, its resolved ``cwd`` and ``revision``) and the service's callbacks."""

    service: str
    settings: LocalTargetSettings
    revision: str
    """:func:`~scalepilot.config.targets.template_revision` of ``settings``."""
    clock: Clock
    cwd: Path
    log_dir: Path
    owner: str
    death_signal: signal.Signals | None
    probe_ready: Callable[[Replica], Awaitable[bool]]
    in_flight: Callable[[str], int]
    emit: Emit
    changed: Callable[[], None]
    """A replica's state, pid or port changed: persist and tell the balancer."""
    removed: Callable[[ReplicaRunner], None]
    """The runner is done; the target forgets it."""
    ports_in_use: Callable[[], set[int]]


class ReplicaRunner:
    def __init__(self, ctx: ReplicaContext, index: int, seq: int, group: str = "stable") -> None:
        self.ctx = ctx
        self.group = group
        """Which group the replica counts in; the target changes it when the group is
        promoted (the process is not restarted for that)."""
        self.index = index
        self.seq = seq
        """Creation order across the target's life: the newest is removed first."""
        self.id = f"{ctx.service}-{index}"
        self.state = ReplicaState.STARTING
        self.port: int | None = None
        self.child: ChildProcess | None = None
        self.started_ms: int | None = None
        self.ready_ms: int | None = None
        self.restarts = 0
        self.last_exit = ""
        self.removing = False
        self.removal_reason = ""
        self.first_attempt = asyncio.Event()
        """Set once the first start was attempted (spawned or failed): ``scale()`` returns
        after that, so a caller sees the new pids."""
        self._remove = asyncio.Event()
        self._attempts = 0
        self._delay = 0.0
        self._stop_details: dict[str, Any] = {}
        """How the last stop went (drain, signal, exit), for the stopped event."""
        s = ctx.settings
        self._backoff = Backoff(s.restart_backoff)
        self._crash_loop = CrashLoop(s.crash_loop)
        self._log = ReplicaLog(ctx.log_dir / f"{self.id}.log", s.log_max_size)

    # --- views -------------------------------------------------------------------------
    def snapshot(self) -> Replica:
        return Replica(
            id=self.id,
            index=self.index,
            host=ports.LOOPBACK,
            port=self.port,
            pid=self.child.pid if self.child is not None else None,
            state=self.state,
            group=self.group,
            revision=self.ctx.revision,
            started_ms=self.started_ms,
            ready_ms=self.ready_ms,
            restarts=self.restarts,
            last_exit=self.last_exit,
        )

    def record(self) -> ReplicaRecord | None:
        if self.child is None:
            return None
        return ReplicaRecord(self.id, self.index, self.child.pid, self.child.create_time, self.port)

    def removal_order(self) -> tuple[int, int]:
        return (_REMOVAL_RANK.get(self.state, 0), -self.seq)

    @property
    def log_path(self) -> Path:
        return self._log.path

    def request_removal(self, reason: str) -> None:
        if not self.removing:
            self.removing = True
            self.removal_reason = reason
            self._remove.set()

    # --- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while not self.removing:
                child = await self._start()
                self.first_attempt.set()
                if child is not None:
                    if not await self._watch(child):
                        await self._retire(child)
                        break
                    await self._exited(child)
                if not await self._wait_backoff():
                    break
        except BaseException as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)
            self.removal_reason = self.removal_reason or ("cancelled" if cancelled else f"error: {exc!r}")
            raise
        finally:
            self.first_attempt.set()
            details: dict[str, Any] = {"replica": self.id, "reason": self.removal_reason or "cancelled"}
            if self.child is not None:  # cancelled, or a bug: leave nothing running
                details |= {"pid": self.child.pid, "signal": "SIGKILL"}
                await self.child.close()
                self.child = None
            self._log.close()
            self.ctx.removed(self)
            self.ctx.emit(
                EventKind.REPLICA_STOPPED,
                f"replica {self.id} stopped ({details['reason']})",
                **(details | self._stop_details),
            )

    async def _start(self) -> ChildProcess | None:
        ctx, s = self.ctx, self.ctx.settings
        if self._attempts:
            self.restarts += 1
        self._attempts += 1
        try:
            port = self._pick_port()
            argv = [render(a, port=port, index=self.index) for a in s.command]
            env = {
                **os.environ,
                "PORT": str(port),
                **{k: render(v, port=port, index=self.index) for k, v in s.env.items()},
                "SCALEPILOT_SERVICE": ctx.service,
                REPLICA_ENV: self.id,
                OWNER_ENV: ctx.owner,
            }
            self._log.begin(f"starting {self.id} on port {port}: {shlex.join(argv)}")
            child = await ChildProcess.spawn(
                argv, env=env, cwd=ctx.cwd, on_output=self._log.write, death_signal=ctx.death_signal
            )
        except OSError as exc:
            reason = f"cannot start: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            self._log.write(1, f"--- scalepilot: {reason}\n".encode())
            self._failed(reason, pid=None, exit_code=None, uptime_s=0.0, kind=EventKind.REPLICA_START_FAILED)
            return None
        self.child = child
        self.state = ReplicaState.STARTING
        self.started_ms = to_ms(ctx.clock.now())
        self.ready_ms = None
        ctx.changed()
        ctx.emit(
            EventKind.REPLICA_STARTED,
            f"replica {self.id} started (pid {child.pid}, port {self.port})",
            replica=self.id,
            pid=child.pid,
            port=self.port,
            restarts=self.restarts,
            group=self.group,
            revision=ctx.revision,
        )
        return child

    def _pick_port(self) -> int:
        """Keep the replica's port across restarts while it is free (a stable
        ``instance`` label and balancer entry); otherwise take a new one."""
        taken = self.ctx.ports_in_use() - ({self.port} if self.port is not None else set())
        if self.port is None or self.port in taken or not ports.is_free(self.port):
            self.port = ports.allocate(taken)
        return self.port

    async def _watch(self, child: ChildProcess) -> bool:
        """Probe until ready, then keep probing; True when the process exits by itself,
        False when removal was asked for."""
        ctx, readiness = self.ctx, self.ctx.settings.readiness
        failures = 0
        while True:
            if (ended := self._ended(child)) is not None:
                return ended
            ok = await self._probe()
            if (ended := self._ended(child)) is not None:
                return ended
            if ok:
                failures = 0
                if self.state is not ReplicaState.READY:
                    self.state = ReplicaState.READY
                    self.ready_ms = to_ms(ctx.clock.now())
                    startup = (self.ready_ms - (self.started_ms or self.ready_ms)) / 1000
                    # The event first, then the balancer: the log never shows a replica
                    # routed before the event that says it became ready (persisting the
                    # change writes to disk, which takes milliseconds on a busy host).
                    ctx.emit(
                        EventKind.REPLICA_READY,
                        f"replica {self.id} is ready after {startup:.1f}s",
                        replica=self.id,
                        pid=child.pid,
                        port=self.port,
                        startup_s=startup,
                    )
                    ctx.changed()
            else:
                failures += 1
                if self.state is ReplicaState.READY and failures >= readiness.failure_threshold:
                    self.state = ReplicaState.STARTING
                    ctx.changed()
                    ctx.emit(
                        EventKind.REPLICA_NOT_READY,
                        f"replica {self.id} failed {failures} readiness checks in a row; no longer routed",
                        replica=self.id,
                        pid=child.pid,
                        failures=failures,
                    )
            await first_of(child.wait(), self._remove.wait(), clock=ctx.clock, seconds=readiness.interval)

    def _ended(self, child: ChildProcess) -> bool | None:
        """True if the process exited by itself, False if removal was asked for, None
        to carry on (an exit wins: its crash must be accounted for)."""
        if child.returncode is not None:
            return True
        if self.removing:
            return False
        return None

    async def _probe(self) -> bool:
        try:
            async with asyncio.timeout(self.ctx.settings.readiness.timeout):
                return await self.ctx.probe_ready(self.snapshot())
        except TimeoutError:
            return False

    async def _exited(self, child: ChildProcess) -> None:
        code = await child.wait()
        await child.close()  # the rest of its group, and the last of its output
        self.child = None
        uptime = self.ctx.clock.now() - (self.started_ms or 0) / 1000
        self._failed(describe_exit(code), pid=child.pid, exit_code=code, uptime_s=uptime)

    def _failed(
        self,
        reason: str,
        *,
        pid: int | None,
        exit_code: int | None,
        uptime_s: float,
        kind: EventKind = EventKind.REPLICA_EXITED,
    ) -> None:
        """Account for a crash (or a failed start): backoff, crash loop, events."""
        ctx, s = self.ctx, self.ctx.settings
        now = ctx.clock.now()
        self.last_exit = reason
        if uptime_s >= s.crash_loop.within:
            self._backoff.reset()  # it ran fine for a whole window: not part of a loop
        self._delay = self._backoff.next_delay()
        starts_loop = self._crash_loop.crash(now)
        lines = self._log.last_lines()
        details: dict[str, Any] = {
            "replica": self.id,
            "reason": reason,
            "restarts": self.restarts,
            "restart_in_s": self._delay,
            "last_lines": lines,
        }
        if pid is not None:
            details |= {"pid": pid, "port": self.port, "exit_code": exit_code, "uptime_s": round(uptime_s, 3)}
        verb = "exited" if kind is EventKind.REPLICA_EXITED else "could not start"
        ctx.emit(kind, f"replica {self.id} {verb}: {reason}; restarting in {self._delay:g}s", **details)
        if starts_loop:
            crashes = self._crash_loop.recent(now)
            ctx.emit(
                EventKind.REPLICA_CRASH_LOOP,
                f"replica {self.id} is crash-looping: {crashes} crashes within "
                f"{s.crash_loop.within:g}s, last: {reason}",
                replica=self.id,
                crashes=crashes,
                within_s=s.crash_loop.within,
                reason=reason,
                restart_in_s=self._delay,
                last_lines=lines,
            )
        ctx.changed()

    async def _wait_backoff(self) -> bool:
        """BACKOFF until the delay passes; False if removal was asked for meanwhile."""
        if self.removing:
            return False
        self.state = ReplicaState.BACKOFF
        self.ctx.changed()
        await first_of(self._remove.wait(), clock=self.ctx.clock, seconds=self._delay)
        return not self.removing

    async def _retire(self, child: ChildProcess) -> None:
        """Drain, then SIGTERM the group, then SIGKILL it after ``stop_timeout``."""
        ctx, s = self.ctx, self.ctx.settings
        clock = ctx.clock
        began = clock.now()
        left = ctx.in_flight(self.id)
        drained = False
        if self.state is ReplicaState.READY or left > 0:
            drained = True
            self.state = ReplicaState.DRAINING
            ctx.changed()  # the balancer stops routing here before we wait
            deadline = began + s.grace_period
            while child.returncode is None and (left := ctx.in_flight(self.id)) > 0:
                remaining = deadline - clock.now()
                if remaining <= 0:
                    break
                await first_of(child.wait(), clock=clock, seconds=min(DRAIN_POLL_S, remaining))
        drain_s = clock.now() - began
        self.state = ReplicaState.STOPPING
        ctx.changed()
        signalled = "none"
        if child.returncode is None:
            signalled = "SIGTERM"
            child.signal_group(signal.SIGTERM)
            await first_of(child.wait(), clock=clock, seconds=s.stop_timeout)
            if child.returncode is None:
                signalled = "SIGKILL"
                child.signal_group(signal.SIGKILL)
        await child.close()
        self.child = None
        code = child.returncode
        self.last_exit = describe_exit(code) if code is not None else "did not exit after SIGKILL"
        self._stop_details = {
            "pid": child.pid,
            "port": self.port,
            "drained": drained,
            "drain_s": round(drain_s, 3),
            "in_flight_left": left if drained else 0,
            "signal": signalled,
            "exit": self.last_exit,
        }
