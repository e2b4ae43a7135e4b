"""A child process in its own process group, watched from asyncio, that leaves nothing behind.

Used for local replicas and for the command target's commands. Three rules:

- **Its own session and process group** (``start_new_session=True``): signals go to the
  whole group (``killpg``), so a replica that is a shell script, a ``gunicorn`` master
  with workers or a ``kubectl`` with helpers is stopped entirely, and the terminal's
  Ctrl-C reaches scalepilot alone, which then stops its replicas in order.
- **Parent-death signal** (Linux): the child asks the kernel, between ``fork`` and
  ``exec``, to be sent a signal when scalepilot dies, so even ``kill -9`` of scalepilot
  leaves no replica running with nobody to supervise it. It covers the direct child only
  (its own children are found later by :mod:`.local.leftovers`). The kernel sends it when
  the *thread* that forked the child exits; the event loop's thread forks here, and it
  lives as long as scalepilot. If scalepilot already died before the call (a race of
  microseconds), the child notices its new parent and kills itself.
- **Closed explicitly**: :meth:`ChildProcess.close` kills what is left of the group,
  waits (briefly) for the output pipes to drain, and closes the transport, so no pipe,
  transport or zombie outlives the child.

The asyncio subprocess transport is used with our own protocol rather than
``create_subprocess_exec``: its ``close()`` gives a way to drop the pipes even when a
grandchild that escaped the group keeps them open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

PR_SET_PDEATHSIG = 1
EOF_TIMEOUT_S = 1.0
"""After the leader exits and its group is killed, how long its output may still drain.
Bounded because a grandchild that left the group may hold the pipe forever."""
KILL_WAIT_S = 5.0
"""How long :meth:`ChildProcess.close` waits for the exit after SIGKILL. SIGKILL is not
ignorable, but a process in uninterruptible I/O takes a moment."""

OutputSink = Callable[[int, bytes], None]
"""Receives ``(fd, data)``: fd 1 is stdout, 2 stderr (or both, when merged)."""


def describe_exit(returncode: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL``: what a person reads in an event."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"killed by {name}"


@functools.cache
def _prctl() -> Any | None:
    """libc's ``prctl``, resolved once in the parent, so the child calls a ready function
    pointer between fork and exec and allocates nothing there. None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.prctl
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    fn.restype = ctypes.c_int
    return fn


def parent_death_preexec(sig: signal.Signals | None) -> Callable[[], None] | None:
    """The ``preexec_fn`` that arms the parent-death signal, or None where unsupported
    (then leftovers are still cleaned up by the next start)."""
    if sig is None:
        return None
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()
    signum = int(sig)

    def arm() -> None:
        if prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            return  # not permitted here: run without it rather than not at all
        if os.getppid() != parent:  # scalepilot died before we armed it
            os.kill(os.getpid(), signum)

    return arm


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, fds: set[int], on_output: OutputSink) -> None:
        self.exited: asyncio.Future[None] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()
        self._open = set(fds)
        self._on_output = on_output

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._on_output(fd, data.encode() if isinstance(data, str) else data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open.discard(fd)
        if not self._open and not self.drained.done():
            self.drained.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class ChildProcess:
    """One running program. Create with :meth:`spawn`; always :meth:`close`."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _Protocol, argv: tuple[str, ...]) -> None:
        self._transport = transport
        self._protocol = protocol
        self.argv = argv
        self.pid: int = transport.get_pid()
        self.create_time: float | None = None
        """psutil's create time: with the pid, identifies this process even after the pid
        is reused. None if it exited before it could be read."""
        with contextlib.suppress(psutil.Error):
            self.create_time = psutil.Process(self.pid).create_time()
        self._closed = False

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        on_output: OutputSink,
        merge_stderr: bool = True,
        death_signal: signal.Signals | None = signal.SIGKILL,
    ) -> ChildProcess:
        """Start ``argv`` (no shell). Raises ``OSError`` if it cannot start (missing
        executable or cwd, permission denied)."""
        loop = asyncio.get_running_loop()
        fds = {1} if merge_stderr else {1, 2}
        protocol = _Protocol(loop, fds, on_output)
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            env=dict(env),
            cwd=str(cwd),
            start_new_session=True,
            preexec_fn=parent_death_preexec(death_signal),
        )
        return cls(transport, protocol, tuple(argv))

    @property
    def returncode(self) -> int | None:
        """None while running; negative ``-N`` when killed by signal N."""
        if not self._protocol.exited.done():
            return None
        return self._transport.get_returncode()

    async def wait(self) -> int:
        """The exit status once the process has exited. Cancelling the wait does not
        affect the process."""
        await asyncio.shield(self._protocol.exited)
        code = self._transport.get_returncode()
        assert code is not None  # process_exited came first
        return code

    def signal_group(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the child's whole process group; False if nothing is left.

        The group id is the leader's pid (its own session). After the leader has exited
        the group may live on in its children; Linux does not hand out a pid while it
        is still some group's id, so signalling it cannot reach a stranger's group.
        """
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            # The group id was reused by someone else's process (its members all gone).
            return False
        return True

    async def close(self, *, kill_group: bool = True) -> None:
        """Make sure nothing of this child remains: SIGKILL the group (the leader too,
        if it is still running), reap the leader, let the output drain briefly, close
        the pipes. Idempotent.

        ``kill_group=False`` after a normal exit leaves what the program started in the
        background running (a command's own business); a leader still running is
        killed regardless."""
        if self._closed:
            return
        self._closed = True
        try:
            if kill_group:
                self.signal_group(signal.SIGKILL)
            elif self.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(KILL_WAIT_S):
                    await self.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(EOF_TIMEOUT_S):
                    await asyncio.shield(self._protocol.drained)
        finally:
            self._transport.close()
