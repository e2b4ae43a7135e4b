"""Helpers of the balancer tests (no tests here): a scriptable backend, a raw client.

Both speak HTTP/1.1 with their own few lines of parsing, not the balancer's parser, so a
framing bug cannot hide by being made twice. Everything runs in the test's event loop on
127.0.0.1 ports chosen by the kernel, and everything started is closed by the helper
that started it.

``App`` routes by path:

=================  ========================================================================
``/`` (anything)   200, body ``<app name> <method> <path>``
``/echo``          200, the request body back (Content-Length)
``/echo-chunked``  200, the request body back in chunks as it arrives (streams)
``/big?n=N``       200, N bytes of a fixed pattern (Content-Length); above 1 MiB written
                   64 KiB at a time, counting ``app.sent``
``/chunks?n=K``    200, chunked: K chunks; with ``&wait=1`` it waits for ``app.go``
                   after the first chunk
``/status/N``      status N (204/304 without body)
``/delay?s=F``     200 after F seconds (``asyncio.sleep`` inside the app: a slow replica)
``/hold``          200 once ``app.release`` is set; ``app.holding`` counts the waiting ones
``/silent``        never answers
``/reset``         closes the connection without answering
``/garbage``       answers bytes that are not HTTP
``/truncated``     promises 1000 bytes, sends 10, closes
``/close``         200 with ``Connection: close``, then closes
``/until-close``   200 without length, body ends with the connection
``/hop``           200 with hop-by-hop headers that must not reach the client
``/early``         413 without reading the request body
=================  ========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from scalepilot.adapters.balancer import Backend, Balancer
from scalepilot.config.balancer import BalancerSettings

PATTERN = bytes(range(256)) * 4


def pattern(n: int) -> bytes:
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


@dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class App:
    """A backend replica: counts connections, records requests, behaves by path."""

    name: str = "app"
    port: int = 0
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    holding: int = 0
    delay: float = 0.0
    sent: int = 0
    """Body bytes of large ``/big`` responses written so far."""
    """Seconds every request waits before being handled: a slow replica."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)
    first_part: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> App:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def backend(self, group: str = "stable") -> Backend:
        return Backend(self.name, "127.0.0.1", self.port, group)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def paths(self) -> list[str]:
        return [s.target for s in self.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        self.connections += 1
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # stop() cancels handlers still waiting; ending normally keeps asyncio quiet
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ")
        headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        lower = {k.lower(): v for k, v in headers}
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        seen = Seen(method, target, headers, b"")
        self.requests.append(seen)
        if self.delay:
            await asyncio.sleep(self.delay)
        if path == "/early":
            await self._send(writer, 413, b"too big for me\n", extra=["Connection: close"])
            return False
        if lower.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if path == "/echo-chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            async for part in _body_parts(reader, lower):
                seen.body += part
                self.first_part.set()
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        async for part in _body_parts(reader, lower):
            seen.body += part
        if path == "/echo":
            await self._send(writer, 200, seen.body)
        elif path == "/big":
            n = int(query["n"])
            if method == "HEAD" or n <= 1 << 20:
                await self._send(writer, 200, pattern(n), head_only=method == "HEAD")
            else:  # in pieces, counting what the balancer took so far
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n".encode())
                piece = pattern(65536)
                while self.sent < n:
                    part = piece[: n - self.sent]
                    writer.write(part)
                    await writer.drain()
                    self.sent += len(part)
        elif path == "/chunks":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n")
            for k in range(int(query["n"])):
                part = f"chunk {k};".encode()
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
                if k == 0 and query.get("wait"):
                    await self.go.wait()
            writer.write(b"0\r\nX-Sum: done\r\n\r\n")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            body = b"" if code in (204, 304) else b"status body\n"
            await self._send(writer, code, body, head_only=code in (204, 304))
        elif path == "/delay":
            await asyncio.sleep(float(query["s"]))
            await self._send(writer, 200, f"{self.name} delayed".encode())
        elif path == "/hold":
            self.holding += 1
            try:
                await self.release.wait()
            finally:
                self.holding -= 1
            await self._send(writer, 200, f"{self.name} released".encode())
        elif path == "/silent":
            await asyncio.Event().wait()
        elif path == "/reset":
            return False
        elif path == "/garbage":
            writer.write(b"this is not http\r\n\r\n")
            await writer.drain()
            return False
        elif path == "/truncated":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            await writer.drain()
            return False
        elif path == "/close":
            await self._send(writer, 200, b"bye\n", extra=["Connection: close"])
            return False
        elif path == "/until-close":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
            await writer.drain()
            return False
        elif path == "/hop":
            await self._send(
                writer,
                200,
                b"hop\n",
                extra=[
                    "Connection: keep-alive, X-Private",
                    "X-Private: backend secret",
                    "Keep-Alive: timeout=5",
                    "Proxy-Authenticate: Basic",
                    "X-Public: kept",
                ],
            )
        else:
            body = f"{self.name} {method} {target}".encode()
            await self._send(writer, 200, body, head_only=method == "HEAD")
        return True

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        extra: Sequence[str] = (),
        head_only: bool = False,
    ) -> None:
        lines = [f"HTTP/1.1 {status} X", f"X-App: {self.name}", *extra]
        if status not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else body))
        await writer.drain()


