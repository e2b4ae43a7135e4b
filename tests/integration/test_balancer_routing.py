"""Where the balancer sends requests, and what it reports, with real sockets on 127.0.0.1.

Covers: the public surface (``__all__``); ``start`` binds a free port when asked for port
0 and a taken port is a BindError naming the address; only backends in the routing set
get requests, and ``set_backends`` replaces the set at once; sequential requests spread
round-robin; under concurrent load a slow backend gets fewer requests
(least-outstanding); group weights split 90/10 (exactly, the group choice is
deterministic); no ready backend is 503 with Retry-After and a reason, counted in
``no_backend``; a backend removed while requests are in flight finishes them,
``in_flight`` shows them and ``wait_idle`` returns when they are done (and times out
while they are not); ``stats()`` counts requests by status, per backend, in flight, and
fills the latency histogram; ``stop()`` lets a request in flight finish.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

import scalepilot.adapters.balancer as balancer_pkg
from scalepilot.adapters.balancer import LATENCY_BUCKETS, Balancer, BalancerStateError, BindError
from scalepilot.config.balancer import BalancerSettings
from tests.integration.test_balancer_support import Client, apps, running, until


def test_public_surface() -> None:
    assert sorted(balancer_pkg.__all__) == sorted(
        [
            "LATENCY_BUCKETS",
            "Backend",
            "BackendStats",
            "BadResponse",
            "Balancer",
            "BalancerError",
            "BalancerStateError",
            "BalancerStats",
            "BindError",
            "ConnectFailed",
            "GroupStats",
            "InvalidBackends",
            "LatencyHistogram",
            "MalformedMessage",
            "UpstreamAborted",
            "UpstreamClosed",
            "UpstreamError",
            "UpstreamTimeout",
        ]
    )


async def test_binds_free_port_and_reports_taken_address() -> None:
    first = Balancer("a", BalancerSettings())
    with pytest.raises(BalancerStateError):
        _ = first.address
    await first.start()
    try:
        host, port = first.address
        assert host == "127.0.0.1" and port > 0
        with pytest.raises(BalancerStateError):
            await first.start()
        second = Balancer("b", BalancerSettings(listen=f"127.0.0.1:{port}"))
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port}"):
            await second.start()
        await second.stop()
    finally:
        await first.stop()
        await first.stop()  # idempotent


async def test_routes_only_to_the_routing_set_and_replaces_it() -> None:
    async with apps("a1", "a2", "a3") as (a1, a2, a3), running([a1, a2]) as (bal, port):
        client = await Client.open(port)
        try:
            for _ in range(6):
                assert (await client.request("GET", "/")).status == 200
            assert len(a1.requests) == 3 and len(a2.requests) == 3 and not a3.requests  # round-robin

            bal.set_backends([a3.backend()])
            for _ in range(4):
                r = await client.request("GET", "/")
                assert r.status == 200 and r.header("X-App") == "a3"
            assert len(a1.requests) == 3 and len(a2.requests) == 3 and len(a3.requests) == 4
        finally:
            await client.close()


async def test_least_outstanding_sends_less_to_a_slow_backend() -> None:
    """Each of 20 clients sends 15 requests one after the other. The slow backend takes
    50 ms per request, the fast ones answer at once; round-robin would give each a third."""
    async with apps("fast1", "fast2", "slow") as (fast1, fast2, slow), running([fast1, fast2, slow]) as (bal, port):
        slow.delay = 0.05

        async def worker() -> None:
            client = await Client.open(port)
            try:
                for _ in range(15):
                    assert (await client.request("GET", "/")).status == 200
            finally:
                await client.close()

        async with asyncio.timeout(30):
            await asyncio.gather(*(worker() for _ in range(20)))
        total = len(fast1.requests) + len(fast2.requests) + len(slow.requests)
        assert total == 300
        assert len(slow.requests) < total / 10, Counter(
            {"fast1": len(fast1.requests), "fast2": len(fast2.requests), "slow": len(slow.requests)}
        )
        assert bal.stats().requests == {200: 300}


async def test_group_weights_split_traffic() -> None:
    async with apps("s1", "s2", "c1") as (s1, s2, c1), running() as (bal, port):
        bal.set_backends([s1.backend("stable"), s2.backend("stable"), c1.backend("canary")])
        bal.set_group_weights({"stable": 90, "canary": 10})
        client = await Client.open(port)
        try:
            for _ in range(200):
                assert (await client.request("GET", "/")).status == 200
            assert len(c1.requests) == 20  # smooth weighted round-robin: exact per 100 picks
            assert len(s1.requests) == len(s2.requests) == 90

            bal.set_group_weights({"stable": 0, "canary": 1})  # all traffic to the canary
            for _ in range(10):
                assert (await client.request("GET", "/")).header("X-App") == "c1"

            bal.set_backends([s1.backend("stable")])  # canary group gone: weight-0 group is the fallback
            assert (await client.request("GET", "/")).header("X-App") == "s1"
        finally:
            await client.close()


async def test_no_backend_is_503_with_retry_after() -> None:
    async with running([], BalancerSettings(retry_after=2.5)) as (bal, port):
        client = await Client.open(port)
        try:
            r = await client.request("GET", "/")
            assert r.status == 503
            assert r.header("Retry-After") == "3"
            assert r.text == "503 Service Unavailable: no ready backend for service shop\n"
            r = await client.request("HEAD", "/")  # same answer without body, connection kept
            assert r.status == 503 and r.body == b""
        finally:
            await client.close()
        stats = bal.stats()
        assert stats.no_backend == 2 and stats.requests == {503: 2}


async def test_removed_backend_finishes_in_flight_and_wait_idle() -> None:
    async with apps("old", "new") as (old, new), running([old]) as (bal, port):
        clients = [await Client.open(port) for _ in range(3)]
        try:
            for c in clients:
                await c.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
            await until(lambda: old.holding == 3, what="3 requests held by the old backend")
            assert bal.in_flight("old") == 3
            assert bal.stats().backends["old"].in_flight == 3

            bal.set_backends([new.backend()])
            assert not await bal.wait_idle("old", timeout=0.05)  # still busy
            extra = await Client.open(port)
            assert (await extra.request("GET", "/")).header("X-App") == "new"  # new requests go to new
            await extra.close()

            waiter = asyncio.create_task(bal.wait_idle("old", timeout=10))
            old.release.set()
            for c in clients:
                r = await c.response()
                assert r.status == 200 and r.text == "old released"
            assert await waiter
            assert bal.in_flight("old") == 0
            assert await bal.wait_idle("old", timeout=0.01)
            assert await bal.wait_idle("never-seen", timeout=0.01)
        finally:
            for c in clients:
                await c.close()
        assert bal.stats().backends["old"].requests == 3  # counters outlive the removal


async def test_stats_counts_and_histogram() -> None:
    async with apps("a") as (a,), running([a]) as (bal, port):
        before = bal.stats()
        assert before.requests_total == 0 and before.latency.count == 0 and before.backends["a"].requests == 0
        client = await Client.open(port)
        try:
            for path in ["/", "/", "/status/404", "/delay?s=0.03", "/status/500"]:
                await client.request("GET", path)
            assert bal.stats().connections == 1
        finally:
            await client.close()
        await until(lambda: bal.stats().connections == 0, what="client connection closed")
        stats = bal.stats()
        assert stats.requests == {200: 3, 404: 1, 500: 1}
        assert stats.requests_total == 5 and stats.in_flight == 0
        assert stats.backends["a"].requests == 5 and stats.backends["a"].in_flight == 0
        assert stats.upstream_connects == 1 and stats.upstream_errors == {}
        hist = stats.latency
        assert hist.count == 5 and hist.buckets[-1] == (float("inf"), 5)
        assert [le for le, _ in hist.buckets[:-1]] == list(LATENCY_BUCKETS)
        counts = [n for _, n in hist.buckets]
        assert counts == sorted(counts)  # cumulative
        assert dict(hist.buckets)[0.025] == 4  # the 30 ms request is above 25 ms
        assert 0.03 <= hist.sum < 1.0
        with pytest.raises(TypeError):
            stats.requests[200] = 0  # type: ignore[index]


async def test_stop_lets_in_flight_request_finish() -> None:
    async with apps("a") as (a,):
        bal = Balancer("shop", BalancerSettings(shutdown_grace=10))
        bal.set_backends([a.backend()])
        await bal.start()
        client = await Client.open(bal.address[1])
        idle = await Client.open(bal.address[1])
        try:
            await client.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
            await until(lambda: a.holding == 1, what="request held")
            stopping = asyncio.create_task(bal.stop())
            assert await idle.closed_by_peer()  # idle connections close at once
            a.release.set()
            r = await client.response()
            assert r.status == 200 and r.header("Connection") == "close"
            await asyncio.wait_for(stopping, 5)
        finally:
            await client.close()
            await idle.close()
