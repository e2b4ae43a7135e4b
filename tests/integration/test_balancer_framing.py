"""HTTP/1.1 framing through the balancer, with real sockets on 127.0.0.1.

Covers: keep-alive on both sides (many client requests over one client connection and
one upstream connection; many client connections reusing a few upstream ones); request
and response bodies of several MiB intact both ways, by Content-Length and chunked;
streaming — the first chunk of a response reaches the client while the backend still
holds the rest, and the first part of a request body reaches the backend before the
client sent the rest; a client that reads nothing holds the backend back (back-pressure)
instead of the balancer buffering a 64 MiB body; chunked trailers passed through; hop-by-hop headers removed both
ways (including headers named in Connection) while end-to-end ones pass, and
X-Forwarded-For (appended), X-Forwarded-Proto, Via or Forwarded added; HEAD, 204 and 304
without bodies on a connection that stays usable; ``Connection: close`` from the client
and from the backend; a response without length ends with the connection; HTTP/1.0
clients (keep-alive when asked, chunked decoded for them); ``Expect: 100-continue``;
pipelined requests answered in order; malformed requests answered 400 with the reason
and the connection closed; oversized bodies 413 (by Content-Length at once, chunked when
the limit is crossed), oversized heads 431; CONNECT refused with 501.
"""

from __future__ import annotations

import asyncio

import pytest

from scalepilot.config.balancer import BalancerSettings
from tests.integration.test_balancer_support import App, Client, apps, chunked, pattern, request_bytes, running, until


async def test_keep_alive_reuses_connections_both_sides() -> None:
    async with apps("a") as (a,), running([a]) as (bal, port):
        client = await Client.open(port)
        try:
            for k in range(50):
                r = await client.request("GET", f"/{k}")
                assert r.status == 200 and r.text == f"a GET /{k}"
        finally:
            await client.close()
        assert a.connections == 1
        # Sequential clients, each on its own connection, share the upstream connection.
        for k in range(10):
            c = await Client.open(port)
            assert (await c.request("GET", f"/n{k}")).status == 200
            await c.close()
        assert a.connections == 1
        assert bal.stats().upstream_connects == 1
        # Concurrent clients need as many upstream connections as requests in flight, no more.
        clients = [await Client.open(port) for _ in range(8)]
        try:
            for c in clients:
                await c.send(request_bytes("GET", "/hold"))
            await until(lambda: a.holding == 8, what="8 requests held")
            a.release.set()
            for c in clients:
                assert (await c.response()).status == 200
            for c in clients:
                assert (await c.request("GET", "/")).status == 200
        finally:
            for c in clients:
                await c.close()
        assert a.connections == 8


async def test_large_bodies_both_ways() -> None:
    size = 6 * 1024 * 1024 + 7
    body = pattern(size)
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            r = await client.request("POST", "/echo", body)
            assert r.status == 200 and len(r.body) == size and r.body == body
            assert a.requests[-1].body == body

            parts = [body[i : i + 100_000] for i in range(0, size, 100_000)]
            r = await client.request("POST", "/echo", chunked(parts), headers=["Transfer-Encoding: chunked"])
            assert r.status == 200 and r.body == body
            assert a.requests[-1].header("Transfer-Encoding") == ["chunked"]

            r = await client.request("GET", f"/big?n={size}")
            assert r.status == 200 and r.body == body

            r = await client.request("GET", "/chunks?n=500")
            assert r.chunked and r.body == b"".join(f"chunk {k};".encode() for k in range(500))
        finally:
            await client.close()


async def test_bodies_are_streamed_not_buffered() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            # Response: the first chunk arrives while the backend waits for `go`.
            await client.send(request_bytes("GET", "/chunks?n=3&wait=1"))
            status, headers = await client.head()
            assert status == 200 and ("Transfer-Encoding", "chunked") in headers
            first = await asyncio.wait_for(client.reader.readuntil(b"chunk 0;\r\n"), 5)
            assert first.endswith(b"chunk 0;\r\n")
            a.go.set()
            rest = await asyncio.wait_for(client.reader.readuntil(b"0\r\nX-Sum: done\r\n\r\n"), 5)
            assert b"chunk 2;" in rest  # the trailer passed through too

            # Request: the backend sees the first part before the client sends the rest,
            # and echoes it back as it comes.
            await client.send(
                b"POST /echo-chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
            )
            await asyncio.wait_for(a.first_part.wait(), 5)
            assert a.requests[-1].body == b"first"
            await client.send(b"6\r\nsecond\r\n0\r\n\r\n")
            r = await client.response()
            assert r.status == 200 and r.body == b"firstsecond"
        finally:
            await client.close()


