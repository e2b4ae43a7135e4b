"""What clients get when backends or clients misbehave, with real sockets on 127.0.0.1.

Covers: a refused connect retried once on another backend (the client sees 200, the
error is counted); with one backend, or retries off, a refused connect is 502 naming the
backend; a backend closing or resetting without answering is 502, sending garbage is 502,
not answering within ``response_timeout`` is 504 — each with a one-line reason and the
client connection still usable; a backend cutting a response in the middle cuts the
client connection (the client sees a short body); a pooled connection the backend
closed while idle is replayed on a fresh connection for a GET; a client that stalls its
head or its body gets 408; a client going away mid-request frees the backend slot and is
recorded as 499; every failure lands in ``stats().upstream_errors`` by kind.
"""

from __future__ import annotations

import asyncio
import socket

from scalepilot.adapters.balancer import Backend
from scalepilot.config.balancer import BalancerSettings
from tests.integration.test_balancer_support import Client, apps, request_bytes, running, until


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_refused_connect_is_retried_on_another_backend() -> None:
    async with apps("ok") as (ok,), running() as (bal, port):
        bal.set_backends([Backend("dead", "127.0.0.1", closed_port()), ok.backend()])
        client = await Client.open(port)
        try:
            for _ in range(4):
                r = await client.request("GET", "/")
                assert r.status == 200 and r.header("X-App") == "ok"
        finally:
            await client.close()
        stats = bal.stats()
        assert stats.upstream_errors["connect_refused"] >= 1
        assert stats.requests == {200: 4}
        assert bal.in_flight("dead") == 0


async def test_refused_connect_without_alternative_is_502() -> None:
    dead = Backend("dead", "127.0.0.1", closed_port())
    for settings in (BalancerSettings(), BalancerSettings(retry_on_connect_failure=False)):
        async with running([], settings) as (bal, port):
            bal.set_backends([dead])
            client = await Client.open(port)
            try:
                r = await client.request("POST", "/", b"payload")
                assert r.status == 502
                assert r.text == "502 Bad Gateway: backend dead refused the connection\n"
                r = await client.request("GET", "/")  # connection still usable
                assert r.status == 502
            finally:
                await client.close()
            assert bal.stats().upstream_errors == {"connect_refused": 2}

    async with apps("ok") as (ok,), running([], BalancerSettings(retry_on_connect_failure=False)) as (bal, port):
        bal.set_backends([dead, ok.backend()])
        client = await Client.open(port)
        try:
            statuses = [(await client.request("GET", "/")).status for _ in range(4)]
            assert sorted(statuses) == [200, 200, 502, 502]  # round-robin, no retry
        finally:
            await client.close()


async def test_backend_failures_are_502_or_504_with_reason() -> None:
    settings = BalancerSettings(response_timeout=0.3)
    async with apps("a") as (a,), running([a], settings) as (bal, port):
        client = await Client.open(port)
        try:
            for path, status, text in [
                ("/reset", 502, "backend a closed the connection before answering"),
                ("/garbage", 502, "backend a sent a malformed response: malformed status line"),
                ("/silent", 504, "backend a did not answer within 0.3s"),
            ]:
                loop = asyncio.get_running_loop()
                started = loop.time()
                r = await client.request("GET", path)
                assert r.status == status, path
                assert r.text.startswith(f"{status} ") and text in r.text and r.text.endswith("\n"), r.text
                if status == 504:
                    assert 0.3 <= loop.time() - started < 2.0
            r = await client.request("GET", "/fine")  # the client connection survived all of it
            assert r.status == 200
        finally:
            await client.close()
        stats = bal.stats()
        assert stats.upstream_errors == {"closed": 1, "bad_response": 1, "timeout": 1}
        assert stats.requests == {502: 2, 504: 1, 200: 1}
        assert bal.in_flight("a") == 0


async def test_response_cut_midway_cuts_the_client() -> None:
    async with apps("a") as (a,), running([a]) as (bal, port):
        client = await Client.open(port)
        try:
            await client.send(request_bytes("GET", "/truncated"))
            status, headers = await client.head()
            assert status == 200 and ("Content-Length", "1000") in headers
            assert await client.reader.read() == b"0123456789"  # then EOF: a short body
        finally:
            await client.close()
        assert bal.stats().upstream_errors == {"aborted": 1}


async def test_stale_pooled_connection_is_replayed_for_get() -> None:
    async with apps("a") as (a,), running([a]) as (bal, port):
        client = await Client.open(port)
        try:
            assert (await client.request("GET", "/one")).status == 200
            # The backend closes its side of the idle pooled connection; the balancer may
            # not have noticed yet when the next request goes out.
            for w in list(a._writers):
                w.transport.abort()
            r = await client.request("GET", "/two")
            assert r.status == 200 and r.text == "a GET /two"
        finally:
            await client.close()
        assert bal.stats().requests == {200: 2}


async def test_stalled_clients_get_408() -> None:
    settings = BalancerSettings(client_timeout=0.3)
    async with apps("a") as (a,), running([a], settings) as (bal, port):
        client = await Client.open(port)
        try:
            await client.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # head never completed
            r = await asyncio.wait_for(client.response(), 5)
            assert r.status == 408 and "request head not received within 0.3s" in r.text
            assert await client.closed_by_peer()
        finally:
            await client.close()

        client = await Client.open(port)
        try:
            await client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            r = await asyncio.wait_for(client.response(), 5)
            assert r.status == 408 and "request body stalled for 0.3s" in r.text
        finally:
            await client.close()
        await until(lambda: bal.in_flight("a") == 0, what="backend slot released")
        assert bal.stats().requests == {408: 2}


async def test_client_going_away_frees_the_backend() -> None:
    async with apps("a") as (a,), running([a]) as (bal, port):
        client = await Client.open(port)
        await client.send(request_bytes("GET", "/hold"))
        await until(lambda: a.holding == 1, what="request held")
        assert bal.in_flight("a") == 1 and bal.stats().in_flight == 1
        await client.close()
        await until(lambda: bal.in_flight("a") == 0, what="slot released")
        assert await bal.wait_idle("a", timeout=1)
        assert bal.stats().requests == {499: 1} and bal.stats().in_flight == 0
