"""Helpers for the ``test_notify_*`` integration tests (and a sanity test of them): a
real loopback HTTP receiver that records what it is sent and answers what it is told,
and the notification service on a real store with the real clock."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.alertmanager import AlertingSettings
from scalepilot.config.models import StorageSettings
from scalepilot.domain.alerts import Alert
from scalepilot.domain.clock import SystemClock
from scalepilot.domain.labels import make_labels
from scalepilot.service.notifications import Notifications
from tests.support import free_port

T = TypeVar("T")

FAST_DELIVERY = """
delivery:
  retry: {initial: 50ms, max: 200ms, jitter: 0.2}
  breaker: {failures: 3, cooldown: 300ms}
  max_attempts: 50
"""


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs. ``answer`` decides the status of
    each request (default 200); ``stop``/``start`` take it down and up on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Request] = []
        self.attempts = 0
        self.answer: Callable[[int], int] = lambda n: 200
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with owner._lock:
                    owner.attempts += 1
                    status = owner.answer(owner.attempts)
                    if status < 300:
                        owner.requests.append(Request(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[Request]:
        with self._lock:
            return list(self.requests)


# A polling deadline, named like tests.support.wait_for's.
async def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str) -> T:  # noqa: ASYNC109
    """Poll (without blocking the loop) until ``predicate`` is truthy; fail on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def settings(text: str) -> AlertingSettings:
    return AlertingSettings.model_validate(yaml.safe_load(text))


def open_store(data_dir: Path) -> SQLiteStore:
    return SQLiteStore.open(data_dir, StorageSettings())


def service(text: str, store: SQLiteStore, base_dir: Path) -> Notifications:
    return Notifications(
        settings(text), store=store, clock=SystemClock(), base_dir=base_dir, external_url="http://sp:8420"
    )


class Running:
    """The service's loops in a task; ``async with`` stops and drains them."""

    def __init__(self, svc: Notifications) -> None:
        self.svc = svc
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Notifications:
        self.task = asyncio.create_task(self.svc.run(self.stop))
        return self.svc

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 15)
        await self.svc.aclose()


def firing(name: str = "HighLatency", *, starts: float | None = None, **labels: str) -> Alert:
    now = time.time() if starts is None else starts
    return Alert(
        make_labels(None, {"alertname": name, **labels}),
        (("summary", f"{name} on {labels.get('service', '?')}"),),
        int(now * 1000),
        int((now + 240) * 1000),
        generator_url="http://sp:8420/graph",
    )


def resolved(a: Alert) -> Alert:
    return Alert(a.labels, a.annotations, a.starts_at_ms, int(time.time() * 1000), True, a.generator_url)


def test_receiver_records_posts_and_answers_as_told() -> None:
    r = Receiver().start()
    try:
        r.answer = lambda n: 500 if n == 1 else 200
        assert httpx.post(r.url, content=b"x").status_code == 500
        assert httpx.post(r.url, content=b'{"a": 1}').status_code == 200
        assert [q.json() for q in r.received()] == [{"a": 1}]
    finally:
        r.stop()
