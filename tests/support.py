"""Helpers shared by tests: free loopback ports, real binaries that may be missing."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.labels import make_labels

T = TypeVar("T")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("SCALEPILOT_REQUIRE_EXTERNAL") == "1":
            pytest.fail(f"{name} is required here (SCALEPILOT_REQUIRE_EXTERNAL=1) but not installed")
        pytest.skip(f"{name} is not installed")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll until ``predicate`` returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@dataclass
class Proc:
    popen: subprocess.Popen[str]
    lines: queue.Queue[str]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line starting {prefix!r} within {timeout}s from pid {self.pid}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            return self.popen.wait(5)


def start(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Proc:
    """Start a process whose stdout+stderr lines are collected in a queue."""
    popen = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            lines.put(line.rstrip("\n"))
        popen.stdout.close()

    threading.Thread(target=pump, daemon=True).start()
    return Proc(popen, lines)


EXPORTER = Path(__file__).parent / "integration" / "exporter.py"


def start_exporter(mode: str) -> tuple[Proc, int]:
    port = free_port()
    proc = start([sys.executable, str(EXPORTER), mode, "--port", str(port)])
    proc.wait_line("listening", timeout=10)
    return proc, port


def instant_query(base: str, expr: str) -> list[dict[str, Any]]:
    """The result vector of ``expr`` from a running scalepilot's Prometheus API."""
    body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def backfill_scaled_service(data: Path, now_s: int, *, hours: int = 6, step_s: int = 15) -> None:
    """A data directory with ``hours`` of the service ``api``'s recorded life, ending a
    minute before ``now_s``, one sample every ``step_s``: 20 req/s on 2 ready replicas
    for the first half, then 40 req/s on 4 (desired 4 too); half a core per replica in
    the process CPU counter; and the scale-up between the halves as a ``scaled`` event.
    The scaling report's tests (CLI, API, dashboard) read it back."""
    switch_s = now_s - hours * 3600 // 2
    store = SQLiteStore.open(data, StorageSettings())
    try:
        times = np.arange(now_s - hours * 3600, now_s - 59, step_s, dtype=np.int64)
        late = times >= switch_s
        rps = np.where(late, 40.0, 20.0)
        replicas = np.where(late, 4.0, 2.0)
        columns = [np.cumsum(rps * step_s), replicas, replicas, np.cumsum(replicas * 0.5 * step_s)]
        ids = store.series_ids(
            [
                make_labels("scalepilot_lb_requests_total", {"service": "api", "code": "200"}),
                make_labels("scalepilot_service_replicas", {"service": "api", "state": "ready"}),
                make_labels("scalepilot_service_replicas", {"service": "api", "state": "desired"}),
                make_labels("scalepilot_process_cpu_seconds_total", {"service": "api", "replica": "0", "pid": "9"}),
            ]
        )
        for lo in range(0, times.size, 2000):
            ts = (times[lo : lo + 2000] * 1000).tolist()
            n = len(ts)
            store.append(
                [i for i in ids for _ in range(n)],
                ts * len(ids),
                np.concatenate([c[lo : lo + n] for c in columns]).tolist(),
            )
        details = {"from": 2, "to": 4, "reason": "cpu above target"}
        store.add_event(Event(switch_s * 1000, EventKind.SCALED, "scaled api 2 → 4", "api", details))
    finally:
        store.close()
