"""Replicas an earlier run of scalepilot left behind: find them and stop them.

Normally there are none: replicas die with scalepilot (parent-death signal, see
:mod:`..process`). What can survive is what that signal does not reach — a replica's own
children, replicas started where the signal is unsupported, or with it disabled — and
those would hold ports and memory and answer nobody. So ``start()`` cleans up before it
starts anything.

**Cleanup, not adoption.** A process we did not start is not our child: we could not
read its exit status, its output pipe went with the old scalepilot, and its
parent-death signal cannot be re-armed. Supervising it "robustly" would mean polling
and guessing, so it is stopped (SIGTERM to its group, SIGKILL after ``stop_timeout``)
and the desired count is started afresh.

**Never a stranger.** A pid alone is never trusted; pids are reused. A process is ours if

- its pid *and* psutil create time match a replica recorded in the store (then its
  whole process group is signalled: while the leader lives, the group id is its own), or
- its environment carries this target's owner id (``SCALEPILOT_OWNER``), a random token
  kept in the store and given to every replica, and inherited by their children. This
  also finds a replica started just before a crash, before its record was written.

A descendant that scrubbed its environment *and* left its group is not found; nothing
short of a cgroup can find it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

OWNER_ENV = "SCALEPILOT_OWNER"
REPLICA_ENV = "SCALEPILOT_REPLICA"
_CREATE_TIME_TOLERANCE_S = 0.01
_POLL_S = 0.05
KILL_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class ReplicaRecord:
    """What the store keeps of a running replica: enough to recognise it later."""

    id: str
    index: int
    pid: int
    create_time: float | None
    port: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": self.index,
            "pid": self.pid,
            "create_time": self.create_time,
            "port": self.port,
        }

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> ReplicaRecord | None:
        """None for a malformed entry (a hand-edited or older document): skipping it
        is safe, the owner-id scan still finds its process."""
        try:
            pid = doc["pid"]
            create_time = doc.get("create_time")
            port = doc.get("port")
            if not isinstance(pid, int) or pid <= 0:
                return None
            return ReplicaRecord(
                id=str(doc["id"]),
                index=int(doc["index"]),
                pid=pid,
                create_time=float(create_time) if isinstance(create_time, int | float) else None,
                port=port if isinstance(port, int) else None,
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Leftover:
    pid: int
    replica: str
    """The recorded replica id, or the process's ``SCALEPILOT_REPLICA``, or ``""``."""
    found_by: str
    """``record`` (pid + create time) or ``environment`` (owner id)."""
    cmdline: str
    outcome: str = ""
    """``terminated`` (SIGTERM sufficed), ``killed`` (needed SIGKILL), ``gone`` (ended on
    its own meanwhile) or ``survived: <why>``."""


def find(owner: str, records: Sequence[ReplicaRecord]) -> list[tuple[psutil.Process, Leftover]]:
    """Live processes that are provably ours (see the module docstring). Blocking: it
    reads every process's environment; run it in a thread."""
    by_pid = {r.pid: r for r in records}
    me = os.getpid()
    found: list[tuple[psutil.Process, Leftover]] = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue  # already dead; only its parent's reaping is left
                rec = by_pid.get(proc.pid)
                if (
                    rec is not None
                    and rec.create_time is not None
                    and abs(proc.create_time() - rec.create_time) < _CREATE_TIME_TOLERANCE_S
                ):
                    found.append((proc, Leftover(proc.pid, rec.id, "record", _cmdline(proc))))
                    continue
                env = proc.environ()
                if env.get(OWNER_ENV) == owner:
                    replica = env.get(REPLICA_ENV, "")
                    found.append((proc, Leftover(proc.pid, replica, "environment", _cmdline(proc))))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # gone, or not ours to read (another user's: not ours either)
    return found


def stop(found: Sequence[tuple[psutil.Process, Leftover]], stop_timeout: float) -> list[Leftover]:
    """SIGTERM each leftover's group (or the process alone if it is not its group's
    leader), SIGKILL what is left after ``stop_timeout``. Blocking; run in a thread."""
    procs = [p for p, _ in found]
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    alive = _wait_gone(procs, stop_timeout)
    for proc in alive:
        _signal(proc, signal.SIGKILL)
    survivors = {p.pid: p for p in _wait_gone(alive, KILL_WAIT_S)}
    killed = {p.pid for p in alive}
    out = []
    for proc, info in found:
        if proc.pid in survivors:
            outcome = "survived: still running after SIGKILL"
        elif proc.pid in killed:
            outcome = "killed"
        else:
            outcome = "terminated"
        out.append(
            Leftover(info.pid, info.replica, info.found_by, info.cmdline, outcome),
        )
    return out


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:300]
    except psutil.Error:
        return ""


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    """Signal the group if ``proc`` leads it (a replica runs in its own session), else the
    process alone. ``send_signal`` re-checks the create time, so a pid reused since
    :func:`find` is left alone."""
    with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
        if proc.is_running() and os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)


def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def _wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process is gone or a zombie (they are not our children, so we
    cannot reap them; their new parent does), up to ``timeout``. Returns the living."""
    alive = list(procs)
    deadline = time.monotonic() + timeout
    while alive:
        alive = [p for p in alive if not _gone(p)]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_S)
    return alive
