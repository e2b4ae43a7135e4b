"""Shared pieces of the target tests: an in-memory state store, a TCP readiness probe,
an event and state recorder, polling with a deadline (never a blind sleep), and a
minimal HTTP GET to ask a replica something."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from scalepilot.adapters.targets import LocalTarget
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.clock import SystemClock
from scalepilot.domain.events import Event
from scalepilot.domain.targets import Replica, ReplicaState, TargetStatus

T = TypeVar("T")
CHILD = Path(__file__).with_name("target_child.py")
HOST = Path(__file__).with_name("target_host.py")
PYTHON = sys.executable


class MemoryStore:
    """The state part of the store, in a dict."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def put_state(self, key: str, value: dict[str, Any]) -> None:
        self.docs[key] = value

    def get_state(self, key: str) -> dict[str, Any] | None:
        return self.docs.get(key)


async def tcp_ready(replica: Replica) -> bool:
    """Ready when the replica accepts a connection on its port."""
    assert replica.port is not None
    try:
        _, writer = await asyncio.open_connection(replica.host, replica.port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


class Recorder:
    """Collects events and every status ``on_change`` reports, with wall-clock times."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changes: list[tuple[float, TargetStatus]] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def on_change(self, status: TargetStatus) -> None:
        self.changes.append((time.time(), status))

    def kinds(self, kind: str, replica: str | None = None) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (replica is None or e.details.get("replica") == replica)]

    def states(self, replica_id: str) -> list[ReplicaState]:
        """The distinct successive states one replica went through."""
        out: list[ReplicaState] = []
        for _, status in self.changes:
            for r in status.replicas:
                if r.id == replica_id and (not out or out[-1] is not r.state):
                    out.append(r.state)
        return out


async def eventually(predicate: Callable[[], T | None], *, within: float, what: str, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    pytest.fail(f"timed out after {within}s waiting for {what} (last: {last!r})")


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for a parent that is not us."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def child_command(*extra: str) -> list[str]:
    return [PYTHON, str(CHILD), "--port", "{port}", *extra]


async def http_get(port: int, path: str) -> tuple[int, str]:
    """A minimal HTTP/1.0 GET on loopback (no client library, nothing left open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


class Harness:
    """Makes local targets of the service ``shop`` on real child processes, with the
    helpers above as their store, probe and recorder; the fixture stops them all."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.rec = Recorder()
        self.store = MemoryStore()
        self.in_flight: dict[str, int] = {}
        self.targets: list[LocalTarget] = []

    def target(self, s: LocalTargetSettings, probe: Callable[[Replica], Awaitable[bool]] = tcp_ready) -> LocalTarget:
        t = LocalTarget(
            "shop",
            s,
            store=self.store,
            clock=SystemClock(),
            emit=self.rec.emit,
            probe_ready=probe,
            in_flight=lambda rid: self.in_flight.get(rid, 0),
            on_change=self.rec.on_change,
            log_dir=self.tmp_path / "logs",
            base_dir=self.tmp_path,
        )
        self.targets.append(t)
        return t

    async def stop(self) -> None:
        for t in self.targets:
            await t.stop()
