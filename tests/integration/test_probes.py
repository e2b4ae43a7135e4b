"""HTTP and TCP probes against real loopback servers.

Covers: success on an accepted status; failure on an unexpected status, a body that does
not match the regex, a refused connection, and a server that does not answer within the
timeout — each with a reason a person can act on; TCP success and refusal.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scalepilot.adapters.probes import HTTPProber, probe_tcp
from tests.support import free_port


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow":
            threading.Event().wait(2)
        status = 503 if self.path == "/down" else 200
        body = b"status: degraded\n" if self.path == "/degraded" else b"status: ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_http_probe_outcomes(server: str) -> None:
    prober = HTTPProber()
    try:
        ok = await prober.probe(f"{server}/ok", timeout_s=2, body_regex=re.compile("ok"))
        assert ok.success and ok.status == 200 and ok.error == "" and ok.duration_s > 0

        down = await prober.probe(f"{server}/down", timeout_s=2)
        assert not down.success and down.error == "unexpected HTTP status 503"

        accepted = await prober.probe(f"{server}/down", timeout_s=2, expect_status={503})
        assert accepted.success

        degraded = await prober.probe(f"{server}/degraded", timeout_s=2, body_regex=re.compile(r"status: ok"))
        assert not degraded.success and degraded.error == "body does not match /status: ok/"

        slow = await prober.probe(f"{server}/slow", timeout_s=0.2)
        assert not slow.success and "0.2s timeout" in slow.error and slow.duration_s < 1.5

        refused = await prober.probe(f"http://127.0.0.1:{free_port()}/", timeout_s=2)
        assert not refused.success and refused.error == "connection refused"
    finally:
        await prober.aclose()


async def test_tcp_probe_outcomes() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        ok = await probe_tcp("127.0.0.1", listener.getsockname()[1], timeout_s=2)
        assert ok.success
    finally:
        listener.close()
    refused = await probe_tcp("127.0.0.1", free_port(), timeout_s=2)
    assert not refused.success and "refused" in refused.error
    await asyncio.sleep(0)
