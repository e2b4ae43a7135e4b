"""The balancer's HTTP/1.1 framing, without sockets.

Covers: request heads (method, target, version, header lines kept verbatim and in order,
Content-Length, chunked, persistence by version and Connection, Expect); every refusal
with its status and reason (smuggling-prone ambiguity: CL with TE, differing CLs, bare
CR/LF, control characters, obsolete folding, whitespace before the colon; unsupported
versions and codings); response heads and their framing (HEAD, 1xx, 204, 304, chunked,
length, read-to-close); the body reader for each framing (what to forward, where the
body ends); the chunked reader finds the end of a body at every possible
split of the stream (a property test), decodes for HTTP/1.0 clients, refuses bad sizes,
bare LF and missing CRLF, and stops at ``max_body`` with 413; head rewriting drops
hop-by-hop headers and those named in Connection (never the framing headers), appends
X-Forwarded-For, replaces X-Forwarded-Proto, adds Via or Forwarded; the balancer's own
error answers are one line with the status and reason.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalepilot.adapters.balancer import MalformedMessage
from scalepilot.adapters.balancer.body import BodyReader
from scalepilot.adapters.balancer.chunked import ChunkedReader
from scalepilot.adapters.balancer.headers import forwarded_node, request_head, response_head
from scalepilot.adapters.balancer.http1 import Framing, parse_request_head, parse_response_head
from scalepilot.adapters.balancer.responses import error_response


def test_request_head() -> None:
    req = parse_request_head(
        b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 012\r\nX-Dup: 1\r\nx-dup: 2\r\n"
        b"Connection: Keep-Alive, X-Foo"
    )
    assert (req.method, req.target, req.version) == (b"POST", b"/a?b=c", 11)
    assert req.length == 12 and req.framing == Framing.LENGTH and not req.chunked
    assert req.fields == [
        (b"host", b"Host: x"),
        (b"content-length", b"Content-Length: 012"),
        (b"x-dup", b"X-Dup: 1"),
        (b"x-dup", b"x-dup: 2"),
        (b"connection", b"Connection: Keep-Alive, X-Foo"),
    ]
    assert req.connection == {b"keep-alive", b"x-foo"} and req.keep_alive

    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close").keep_alive is False
    assert parse_request_head(b"GET / HTTP/1.0").keep_alive is False
    assert parse_request_head(b"GET / HTTP/1.0\r\nConnection: keep-alive").keep_alive is True
    chunked = parse_request_head(b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked")
    assert chunked.chunked and chunked.framing == Framing.CHUNKED
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0").framing == Framing.NONE
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5").length == 5
    assert parse_request_head(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue").expect_continue
    assert parse_request_head(b"OPTIONS * HTTP/1.1\r\nHost: x").target == b"*"


@pytest.mark.parametrize(
    ("head", "status", "reason"),
    [
        (b"GET / HTTP/1.1", 400, "missing Host header"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b", 400, "more than one Host header"),
        (b"GET  / HTTP/1.1\r\nHost: a", 400, "malformed request line"),
        (b"GET / HTTP/1.1 \r\nHost: a", 400, "malformed request line"),
        (b"GET / HTTP/3.0\r\nHost: a", 505, "HTTP version 3.0 is not supported"),
        (b"GET / FTP/1.0\r\nHost: a", 400, "malformed request line"),
        (b"G(T / HTTP/1.1\r\nHost: a", 400, "invalid method"),
        (b"GET /\x7f HTTP/1.1\r\nHost: a", 400, "control character"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX\x00: 1", 400, "control character"),
        (b"GET / HTTP/1.1\r\nHost: a\rX: 1", 400, "bare CR"),
        (b"GET / HTTP/1.1\nHost: a", 400, "bare LF"),
        (b"GET / HTTP/1.1\r\nHost : a", 400, "invalid header name"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n: empty", 400, "empty header name"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nno colon here", 400, "without a colon"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded", 400, "obsolete line folding"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded: x", 400, "obsolete line folding"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2", 400, "conflicting Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2", 400, "conflicting Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1", 400, "invalid Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3", 400, "invalid Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999", 400, "invalid Content-Length"),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip", 400, "must end with chunked"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked", 501, "'gzip' is not supported"),
        (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked", 400, "Transfer-Encoding in an HTTP/1.0 request"),
    ],
)
def test_request_head_refusals(head: bytes, status: int, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason) as info:
        parse_request_head(head)
    assert info.value.status == status


def test_response_head_and_framing() -> None:
    resp = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x")
    assert resp.status == 200 and resp.status_line == b"200 OK" and resp.keep_alive
    assert resp.framing(b"GET") == Framing.LENGTH
    assert resp.framing(b"HEAD") == Framing.NONE

    assert parse_response_head(b"HTTP/1.1 204 No Content\r\nContent-Length: 5").framing(b"GET") == Framing.NONE
    assert parse_response_head(b"HTTP/1.1 304 Not Modified").framing(b"GET") == Framing.NONE
    assert parse_response_head(b"HTTP/1.1 100 Continue").framing(b"POST") == Framing.NONE
    assert parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 0").framing(b"GET") == Framing.NONE
    assert parse_response_head(b"HTTP/1.1 200").status_line == b"200"
    chunked = parse_response_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked")
    assert chunked.framing(b"GET") == Framing.CHUNKED
    assert parse_response_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip").framing(b"GET") == Framing.UNTIL_CLOSE
    until_close = parse_response_head(b"HTTP/1.0 200 OK")
    assert until_close.framing(b"GET") == Framing.UNTIL_CLOSE and not until_close.keep_alive
    assert not parse_response_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1").keep_alive
    assert parse_response_head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1").keep_alive

    for bad in [b"HTTP/2 200 OK", b"HTTP/1.1 20 OK", b"HTTP/1.1 2000", b"HTTP/1.1 abc", b"garbage", b"HTTP/1.1 099 X"]:
        with pytest.raises(MalformedMessage, match="malformed status line"):
            parse_response_head(bad)
    with pytest.raises(MalformedMessage, match="both Content-Length and Transfer-Encoding"):
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked")


BODY = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\n"


def test_chunked_reader_whole_and_decoded() -> None:
    reader = ChunkedReader(decode=True)
    assert reader.feed(BODY + NEXT) == len(BODY)
    assert reader.done and reader.size == 16
    assert b"".join(reader.decoded) == b"hello 0123456789"
    assert reader.feed(b"more", 0) == 0  # done: consumes nothing


@given(st.lists(st.integers(min_value=0, max_value=len(BODY) + len(NEXT)), max_size=12))
def test_chunked_reader_any_split(cuts: list[int]) -> None:
    stream = BODY + NEXT
    points = sorted({0, len(stream), *cuts})
    reader = ChunkedReader(decode=True)
    consumed = 0
    for a, b in itertools.pairwise(points):
        piece = stream[a:b]
        end = reader.feed(piece)
        consumed += end
        if reader.done:
            assert end <= len(piece)
            break
        assert end == len(piece)
    assert reader.done and consumed == len(BODY)
    assert b"".join(reader.decoded) == b"hello 0123456789"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"0x5\r\nhello\r\n", "invalid chunk size"),
        (b"5_0\r\n", "invalid chunk size"),
        (b"\r\n", "invalid chunk size"),
        (b"-1\r\n", "invalid chunk size"),
        (b"1234567890abcdef0\r\n", "invalid chunk size"),
        (b"5\nhello\r\n", "bare LF"),
        (b"5\r\nhelloXX", "not followed by CRLF"),
        (b"0\r\nbad trailer\r\n\r\n", "invalid trailer"),
        (b"f" * 5000, "line too long"),
    ],
)
def test_chunked_reader_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        ChunkedReader().feed(data)


def test_chunked_reader_max_body() -> None:
    reader = ChunkedReader(max_body=10)
    reader.feed(b"a\r\n0123456789\r\n")
    with pytest.raises(MalformedMessage, match="body larger than 10 bytes") as info:
        reader.feed(b"1\r\n")
    assert info.value.status == 413


def test_body_reader_framings() -> None:
    r = BodyReader(Framing.LENGTH, 5)
    assert r.feed(b"abc") == (b"abc", 3) and not r.done
    assert r.feed(b"deNEXT") == (b"de", 2) and r.done
    r = BodyReader(Framing.CHUNKED, decode=True)
    assert r.feed(b"XX3\r\nabc\r\n0\r\n\r\nNEXT", 2) == (b"abc", 15) and r.done
    r = BodyReader(Framing.CHUNKED)
    assert r.feed(b"3\r\nabc\r\n") == (b"3\r\nabc\r\n", 8) and not r.done  # passed through as it is
    r = BodyReader(Framing.UNTIL_CLOSE)
    assert r.feed(b"xyz", 1) == (b"yz", 3) and not r.done
    r = BodyReader(Framing.NONE)
    assert r.done and r.feed(b"abc") == (b"", 0)


def fields(head: bytes) -> list[bytes]:
    return head.split(b"\r\n")


def test_request_head_rewrite() -> None:
    req = parse_request_head(
        b"GET /p HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret, Content-Length, Host\r\n"
        b"X-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\n"
        b"Proxy-Authorization: y\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\n"
        b"X-Forwarded-Proto: https\r\nContent-Length: 0\r\nAccept: */*"
    )
    out = request_head(req, b"127.0.0.9", "x-forwarded")
    assert out.endswith(b"\r\n\r\n")
    assert fields(out)[:-2] == [
        b"GET /p HTTP/1.1",
        b"Host: h",
        b"Content-Length: 0",
        b"Accept: */*",
        b"X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.9",
        b"X-Forwarded-Proto: http",
        b"Via: 1.1 scalepilot",
    ]
    v10 = parse_request_head(b"GET / HTTP/1.0\r\nForwarded: for=1.2.3.4")
    out = request_head(v10, forwarded_node("::1"), "forwarded")
    assert fields(out)[:-2] == [
        b"GET / HTTP/1.1",
        b'Forwarded: for=1.2.3.4, for="[::1]";proto=http',
        b"Via: 1.0 scalepilot",
    ]


def test_response_head_rewrite() -> None:
    resp = parse_response_head(
        b"HTTP/1.0 200 Fine\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\n"
        b"Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nX-Public: 2"
    )
    assert fields(response_head(resp, close=False, announce_keep_alive=False, dechunk=False))[:-2] == [
        b"HTTP/1.1 200 Fine",
        b"Transfer-Encoding: chunked",
        b"Trailer: X-Sum",
        b"X-Public: 2",
        b"Via: 1.0 scalepilot",
    ]
    assert fields(response_head(resp, close=True, announce_keep_alive=False, dechunk=True))[:-2] == [
        b"HTTP/1.1 200 Fine",
        b"X-Public: 2",
        b"Via: 1.0 scalepilot",
        b"Connection: close",
    ]
    plain = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1")
    assert fields(response_head(plain, close=False, announce_keep_alive=True, dechunk=False))[-3] == (
        b"Connection: keep-alive"
    )


def test_error_response() -> None:
    raw = error_response(502, "backend a refused the connection", close=False)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == b"502 Bad Gateway: backend a refused the connection\n"
    assert fields(head) == [
        b"HTTP/1.1 502 Bad Gateway",
        b"Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}".encode(),
        b"Cache-Control: no-store",
    ]
    raw = error_response(503, "no backend", close=True, retry_after=2, head_only=True)
    assert raw.endswith(b"Retry-After: 2\r\nConnection: close\r\n\r\n")
    body_length = len(b"503 Service Unavailable: no backend\n")
    assert f"Content-Length: {body_length}\r\n".encode() in raw