async def test_slow_client_holds_the_backend_back() -> None:
    """Back-pressure: while the client reads nothing, the backend can only write what
    the socket buffers on the way hold, not the whole 64 MiB into the balancer."""
    size = 64 * 1024 * 1024
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port, limit=65536)
        try:
            await client.send(request_bytes("GET", f"/big?n={size}"))
            status, _ = await client.head()
            assert status == 200
            last = -1
            for _ in range(200):  # until the backend has been stuck for 50 ms (at most 10 s)
                if a.sent == last:
                    break
                last = a.sent
                await asyncio.sleep(0.05)
            assert a.sent < size / 2, a.sent
            received = 0
            while received < size:
                chunk = await client.reader.read(1 << 20)
                assert chunk
                received += len(chunk)
            assert received == size and a.sent == size
            assert (await client.request("GET", "/after")).status == 200
        finally:
            await client.close()


async def test_hop_by_hop_and_forwarding_headers() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            r = await client.request(
                "GET",
                "/hop",
                headers=[
                    "Connection: keep-alive, X-Client-Secret, Content-Length",
                    "X-Client-Secret: s3cret",
                    "Keep-Alive: timeout=100",
                    "TE: trailers",
                    "Upgrade: websocket",
                    "Proxy-Authorization: Basic Zm9v",
                    "X-Forwarded-For: 203.0.113.9",
                    "X-Forwarded-Proto: https",
                    "X-End-To-End: yes",
                ],
            )
            assert r.status == 200
            seen = a.requests[-1]
            names = {k.lower() for k, _ in seen.headers}
            for hop in ["connection", "x-client-secret", "keep-alive", "te", "upgrade", "proxy-authorization"]:
                assert hop not in names, hop
            assert seen.header("X-End-To-End") == ["yes"]
            assert seen.header("X-Forwarded-For") == ["203.0.113.9, 127.0.0.1"]
            assert seen.header("X-Forwarded-Proto") == ["http"]
            assert seen.header("Via") == ["1.1 scalepilot"]
            assert seen.header("Host") == ["test"]

            response_names = {k.lower() for k, _ in r.headers}
            for hop in ["x-private", "keep-alive", "proxy-authenticate"]:
                assert hop not in response_names, hop
            assert r.header("Connection") is None  # keep-alive is HTTP/1.1's default
            assert r.header("X-Public") == "kept" and r.header("Via") == "1.1 scalepilot"
        finally:
            await client.close()

    async with apps("a") as (a,), running([a], BalancerSettings(forwarded="forwarded")) as (_bal, port):
        client = await Client.open(port)
        try:
            await client.request("GET", "/", headers=['Forwarded: for="[2001:db8::1]"'])
            assert a.requests[-1].header("Forwarded") == ['for="[2001:db8::1]", for=127.0.0.1;proto=http']
            assert a.requests[-1].header("X-Forwarded-For") == []
        finally:
            await client.close()


async def test_responses_without_body_keep_the_connection_usable() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            r = await client.request("HEAD", "/big?n=5000")
            assert r.status == 200 and r.header("Content-Length") == "5000" and r.body == b""
            r = await client.request("GET", "/status/204")
            assert r.status == 204 and r.body == b""
            r = await client.request("GET", "/status/304")
            assert r.status == 304 and r.body == b""
            r = await client.request("GET", "/after")
            assert r.status == 200 and r.text == "a GET /after"
        finally:
            await client.close()
        assert a.connections == 1


async def test_connection_close_and_read_until_close() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            r = await client.request("GET", "/", headers=["Connection: close"])
            assert r.status == 200 and r.header("Connection") == "close"
            assert await client.closed_by_peer()
        finally:
            await client.close()

        client = await Client.open(port)
        try:
            r = await client.request("GET", "/close")  # the backend closes: the client connection stays
            assert r.status == 200 and r.header("Connection") is None
            r = await client.request("GET", "/")
            assert r.status == 200
            assert a.connections == 2
            r = await client.request("GET", "/until-close")
            assert r.text == "until the end" and r.header("Connection") == "close"
            assert await client.closed_by_peer()
        finally:
            await client.close()


