"""The command target: scale anything through a user's command.

``scale(n)`` runs ``settings.scale`` with ``{replicas}`` replaced by ``n``; exit code 0
means done. ``status()`` runs ``settings.status`` (if given) and reads ``CURRENT`` or
``CURRENT READY`` from its stdout; without it, the current count is the last one applied
(kept in the store, so it survives a restart of scalepilot).

Applying is owned by one worker task per target: ``scale(n)`` only records the request
and wakes the worker, which runs the command until a run has covered the latest request.
So there is never more than one command running for a service, a burst of ``scale``
calls costs at most one extra run (the latest value wins), and a failure does not block
the caller. Every request is carried out, even for the count applied last: the caller
compares desired with the *actual* count (from the status command) and may be
correcting a drift (someone ran ``kubectl scale`` by hand); scale commands are
idempotent, so a repeat is harmless.

- a *transient* failure (non-zero exit, timeout) is recorded as an event and retried after
  an exponential backoff, which a new ``scale`` call does not cut short (a struggling
  platform is not hammered); the retry uses the desired count of that moment;
- a *permanent* one (the executable does not exist) is recorded and not retried: for
  ``retry_backoff.max`` afterwards, ``scale`` with that same count raises it, so the
  control loop reports it instead of the target hammering. A different count, or the
  same one after that pause (someone may have fixed it), tries again.

Commands run without a shell, in their own process group (killed whole on timeout), with
their output captured up to :data:`OUTPUT_LIMIT` bytes per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from scalepilot.adapters.targets.backoff import Backoff
from scalepilot.adapters.targets.errors import (
    CommandError,
    CommandFailed,
    CommandNotRunnable,
    CommandTimeout,
    InvalidReplicas,
    ReplicasUnknown,
    StatusOutputError,
    TargetClosed,
    excerpt,
)
from scalepilot.adapters.targets.events import make_event
from scalepilot.adapters.targets.process import ChildProcess
from scalepilot.config.targets import CommandTargetSettings
from scalepilot.domain.clock import Clock
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.store import StoreError
from scalepilot.domain.targets import TargetError, TargetStatus

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 64 * 1024
"""Bytes kept per stream of a command: the count is a few digits, an error a few lines."""
STATE_VERSION = 1


class StateStore(Protocol):
    def put_state(self, key: str, value: dict[str, Any]) -> None: ...

    def get_state(self, key: str) -> dict[str, Any] | None: ...


def state_key(service: str) -> str:
    return f"target/command/{service}"


def parse_status(argv: Sequence[str], stdout: str) -> tuple[int, int]:
    """``(current, ready)`` from a status command's output: ``N`` or ``N M``. Empty output
    is 0 (kubectl's jsonpath prints nothing for a zero ``readyReplicas``); with one
    number, ready = current."""
    words = stdout.split()
    if not words:
        return 0, 0
    if len(words) > 2:
        raise StatusOutputError(tuple(argv), stdout, "expected `CURRENT` or `CURRENT READY`")
    try:
        numbers = [int(w) for w in words]
    except ValueError:
        raise StatusOutputError(tuple(argv), stdout, "not a whole number") from None
    if any(n < 0 for n in numbers):
        raise StatusOutputError(tuple(argv), stdout, "negative count")
    current = numbers[0]
    ready = numbers[1] if len(numbers) == 2 else current
    return current, ready


class _Capture:
    def __init__(self) -> None:
        self.data: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}

    def __call__(self, fd: int, chunk: bytes) -> None:
        buf = self.data.setdefault(fd, bytearray())
        room = OUTPUT_LIMIT - len(buf)
        if room > 0:
            buf += chunk[:room]

    def text(self, fd: int) -> str:
        return self.data.get(fd, bytearray()).decode("utf-8", "replace")


async def run_command(argv: Sequence[str], *, env: dict[str, str], cwd: Path, limit_s: float) -> tuple[str, str]:
    """Run ``argv`` to completion; ``(stdout, stderr)`` on exit code 0, else a
    :class:`CommandError`. ``limit_s`` is wall-clock seconds: it bounds a real process."""
    capture = _Capture()
    args = tuple(argv)
    try:
        child = await ChildProcess.spawn(
            args, env=env, cwd=cwd, on_output=capture, merge_stderr=False, death_signal=signal.SIGKILL
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise CommandNotRunnable(f"cannot run {args[0]}: {exc.strerror or exc}{where}", args) from exc
    except OSError as exc:
        raise CommandFailed(args, -1, f"cannot start: {exc}") from exc
    finished = False
    try:
        async with asyncio.timeout(limit_s):
            code = await child.wait()
        finished = True
    except TimeoutError:
        raise CommandTimeout(args, limit_s, capture.text(2)) from None
    finally:
        # After a normal exit, what the command started in the background is the user's
        # (a script may start workers); on a timeout or cancellation the group is killed.
        await child.close(kill_group=not finished)
    if code != 0:
        raise CommandFailed(args, code, capture.text(2) or capture.text(1))
    return capture.text(1), capture.text(2)


class CommandTarget:
    """Implements :class:`~scalepilot.domain.targets.ScaleTarget` with user commands."""

    kind = "command"

    def __init__(
        self,
        service: str,
        settings: CommandTargetSettings,
        *,
        clock: Clock,
        emit: Callable[[Event], None],
        store: StateStore | None = None,
        base_dir: Path = Path(),
    ) -> None:
        """``store`` keeps the last applied count across restarts (needed only without a
        status command); ``base_dir`` is what a relative ``cwd`` is relative to."""
        self.service = service
        self.settings = settings
        self._clock = clock
        self._emit = emit
        self._store = store
        self._cwd = settings.cwd if settings.cwd.is_absolute() else base_dir / settings.cwd
        self._env = {**os.environ, **settings.env, "SCALEPILOT_SERVICE": service}
        self._desired: int | None = None
        self._applied: int | None = None
        self._requests = 0
        """``scale`` calls so far; the worker runs until a run covered the latest."""
        self._served = 0
        self._failed_for: tuple[int, CommandError, float] | None = None
        """The count whose last attempt failed permanently, why, and until when (clock
        seconds) asking for it again raises instead of running the command."""
        self._delay = 0.0
        self._backoff = Backoff(settings.retry_backoff)
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._running_command = False
        self._stopping = False
        self.last_error: CommandError | None = None
        """The latest failure (None after a success), for the API and dashboard."""

    # --- ScaleTarget -----------------------------------------------------------------
    async def start(self) -> None:
        """Read the last applied count; apply ``settings.replicas`` if set."""
        if self._worker is not None:
            raise TargetError(f"the command target of {self.service} was already started")
        if self._store is not None:
            doc = self._store.get_state(state_key(self.service)) or {}
            applied = doc.get("applied")
            if isinstance(applied, int) and applied >= 0:
                self._applied = applied
        self._worker = asyncio.create_task(self._work(), name=f"command target {self.service}")
        if self.settings.replicas is not None:
            await self.scale(self.settings.replicas)

    async def scale(self, replicas: int) -> None:
        """Ask for ``replicas``; the worker runs the command. Raises the permanent error
        of the last attempt if it was for this same count."""
        if self._worker is None or self._stopping:
            raise TargetClosed(f"the command target of {self.service} is not running")
        if self._worker.done():
            self._worker.result()  # a bug in the worker: surface it
        if replicas < 0:
            raise InvalidReplicas(replicas)
        if self._failed_for is not None:
            count, error, until = self._failed_for
            if count == replicas and self._clock.now() < until:
                raise error
            self._failed_for = None
        self._desired = replicas
        self._requests += 1
        self._wake.set()

    async def status(self) -> TargetStatus:
        if self.settings.status is not None:
            stdout, _ = await run_command(
                self.settings.status, env=self._env, cwd=self._cwd, limit_s=self.settings.timeout
            )
            current, ready = parse_status(self.settings.status, stdout)
        elif self._applied is not None:
            current = ready = self._applied
        else:
            raise ReplicasUnknown(
                f"the replicas of {self.service} are unknown: no status command, and no scale command has succeeded yet"
            )
        desired = self._desired if self._desired is not None else current
        return TargetStatus(desired=desired, current=current, ready=ready)

    async def stop(self) -> None:
        """Stop retrying. A command already running finishes (it is bounded by
        ``timeout``): killing someone's deploy script halfway is worse than waiting."""
        worker, self._worker = self._worker, None
        self._stopping = True
        if worker is None:
            return
        self._wake.set()
        if not self._running_command:
            worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    @property
    def applied(self) -> int | None:
        """The last count a scale command succeeded with."""
        return self._applied

    # --- the worker ------------------------------------------------------------------
    async def _work(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            desired, request = self._desired, self._requests
            if self._stopping or desired is None or self._served >= request:
                continue
            self._running_command = True
            try:
                ok, transient = await self._apply(desired)
            finally:
                self._running_command = False
            if ok or not transient:
                self._served = request
            if not ok and transient and not self._stopping:
                await self._clock.sleep(self._delay)
                self._wake.set()  # retry, with whatever is desired by then
            elif self._requests > self._served:
                self._wake.set()  # asked again while the command ran

    async def _apply(self, replicas: int) -> tuple[bool, bool]:
        """One attempt; returns ``(succeeded, retry)``."""
        argv = [a.replace("{replicas}", str(replicas)) for a in self.settings.scale]
        started = self._clock.now()
        attempt = self._backoff.failures + 1
        try:
            stdout, _ = await run_command(argv, env=self._env, cwd=self._cwd, limit_s=self.settings.timeout)
        except CommandError as exc:
            self.last_error = exc
            details: dict[str, Any] = {
                "replicas": replicas,
                "attempt": attempt,
                "error": str(exc),
                "transient": exc.transient,
                "command": argv,
            }
            if isinstance(exc, CommandFailed):
                details |= {"exit_code": exc.exit_code, "stderr": exc.stderr}
            elif isinstance(exc, CommandTimeout):
                details |= {"timeout_s": exc.timeout_s, "stderr": exc.stderr}
            if exc.transient:
                self._delay = self._backoff.next_delay()
                details["retry_in_s"] = self._delay
                tail = f"; retrying in {self._delay:g}s"
            else:
                self._failed_for = (replicas, exc, self._clock.now() + self.settings.retry_backoff.max)
                self._backoff.reset()
                tail = "; not retried (permanent)"
            self._emit(
                make_event(
                    self._clock,
                    self.service,
                    EventKind.SCALE_COMMAND_FAILED,
                    f"scaling {self.service} to {replicas} failed: {exc}{tail}",
                    **details,
                )
            )
            return False, exc.transient
        previous = self._applied
        self._applied = replicas
        self._failed_for = None
        self.last_error = None
        self._backoff.reset()
        self._persist()
        self._emit(
            make_event(
                self._clock,
                self.service,
                EventKind.SCALE_COMMAND_SUCCEEDED,
                f"scaled {self.service} to {replicas} (attempt {attempt})",
                replicas=replicas,
                previous=previous,
                attempt=attempt,
                duration_s=round(self._clock.now() - started, 3),
                stdout=excerpt(stdout, 200),
            )
        )
        return True, False

    def _persist(self) -> None:
        if self._store is None:
            return
        try:
            self._store.put_state(state_key(self.service), {"version": STATE_VERSION, "applied": self._applied})
        except StoreError as exc:
            log.warning("cannot record the applied replicas of %s: %s", self.service, exc)
