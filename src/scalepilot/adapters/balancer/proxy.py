"""The client side: one protocol object per accepted connection.

It splits the byte stream into requests and hands each to an ``Exchange``. Requests on
one connection are served strictly one after the other: bytes of a pipelined next
request wait in a buffer (reading pauses when it holds more than a request head's worth)
until the current response is complete, so responses can never be reordered.

Timeouts are checked by one periodic timer per connection (every eighth of the shortest
timeout) rather than a timer per request, which would cost a heap insertion and a
cancellation on every request: a request head not complete within ``client_timeout``
gets 408; a body whose client goes quiet for ``client_timeout`` gets 408 (or the
connection is cut if the response had begun); a client that stops reading our response
for ``client_timeout`` is cut; an idle keep-alive connection closes after
``client_keepalive``; the exchange's own check answers 504.
"""

from __future__ import annotations

import asyncio

from scalepilot.adapters.balancer.context import Context
from scalepilot.adapters.balancer.errors import MalformedMessage
from scalepilot.adapters.balancer.exchange import Exchange
from scalepilot.adapters.balancer.headers import forwarded_node
from scalepilot.adapters.balancer.http1 import parse_request_head
from scalepilot.adapters.balancer.responses import error_response


class ClientConnection(asyncio.Protocol):
    UPSTREAM = 1
    """Reading paused: the backend is not taking the request body as fast as it comes."""
    PENDING = 2
    """Reading paused: body bytes pile up while the upstream connection opens."""
    PIPELINE = 4
    """Reading paused: a pipelined request waits for the current response."""

    __slots__ = (
        "buf",
        "closing",
        "ctx",
        "exchange",
        "forward_ip",
        "head_started",
        "idle_since",
        "paused",
        "processing",
        "read_since",
        "reads",
        "seen_reads",
        "timer",
        "transport",
        "version",
        "write_paused",
        "write_paused_since",
    )

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.exchange: Exchange | None = None
        self.version = 11
        self.forward_ip = b""
        self.closing = False
        self.paused = 0
        self.processing = False
        self.write_paused = False
        self.write_paused_since = 0.0
        self.head_started = 0.0
        self.idle_since = 0.0
        self.reads = 0
        self.seen_reads = -1
        self.read_since = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        ctx = self.ctx
        self.transport = transport
        ctx.connections.add(self)
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        self.forward_ip = ip.encode() if ctx.forwarded == "x-forwarded" else forwarded_node(ip)
        self.idle_since = ctx.loop.time()
        if ctx.stopping:
            self._close()
            return
        self.timer = ctx.loop.call_later(ctx.tick, self._tick)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.reads += 1
        ex = self.exchange
        if ex is not None:
            if not ex.request_done:
                i = ex.feed_body(data, 0)
                if i < len(data) and self.exchange is ex and not self.closing:
                    self._stash(data[i:])
            else:
                self._stash(data)
            return
        if self.buf:
            self.buf += data
        else:
            self.buf = data
        self._process()

    def eof_received(self) -> bool:
        # A client that shuts down its sending side counts as gone, as nginx counts it:
        # the request in flight is abandoned (499) and its backend slot freed at once,
        # rather than held for an answer a departed client will never read.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        ex = self.exchange
        if ex is not None:
            self.exchange = None
            ex.client_lost()
        self.ctx.connection_closed(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_since = self.ctx.loop.time()
        if self.exchange is not None:
            self.exchange.client_pause_writing()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.exchange is not None:
            self.exchange.client_resume_writing()

    # -- requests ------------------------------------------------------------------------

    def _process(self) -> None:
        """Start exchanges for the complete requests in the buffer, one at a time."""
        if self.processing:
            return
        self.processing = True
        try:
            ctx = self.ctx
            while self.exchange is None and not self.closing:
                buf = self.buf
                if buf[:1] in (b"\r", b"\n"):
                    buf = self.buf = buf.lstrip(b"\r\n")  # blank lines between requests are allowed
                if not buf:
                    return
                end = buf.find(b"\r\n\r\n")
                if end < 0 or end > ctx.max_head:
                    if len(buf) > ctx.max_head or end > ctx.max_head:
                        self._refuse(431, f"request head larger than {ctx.max_head} bytes")
                    elif not self.head_started:
                        self.head_started = ctx.loop.time()
                    return
                self.head_started = 0.0
                try:
                    req = parse_request_head(buf[:end])
                except MalformedMessage as err:
                    self._refuse(err.status, err.reason)
                    return
                self.version = req.version
                rest = buf[end + 4 :]
                self.buf = b""
                ex = Exchange(ctx, self, req, ctx.loop.time())
                self.exchange = ex
                used = ex.open(rest)
                if used < len(rest) and not self.closing:
                    self.buf = rest[used:] if used else rest
                    if self.exchange is not None and len(self.buf) > ctx.max_head:
                        self.pause(self.PIPELINE)
        finally:
            self.processing = False

    def _stash(self, data: bytes) -> None:
        """Bytes after the current request: the next request, pipelined."""
        self.buf += data
        if len(self.buf) > self.ctx.max_head:
            self.pause(self.PIPELINE)

    def exchange_done(self, close: bool) -> None:
        self.exchange = None
        if self.paused:
            self.resume(self.UPSTREAM | self.PENDING | self.PIPELINE)
        if close or self.ctx.stopping:
            self._close()
            return
        self.idle_since = self.ctx.loop.time()
        self._process()

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a request that cannot be framed, and close: what follows is not trusted."""
        self.buf = b""
        self.ctx.stats.record(status, 0.0)
        self.write(error_response(status, reason, close=True))
        self._close()

    # -- plumbing for the exchange ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self.closing and self.transport is not None:
            self.transport.write(data)

    def pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.closing:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and self.transport is not None and not self.closing:
                self.transport.resume_reading()

    def _close(self) -> None:
        if not self.closing:
            self.closing = True
            if self.transport is not None:
                self.transport.close()

    def shutdown(self) -> None:
        """The balancer stops: close now if idle, else after the current response."""
        if self.exchange is None:
            self._close()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    # -- timeouts ------------------------------------------------------------------------

    def _tick(self) -> None:
        self.timer = None
        if self.closing:
            return
        ctx = self.ctx
        now = ctx.loop.time()
        ex = self.exchange
        if ex is None:
            if self.buf:
                if self.head_started and now - self.head_started >= ctx.client_timeout:
                    self._refuse(408, f"request head not received within {ctx.client_timeout:g}s")
            elif now - self.idle_since >= ctx.client_keepalive:
                self._close()
        else:
            if self.reads != self.seen_reads:
                self.seen_reads = self.reads
                self.read_since = now
            if (
                not ex.request_done
                and not self.paused & (self.UPSTREAM | self.PENDING)
                and now - self.read_since >= ctx.client_timeout
            ):
                ex.client_timed_out(f"request body stalled for {ctx.client_timeout:g}s")
            elif self.write_paused and now - self.write_paused_since >= ctx.client_timeout:
                ex.client_timed_out(f"client did not read the response for {ctx.client_timeout:g}s")
            else:
                ex.check(now, self.write_paused)
        if not self.closing:
            self.timer = ctx.loop.call_later(ctx.tick, self._tick)
