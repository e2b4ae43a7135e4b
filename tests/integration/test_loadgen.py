"""The open-loop load generator against a real loopback server.

Covers: the number of arrivals follows the profile (a seeded Poisson process, so the
count is exact for a seed); answers, errors and latencies are recorded per second;
arrivals beyond the in-flight cap are shed, not queued; only loopback URLs are allowed;
ramp profiles interpolate; a keep-alive connection the server closed unanswered is
retried once on a new one, a fresh one is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scalepilot.adapters.loadgen import LoadGenerator, ramp
from scalepilot.adapters.loadgen.client import Client


@pytest.fixture
def server() -> Iterator[str]:
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/hang":
                release.wait(10)
            status = 500 if self.path == "/fail" else 200
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # a /hang request the client has given up on, as the tests intend

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    release.set()
    httpd.shutdown()
    httpd.server_close()


def expected_arrivals(rate: float, duration: float, seed: int) -> int:
    rnd, t, n = random.Random(seed), 0.0, 0
    while t < duration:
        n += 1
        t += rnd.expovariate(rate)
    return n


async def test_offered_load_answers_and_latency(server: str) -> None:
    gen = LoadGenerator(f"{server}/ok", ramp([(0, 40), (10, 40)]), duration_s=2.0, seed=7)
    seconds = await gen.run()
    offered = sum(s.offered for s in seconds)
    assert offered == expected_arrivals(40, 2.0, 7)
    assert sum(s.ok for s in seconds) == offered
    assert sum(s.errors + s.shed for s in seconds) == 0
    p95 = [s.quantile(0.95) for s in seconds if s.ok]
    assert all(q is not None and 0 < q < 1 for q in p95)


async def test_errors_and_shedding(server: str) -> None:
    gen = LoadGenerator(f"{server}/fail", ramp([(0, 50)]), duration_s=0.5, seed=1)
    seconds = await gen.run()
    assert sum(s.errors for s in seconds) == sum(s.offered for s in seconds) > 0

    gen = LoadGenerator(f"{server}/hang", ramp([(0, 200)]), duration_s=0.5, max_in_flight=5, timeout_s=1, seed=1)
    seconds = await gen.run()
    offered = sum(s.offered for s in seconds)
    assert sum(s.shed for s in seconds) == offered - 5
    assert sum(s.errors for s in seconds) == 5  # the held requests time out


def test_only_loopback_and_ramps() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoadGenerator("http://example.com/", ramp([(0, 1)]), duration_s=1)
    profile = ramp([(0, 10), (10, 110), (20, 110)])
    assert [profile(t) for t in (-5, 0, 5, 10, 15, 30)] == [10, 10, 60, 110, 110, 110]


async def _closing_server(answer_on: set[int]) -> tuple[asyncio.Server, list[asyncio.Event]]:
    """A keep-alive server that answers only the connection's n-th requests in
    ``answer_on`` and closes the connection, unanswered, at any other."""
    connections: list[asyncio.Event] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done = asyncio.Event()
        connections.append(done)
        n = 0
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                n += 1
                if n not in answer_on:
                    break
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, connections


async def _stop(server: asyncio.Server, connections: list[asyncio.Event], client: Client) -> None:
    await client.aclose()
    server.close()
    await asyncio.wait_for(asyncio.gather(*(done.wait() for done in connections)), 5)


async def test_a_keepalive_connection_closed_unanswered_is_retried_once_on_a_new_one() -> None:
    # Answers each connection's first request only: the second GET goes out on a reused
    # connection the server then closes without a byte, as uvicorn does after 5 s idle.
    server, connections = await _closing_server({1})
    port = server.sockets[0].getsockname()[1]
    client = Client("127.0.0.1", port, timeout_s=5)
    try:
        assert await client.get("/") == 200
        assert await client.get("/") == 200
        assert len(connections) == 2
    finally:
        await _stop(server, connections, client)


async def test_a_fresh_connection_closed_unanswered_is_an_error() -> None:
    server, connections = await _closing_server(set())
    port = server.sockets[0].getsockname()[1]
    client = Client("127.0.0.1", port, timeout_s=5)
    try:
        with pytest.raises(asyncio.IncompleteReadError):
            await client.get("/")
        assert len(connections) == 1  # not sent again: the failure is the server's
    finally:
        await _stop(server, connections, client)
