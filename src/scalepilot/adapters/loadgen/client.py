"""A minimal HTTP/1.1 keep-alive client for load generation.

General-purpose clients spend a millisecond or more of CPU per request (httpx tops out
near 300 requests/s on one core here), which would make the load generator, not the
service, the bottleneck. This one does only what a GET against a loopback service
needs: reuse idle connections, write one request, read the status line, headers and a
Content-Length or chunked body. Anything else is an error, counted as a failed request.
"""

from __future__ import annotations

import asyncio
import contextlib


class HTTPError(Exception):
    pass


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class Client:
    def __init__(self, host: str, port: int, *, timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._host_header = f"{host}:{port}"

    async def get(self, path: str) -> int:
        """GET ``path``; the status code. Raises HTTPError or OSError/TimeoutError."""
        async with asyncio.timeout(self.timeout_s):
            conn = self._reusable()
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            try:
                status, keep = await self._exchange(conn, path)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                self._discard(conn)
                # A server may close an idle keep-alive connection just as a request goes
                # out on it (uvicorn after 5 s): nothing was answered, so a GET is safely
                # sent again on a new connection, as browsers and RFC 9112 §9.3.1 do.
                partial = exc.partial if isinstance(exc, asyncio.IncompleteReadError) else b""
                if not reused or partial:
                    raise
                conn = await self._connect()
                try:
                    status, keep = await self._exchange(conn, path)
                except BaseException:
                    self._discard(conn)
                    raise
            except BaseException:
                self._discard(conn)
                raise
        if keep:
            self._idle.append(conn)
        else:
            self._discard(conn)
        return status

    def _reusable(self) -> _Connection | None:
        """An idle connection the server has not closed meanwhile (its FIN already read)."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof():
                return conn
            self._discard(conn)
        return None

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        conn = _Connection(reader, writer)
        self._open.add(conn)
        return conn

    def _discard(self, conn: _Connection) -> None:
        self._open.discard(conn)
        conn.close()

    async def _exchange(self, conn: _Connection, path: str) -> tuple[int, bool]:
        conn.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self._host_header}\r\n\r\n".encode())
        head = await conn.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HTTPError(f"not an HTTP response: {lines[0][:60]!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = False
        keep = parts[0] == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value.strip())
            elif key == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif key == b"connection":
                keep = b"close" not in value.lower() and (keep or b"keep-alive" in value.lower())
        if chunked:
            await self._read_chunked(conn.reader)
        elif length is not None:
            await conn.reader.readexactly(length)
        elif status not in (204, 304) and not 100 <= status < 200:
            await conn.reader.read()  # body until close
            keep = False
        return status, keep

    async def _read_chunked(self, reader: asyncio.StreamReader) -> None:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected: the final CRLF
                return
            await reader.readexactly(size + 2)

    async def aclose(self) -> None:
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
        for conn in list(self._open):
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()