async def _body_parts(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]
    else:
        left = int(headers.get("content-length", "0"))
        while left:
            part = await reader.read(min(left, 65536))
            if not part:
                raise asyncio.IncompleteReadError(b"", left)
            left -= len(part)
            yield part


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool = False

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def text(self) -> str:
        return self.body.decode()


class Client:
    """One raw TCP connection to the balancer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, *, limit: int = 1 << 24) -> Client:
        """``limit``: the stream buffer (it reads ahead up to twice that)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=limit)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str, path: str, body: bytes | None = None, headers: Sequence[str] = ()) -> Response:
        await self.send(request_bytes(method, path, body, headers))
        return await self.response(head=method == "HEAD")

    async def head(self) -> tuple[int, list[tuple[str, str]]]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        return status, [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]

    async def response(self, *, head: bool = False) -> Response:
        status, headers = await self.head()
        lower = {k.lower(): v for k, v in headers}
        if head or status < 200 or status in (204, 304):
            return Response(status, headers, b"")
        if lower.get("transfer-encoding", "").lower().endswith("chunked"):
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    return Response(status, headers, body, chunked=True)
                body += (await self.reader.readexactly(size + 2))[:-2]
        if "content-length" in lower:
            return Response(status, headers, await self.reader.readexactly(int(lower["content-length"])))
        return Response(status, headers, await self.reader.read())

    async def closed_by_peer(self) -> bool:
        """True when the balancer closed the connection (EOF or reset)."""
        try:
            return await self.reader.read(1) == b""
        except ConnectionError:
            return True


def request_bytes(method: str, path: str, body: bytes | None = None, headers: Sequence[str] = ()) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *headers]
    if body is not None and not any(h.lower().startswith("transfer-encoding") for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def chunked(parts: Sequence[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def until(predicate: Callable[[], object], *, within: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate`` (every 5 ms) until true; fail after ``within`` seconds."""
    for _ in range(int(within / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    assert predicate(), f"timed out after {within}s waiting for {what}"


@contextlib.asynccontextmanager
async def running(
    apps: Sequence[App] = (), settings: BalancerSettings | None = None, name: str = "shop"
) -> AsyncIterator[tuple[Balancer, int]]:
    """A started balancer routing to ``apps``; fails the test if any callback of the event
    loop raised meanwhile (asyncio would only log it)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    balancer = Balancer(name, settings or BalancerSettings())
    balancer.set_backends([a.backend() for a in apps])
    await balancer.start()
    try:
        yield balancer, balancer.address[1]
    finally:
        await balancer.stop()
        loop.set_exception_handler(previous)
    assert not errors, f"event loop errors: {errors}"


@contextlib.asynccontextmanager
async def apps(*names: str) -> AsyncIterator[list[App]]:
    started = [await App(name).start() for name in names]
    try:
        yield started
    finally:
        for app in started:
            await app.stop()
