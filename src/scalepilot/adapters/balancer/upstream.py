"""One TCP connection to a backend, owned by the pool while idle and by one exchange
while a request is on it.

The protocol object only routes events: bytes, end of stream and write back-pressure go
to the exchange that owns the connection. Anything arriving while the connection is idle
(an unsolicited answer, the backend closing it) makes it unusable, and it leaves the pool.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scalepilot.adapters.balancer.backend import Backend

if TYPE_CHECKING:
    from scalepilot.adapters.balancer.exchange import Exchange
    from scalepilot.adapters.balancer.pool import Pool


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("backend", "closed", "exchange", "idle_since", "pool", "transport")

    def __init__(self, pool: Pool, backend: Backend) -> None:
        self.pool = pool
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pool.opened(self)

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.upstream_data(data)
        else:
            self.close()  # unsolicited bytes: the next response would be misattributed

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost reports it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.lost(self)
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.upstream_lost(exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_pause_writing()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_resume_writing()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self, *, abort: bool = False) -> None:
        """Close without reuse (the pool forgets it when ``connection_lost`` comes).
        ``abort`` drops unsent bytes: for a request abandoned half-way."""
        self.exchange = None
        if self.transport is not None and not self.closed:
            self.closed = True
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
