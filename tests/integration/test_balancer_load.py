"""The balancer under concurrent load, with real sockets on 127.0.0.1.

Covers: 300 concurrent keep-alive clients (raw sockets) sending 20 requests each — GETs
and POSTs with bodies — over 4 backends: every one of the 6,000 requests answered 200
with its own answer (no response crosses to another request or client), spread over all
backends, within a time bound; upstream connections stay bounded by the concurrency
(keep-alive reuse, no connection per request); the stats agree (6,000 × 200, nothing in
flight, no upstream errors). Then an independent client, httpx, with 200 concurrent
requests on its own connection pool, also without a single failure. (One round only:
httpx 0.28 stalls ~5 s when 200 pooled connections are reused at once, against nginx too.)
"""

from __future__ import annotations

import asyncio

import httpx

from scalepilot.config.balancer import BalancerSettings
from tests.integration.test_balancer_support import Client, apps, running, until

CLIENTS = 300
REQUESTS = 20


async def test_hundreds_of_concurrent_keep_alive_clients() -> None:
    # Idle connections kept per backend cover its share of the concurrency, so every upstream
    # connection opened is reused until the end.
    settings = BalancerSettings(upstream_keepalive=CLIENTS)
    async with apps("a0", "a1", "a2", "a3") as backends, running(backends, settings) as (bal, port):
        failures: list[str] = []
        connected: list[int] = []
        all_connected = asyncio.Event()

        async def client_task(n: int) -> int:
            client = await Client.open(port)
            done = 0
            try:
                connected.append(n)
                if len(connected) == CLIENTS:
                    all_connected.set()
                await all_connected.wait()  # all 300 connections open before the first request
                for k in range(REQUESTS):
                    if k % 4 == 3:
                        body = f"client {n} request {k} ".encode() * 50
                        r = await client.request("POST", "/echo", body)
                        expected = body
                    else:
                        r = await client.request("GET", f"/c{n}/r{k}")
                        expected = f"{r.header('X-App')} GET /c{n}/r{k}".encode()
                    if r.status != 200 or r.body != expected:
                        failures.append(f"client {n} request {k}: {r.status} {r.body[:80]!r}")
                    done += 1
            finally:
                await client.close()
            return done

        async with asyncio.timeout(60):
            tasks = [asyncio.create_task(client_task(n)) for n in range(CLIENTS)]
            await all_connected.wait()
            await until(lambda: bal.stats().connections == CLIENTS, what="all clients accepted")
            counts = await asyncio.gather(*tasks)
        assert not failures, failures[:5]
        assert sum(counts) == CLIENTS * REQUESTS

        served = [len(b.requests) for b in backends]
        assert sum(served) == CLIENTS * REQUESTS
        assert min(served) > CLIENTS * REQUESTS / 4 * 0.5, served  # all backends took a fair share
        assert sum(b.connections for b in backends) <= CLIENTS
        assert bal.stats().upstream_connects == sum(b.connections for b in backends)

        await until(lambda: bal.stats().connections == 0, what="client connections closed")
        stats = bal.stats()
        assert stats.requests == {200: CLIENTS * REQUESTS}
        assert stats.in_flight == 0 and stats.upstream_errors == {} and stats.no_backend == 0
        assert stats.latency.count == CLIENTS * REQUESTS
        assert sum(b.requests for b in stats.backends.values()) == CLIENTS * REQUESTS


async def test_httpx_clients() -> None:
    async with apps("a0", "a1") as backends, running(backends) as (bal, port):
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

            async def one(n: int) -> None:
                if n % 2:
                    r = await client.post("/echo", content=f"payload {n}".encode())
                    assert r.status_code == 200 and r.text == f"payload {n}"
                else:
                    r = await client.get(f"/get/{n}", headers={"X-Request": str(n)})
                    assert r.status_code == 200 and r.text.endswith(f"GET /get/{n}")
                    assert r.headers["via"] == "1.1 scalepilot"

            async with asyncio.timeout(60):
                await asyncio.gather(*(one(n) for n in range(200)))
        assert bal.stats().requests == {200: 200}