async def test_http10_clients() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            await client.send(b"GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = await client.response()
            assert r.status == 200 and r.header("Connection") == "keep-alive" and r.text == "a GET /ka"
            await client.send(b"GET /chunks?n=3 HTTP/1.0\r\n\r\n")
            r = await client.response()
            assert r.header("Transfer-Encoding") is None and r.header("Connection") == "close"
            assert r.body == b"chunk 0;chunk 1;chunk 2;"
            assert await client.closed_by_peer()
        finally:
            await client.close()
        assert a.requests[0].header("Via") == ["1.0 scalepilot"]


async def test_expect_100_continue() -> None:
    async with apps("a") as (_a,), running([_a]) as (_bal, port):
        client = await Client.open(port)
        try:
            await client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            interim = await client.response()
            assert interim.status == 100
            await client.send(b"hello")
            r = await client.response()
            assert r.status == 200 and r.body == b"hello"
        finally:
            await client.close()


async def test_pipelined_requests_answered_in_order() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            batch = b"".join(request_bytes("GET", f"/delay?s=0.0{k % 3}") for k in range(5))
            batch += request_bytes("POST", "/echo", b"body-in-pipeline")
            batch += request_bytes("GET", "/last")
            await client.send(batch)
            texts = [(await client.response()).text for _ in range(7)]
            assert texts[:5] == ["a delayed"] * 5
            assert texts[5:] == ["body-in-pipeline", "a GET /last"]
        finally:
            await client.close()
        assert [s.target for s in a.requests][-2:] == ["/echo", "/last"]


@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host header"),
        (b"GET /\r\nHost: a\r\n\r\n", 400, "malformed request line"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP version 2.0 is not supported"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400, "invalid header name"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n", 400, "obsolete line folding"),
        (b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, "bare LF"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "conflicting"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "'gzip' is not supported"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "invalid chunk size"),
        (b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501, "CONNECT is not supported"),
    ],
)
async def test_malformed_requests_get_400_with_reason(raw: bytes, status: int, reason: str) -> None:
    async with apps("a") as (a,), running([a]) as (bal, port):
        client = await Client.open(port)
        try:
            await client.send(raw)
            r = await client.response()
            assert r.status == status
            assert r.text.startswith(f"{status} ") and reason in r.text and r.text.count("\n") == 1
            assert r.header("Connection") == "close"
            assert await client.closed_by_peer()
        finally:
            await client.close()
        assert bal.stats().requests == {status: 1}


async def test_oversized_requests() -> None:
    settings = BalancerSettings(max_request_body=1000, max_header_size=2048)
    async with apps("a") as (a,), running([a], settings) as (_bal, port):
        client = await Client.open(port)
        try:  # by Content-Length: refused before anything reaches a backend
            await client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
            r = await client.response()
            assert r.status == 413 and "exceeds the limit of 1000 bytes" in r.text
            assert await client.closed_by_peer()
            assert not a.requests
        finally:
            await client.close()

        client = await Client.open(port)
        try:  # chunked: refused when the limit is crossed
            await client.send(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"200\r\n"
                + b"x" * 512
                + b"\r\n"
            )
            await client.send(b"200\r\n" + b"x" * 512 + b"\r\n")
            r = await client.response()
            assert r.status == 413 and "body larger than 1000 bytes" in r.text
        finally:
            await client.close()

        client = await Client.open(port)
        try:
            await client.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"y" * 3000 + b"\r\n\r\n")
            r = await client.response()
            assert r.status == 431 and "request head larger than 2048 bytes" in r.text
        finally:
            await client.close()

        client = await Client.open(port)
        try:  # exactly at the limit is fine
            r = await client.request("POST", "/echo", b"z" * 1000)
            assert r.status == 200 and r.body == b"z" * 1000
        finally:
            await client.close()


async def test_backend_answering_before_the_body_closes_the_client() -> None:
    async with apps("a") as (a,), running([a]) as (_bal, port):
        client = await Client.open(port)
        try:
            await client.send(b"POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
            r = await client.response()
            assert r.status == 413 and r.text == "too big for me\n" and r.header("Connection") == "close"
            assert await client.closed_by_peer()
        finally:
            await client.close()
        assert isinstance(a, App)
