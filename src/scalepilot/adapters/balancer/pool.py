"""Keep-alive connections to the backends, reused across client requests.

A new TCP connection per request would cost a handshake and, worse, leave a socket in
TIME_WAIT per request: at a few thousand requests a second the ephemeral ports run out.
So connections that end a response cleanly go back to an idle list per backend, up to
``upstream_keepalive`` of them, and the next request to that backend takes one.

The list is LIFO: the most recently used connection goes out first, so under light load
a few connections stay warm and the rest age out (``upstream_idle_timeout``, shorter than
the apps' own keep-alive timeouts, so the balancer closes first and never writes to a
connection the app is closing). Connections of a backend that left the routing set are
closed as soon as they are idle.

Connecting runs as a task (it is the one step that can take a while); everything else is
plain callbacks on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

from scalepilot.adapters.balancer.backend import Backend
from scalepilot.adapters.balancer.errors import ConnectFailed
from scalepilot.adapters.balancer.stats import StatsRecorder
from scalepilot.adapters.balancer.upstream import UpstreamConnection

if TYPE_CHECKING:
    from scalepilot.adapters.balancer.exchange import Exchange


class Pool:
    __slots__ = (
        "_all",
        "_closed",
        "_connecting",
        "_drained",
        "_idle",
        "_loop",
        "_sweeper",
        "connect_timeout",
        "idle_timeout",
        "max_idle",
        "stats",
    )

    def __init__(self, *, connect_timeout: float, max_idle: int, idle_timeout: float, stats: StatsRecorder) -> None:
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.stats = stats
        self._idle: dict[Backend, list[UpstreamConnection]] = {}
        self._all: set[UpstreamConnection] = set()
        self._connecting: set[asyncio.Task[UpstreamConnection]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._drained: asyncio.Event | None = None

    @property
    def open_connections(self) -> int:
        return len(self._all)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def retain(self, backends: Iterable[Backend]) -> None:
        """Keep idle lists for ``backends`` only; close the idle connections of the others."""
        keep = set(backends)
        old = self._idle
        self._idle = {b: old.get(b, []) for b in keep}
        for backend, conns in old.items():
            if backend not in keep:
                for conn in conns:
                    conn.close()

    def take(self, backend: Backend) -> UpstreamConnection | None:
        """An idle connection to ``backend`` that is still usable, or None."""
        conns = self._idle.get(backend)
        if not conns:
            return None
        assert self._loop is not None
        expired = self._loop.time() - self.idle_timeout
        while conns:
            conn = conns.pop()
            if not conn.closed and conn.idle_since > expired:
                return conn
            conn.close()
        return None

    def give(self, conn: UpstreamConnection) -> None:
        """Return a connection that ended a response cleanly; kept if there is room."""
        conn.exchange = None
        conns = self._idle.get(conn.backend)
        if self._closed or conn.closed or conns is None or len(conns) >= self.max_idle or conn.transport is None:
            conn.close()
            return
        assert self._loop is not None
        conn.transport.resume_reading()  # it may have been paused for a slow client
        conn.idle_since = self._loop.time()
        conns.append(conn)
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(self.idle_timeout, self._sweep)

    def _sweep(self) -> None:
        assert self._loop is not None
        self._sweeper = None
        expired = self._loop.time() - self.idle_timeout
        left = False
        for conns in self._idle.values():
            while conns and conns[0].idle_since <= expired:
                conns.pop(0).close()
            left = left or bool(conns)
        if left:
            self._sweeper = self._loop.call_later(self.idle_timeout / 2, self._sweep)

    def connect(self, backend: Backend, exchange: Exchange) -> None:
        """Open a new connection; the exchange hears ``upstream_connected`` or ``connect_failed``."""
        assert self._loop is not None
        task = self._loop.create_task(self._open(backend))
        self._connecting.add(task)
        task.add_done_callback(functools.partial(self._connected, backend, exchange))

    async def _open(self, backend: Backend) -> UpstreamConnection:
        assert self._loop is not None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await self._loop.create_connection(
                    functools.partial(UpstreamConnection, self, backend), backend.host, backend.port
                )
        except TimeoutError as exc:
            raise ConnectFailed(
                backend.id, f"did not accept a connection within {self.connect_timeout:g}s", kind="connect_timeout"
            ) from exc
        except ConnectionRefusedError as exc:
            raise ConnectFailed(backend.id, "refused the connection", kind="connect_refused") from exc
        except socket.gaierror as exc:
            raise ConnectFailed(backend.id, f"has an unresolvable host {backend.host!r}: {exc.strerror}") from exc
        except OSError as exc:
            raise ConnectFailed(backend.id, f"could not be reached: {exc.strerror or exc}") from exc
        self.stats.upstream_connects += 1
        return conn

    def _connected(self, backend: Backend, exchange: Exchange, task: asyncio.Task[UpstreamConnection]) -> None:
        self._connecting.discard(task)
        if task.cancelled():
            exchange.connect_failed(ConnectFailed(backend.id, "was not connected: the balancer is stopping"))
            return
        exc = task.exception()
        if isinstance(exc, ConnectFailed):
            exchange.connect_failed(exc)
        elif exc is not None:
            exchange.connect_failed(ConnectFailed(backend.id, f"was not connected: internal error {exc!r}"))
            raise exc  # a bug: let the event loop's exception handler report it
        else:
            exchange.upstream_connected(task.result())

    def opened(self, conn: UpstreamConnection) -> None:
        self._all.add(conn)

    def lost(self, conn: UpstreamConnection) -> None:
        self._all.discard(conn)
        conns = self._idle.get(conn.backend)
        if conns and conn.exchange is None and conn in conns:
            conns.remove(conn)
        if self._drained is not None and not self._all:
            self._drained.set()

    async def close(self, within: float = 5.0) -> None:
        """Cancel connects, close every connection, and wait until they are gone."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._connecting):
            task.cancel()
        if self._connecting:
            await asyncio.wait(list(self._connecting), timeout=within)
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
            conns.clear()
        for conn in list(self._all):
            conn.close(abort=True)
        if self._all:
            self._drained = asyncio.Event()
            try:
                async with asyncio.timeout(within):
                    await self._drained.wait()
            except TimeoutError:
                pass
