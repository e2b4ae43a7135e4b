"""One request and its response, relayed between a client and a backend.

Everything is a callback on the event loop (no task per request): the client connection
feeds the request head and body bytes in, the upstream connection feeds the response
bytes in, and the exchange writes each side's bytes to the other as they arrive. Bodies
are never held whole: a slice goes out as soon as it came in, and when one side cannot
keep up, reading from the other side pauses (transport flow control) until it drains.

Failures are answered while nothing of the response has reached the client yet — 502
when the backend refused or broke the exchange, 504 when it did not answer in time —
and afterwards can only cut the client connection, which a client detects because the
body falls short of its framing. A connect failure is retried once on another backend
(nothing was sent, so it is safe for every method). A *reused* connection that turns out
to be closed before any answer (the backend closed it while idle, a race keep-alive
cannot rule out) is retried once on a fresh connection, but only for idempotent methods
whose body, if any, is still small enough to replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalepilot.adapters.balancer.backend import Backend
from scalepilot.adapters.balancer.body import BodyReader
from scalepilot.adapters.balancer.context import Context
from scalepilot.adapters.balancer.errors import (
    BadResponse,
    ConnectFailed,
    MalformedMessage,
    UpstreamClosed,
    UpstreamError,
    UpstreamTimeout,
)
from scalepilot.adapters.balancer.headers import request_head, response_head
from scalepilot.adapters.balancer.http1 import Framing, RequestHead, ResponseHead, parse_response_head
from scalepilot.adapters.balancer.responses import CLOSE_ON, error_response
from scalepilot.adapters.balancer.stats import CLIENT_CLOSED
from scalepilot.adapters.balancer.upstream import UpstreamConnection

if TYPE_CHECKING:
    from scalepilot.adapters.balancer.proxy import ClientConnection

IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"))
REPLAY_LIMIT = 64 * 1024
"""Request body bytes kept for a replay on a fresh connection; beyond, no replay."""
PENDING_LIMIT = 256 * 1024
"""Request body bytes held while the upstream connection opens; beyond, the client waits."""

# Response states: waiting for the head (nothing sent to the client), streaming the body.
_HEAD, _BODY, _DONE = 0, 1, 2


class Exchange:
    __slots__ = (
        "backend",
        "body",
        "client",
        "close_client",
        "conn",
        "ctx",
        "finished",
        "got_bytes",
        "head_bytes",
        "holding",
        "paused_pending",
        "pending",
        "pending_size",
        "progress",
        "replay",
        "replay_size",
        "req",
        "request_done",
        "resp_body",
        "resp_buf",
        "retried_connect",
        "retried_stale",
        "reused",
        "seen",
        "since",
        "started",
        "state",
        "status",
        "up_blocked",
        "upstream_keep",
    )

    def __init__(self, ctx: Context, client: ClientConnection, req: RequestHead, started: float) -> None:
        self.ctx = ctx
        self.client = client
        self.req = req
        self.started = started
        self.body = BodyReader(req.framing, req.length, max_body=ctx.max_body)
        self.request_done = self.body.done
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.paused_pending = False
        self.replay: list[bytes] | None = [] if req.method in IDEMPOTENT else None
        self.replay_size = 0
        self.head_bytes = request_head(req, client.forward_ip, ctx.forwarded)
        self.backend: Backend | None = None
        self.holding = False
        self.conn: UpstreamConnection | None = None
        self.reused = False
        self.retried_connect = False
        self.retried_stale = False
        self.state = _HEAD
        self.got_bytes = False
        self.resp_buf = b""
        self.resp_body = BodyReader(Framing.NONE)
        self.status = 0
        self.upstream_keep = False
        self.close_client = not req.keep_alive
        self.up_blocked = False
        self.progress = 0
        self.seen = -1
        self.since = 0.0
        self.finished = False

    # -- from the client side --------------------------------------------------------

    def open(self, rest: bytes) -> int:
        """Start the exchange with the bytes that followed the head; returns how many of
        them belong to this request's body."""
        self.ctx.active += 1
        req = self.req
        if req.method == b"CONNECT":
            self.reply(501, "CONNECT is not supported: this is a reverse proxy", close=True)
            return 0
        max_body = self.ctx.max_body
        if max_body and req.length > max_body:
            self.reply(413, f"request body of {req.length} bytes exceeds the limit of {max_body} bytes", close=True)
            return 0
        used = self.feed_body(rest, 0) if rest and not self.request_done else 0
        if not self.finished:
            self.start()
        return used

    def start(self) -> None:
        backend = self.ctx.picker.pick()
        if backend is None:
            self.ctx.stats.no_backend += 1
            self.reply(503, f"no ready backend for service {self.ctx.name}", retry_after=True)
            return
        self._attempt(backend, fresh=False)

    def feed_body(self, data: bytes, start: int) -> int:
        """Request body bytes from ``data[start:]``; returns the index where the body ended
        (``len(data)`` if it goes on)."""
        try:
            piece, end = self.body.feed(data, start)
        except MalformedMessage as err:
            self._request_failed(err)
            return len(data)
        if piece:
            self._send_body(piece)
        if self.body.done:
            self.request_done = True
        return end

    def client_lost(self) -> None:
        """The client connection closed before the response was complete."""
        if self.finished:
            return
        conn = self.conn
        if conn is not None:
            self.conn = None
            conn.close(abort=True)
        self.close_client = True
        self._end(CLIENT_CLOSED, notify=False)

    def client_pause_writing(self) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None:
            conn.transport.pause_reading()

    def client_resume_writing(self) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None:
            conn.transport.resume_reading()

    def client_timed_out(self, reason: str) -> None:
        """The client stalled (sending its body, or reading our response)."""
        if self.state == _HEAD:
            self._drop_upstream()
            self.reply(408, reason, close=True)
        else:
            self._abort_client()

    def check(self, now: float, client_write_blocked: bool) -> None:
        """Called periodically: answer 504 (or cut) when the backend made no progress for
        ``response_timeout``. Time the balancer itself stopped reading (a slow client) or
        the client is still sending the body does not count."""
        if self.finished or self.conn is None:
            return
        sending = not self.request_done and not self.up_blocked and self.state == _HEAD
        if client_write_blocked or sending or self.progress != self.seen:
            self.seen = self.progress
            self.since = now
            return
        timeout = self.ctx.response_timeout
        if now - self.since >= timeout:
            backend_id = self.backend.id if self.backend else "?"
            if self.state == _HEAD:
                reason = f"did not answer within {timeout:g}s"
            else:
                reason = f"stalled for {timeout:g}s in the middle of its response"
            self._upstream_failed(UpstreamTimeout(backend_id, reason))

    # -- routing and connecting ------------------------------------------------------

    def _attempt(self, backend: Backend, *, fresh: bool) -> None:
        self.backend = backend
        self.holding = True
        self.ctx.acquire(backend)
        conn = None if fresh else self.ctx.pool.take(backend)
        if conn is None:
            self.reused = False
            self.ctx.pool.connect(backend, self)
        else:
            self.reused = True
            self._bind(conn)

    def _release(self) -> None:
        if self.holding and self.backend is not None:
            self.holding = False
            self.ctx.release(self.backend)

    def upstream_connected(self, conn: UpstreamConnection) -> None:
        if self.finished or self.conn is not None:
            self.ctx.pool.give(conn)
            return
        if conn.closed:
            backend_id = self.backend.id if self.backend else "?"
            self.connect_failed(ConnectFailed(backend_id, "closed the connection as soon as it was opened"))
            return
        self._bind(conn)

    def connect_failed(self, err: ConnectFailed) -> None:
        self.ctx.stats.upstream_error(err.kind)
        if self.finished:
            return
        failed = self.backend
        self._release()
        if self.ctx.retry_connect and not self.retried_connect and failed is not None:
            self.retried_connect = True
            other = self.ctx.picker.pick(exclude=failed.id)
            if other is not None:
                self._attempt(other, fresh=False)
                return
        self.reply(err.status, str(err))

    def _bind(self, conn: UpstreamConnection) -> None:
        self.conn = conn
        conn.exchange = self
        if self.pending:
            data = b"".join([self.head_bytes, *self.pending])
            self.pending = []
            self.pending_size = 0
            if self.paused_pending:
                self.paused_pending = False
                self.client.resume(self.client.PENDING)
        else:
            data = self.head_bytes
        conn.write(data)
        if self.client.write_paused and conn.transport is not None:
            conn.transport.pause_reading()

    def _send_body(self, piece: bytes) -> None:
        replay = self.replay
        if replay is not None:
            self.replay_size += len(piece)
            if self.replay_size > REPLAY_LIMIT:
                self.replay = None
            else:
                replay.append(piece)
        conn = self.conn
        if conn is not None:
            conn.write(piece)
            return
        self.pending.append(piece)
        self.pending_size += len(piece)
        if self.pending_size > PENDING_LIMIT and not self.paused_pending:
            self.paused_pending = True
            self.client.pause(self.client.PENDING)

    def _request_failed(self, err: MalformedMessage) -> None:
        """The client's body broke its framing or exceeded the size limit."""
        if self.state == _HEAD:
            self._drop_upstream()
            self.reply(err.status, f"request body: {err.reason}", close=True)
        else:
            self._abort_client()

    def _drop_upstream(self) -> None:
        conn = self.conn
        if conn is not None:
            self.conn = None
            conn.close(abort=True)
        self._release()

    # -- from the upstream side ------------------------------------------------------

    def upstream_pause_writing(self) -> None:
        self.up_blocked = True
        self.client.pause(self.client.UPSTREAM)

    def upstream_resume_writing(self) -> None:
        self.up_blocked = False
        self.client.resume(self.client.UPSTREAM)

    def upstream_data(self, data: bytes) -> None:
        self.progress += 1
        state = self.state
        if state == _BODY:
            self._body(data, 0, b"")
            return
        if state != _HEAD:
            return
        self.got_bytes = True
        buf = self.resp_buf + data if self.resp_buf else data
        i = 0
        backend_id = self.backend.id if self.backend else "?"
        while True:
            end = buf.find(b"\r\n\r\n", i)
            if end < 0:
                if len(buf) - i > self.ctx.max_head:
                    self._upstream_failed(
                        BadResponse(backend_id, f"sent a response head larger than {self.ctx.max_head} bytes")
                    )
                    return
                self.resp_buf = buf[i:] if i else buf
                return
            try:
                resp = parse_response_head(buf[i:end])
            except MalformedMessage as err:
                self._upstream_failed(BadResponse(backend_id, f"sent a malformed response: {err.reason}"))
                return
            i = end + 4
            if resp.status >= 200:
                break
            if resp.status == 101:
                self._upstream_failed(BadResponse(backend_id, "switched protocols, which the balancer does not relay"))
                return
            if self.client.version == 11:
                self.client.write(response_head(resp, close=False, announce_keep_alive=False, dechunk=False))
        self.resp_buf = b""
        self._respond(resp, buf, i)

    def _respond(self, resp: ResponseHead, buf: bytes, i: int) -> None:
        framing = resp.framing(self.req.method)
        self.status = resp.status
        client_v10 = self.client.version == 10
        if not self.request_done or self.ctx.stopping:
            self.close_client = True
        dechunk = client_v10 and framing == Framing.CHUNKED  # HTTP/1.0 cannot read chunked
        if framing == Framing.UNTIL_CLOSE or dechunk:
            self.close_client = True
        self.upstream_keep = resp.keep_alive and framing != Framing.UNTIL_CLOSE
        self.resp_body = BodyReader(framing, resp.length, decode=dechunk)
        head = response_head(
            resp, close=self.close_client, announce_keep_alive=client_v10 and not self.close_client, dechunk=dechunk
        )
        self.state = _BODY
        self._body(buf, i, head)

    def _body(self, data: bytes, i: int, head: bytes) -> None:
        """Response body bytes from ``data[i:]``; ``head`` (if any) goes out first, in the
        same write."""
        body = self.resp_body
        try:
            piece, end = body.feed(data, i)
        except MalformedMessage as err:
            if head:  # nothing sent to the client yet: it can still get a 502
                self.state = _HEAD
            backend_id = self.backend.id if self.backend else "?"
            self._upstream_failed(BadResponse(backend_id, f"sent a malformed chunked body: {err.reason}"))
            return
        if head:
            self.client.write(head + piece if piece else head)
        elif piece:
            self.client.write(piece)
        if body.done:
            self._response_complete(extra=end < len(data))

    def _response_complete(self, *, extra: bool) -> None:
        conn = self.conn
        self.conn = None
        self.state = _DONE
        if conn is not None:
            conn.exchange = None
            if self.upstream_keep and self.request_done and not extra and not conn.closed:
                self.ctx.pool.give(conn)
            else:
                conn.close()
        self._end(self.status, notify=True)

    def upstream_lost(self, exc: Exception | None) -> None:
        self.conn = None
        if self.finished:
            return
        if self.state == _BODY:
            if self.resp_body.framing == Framing.UNTIL_CLOSE:
                self.state = _DONE
                self._end(self.status, notify=True)
                return
            self.ctx.stats.upstream_error("aborted")
            self._abort_client()
            return
        backend = self.backend
        backend_id = backend.id if backend else "?"
        replay = self.replay
        if not self.got_bytes and self.reused and replay is not None and not self.retried_stale and backend is not None:
            # Most likely the backend closed this idle keep-alive connection as the request
            # went out. Replay the request once on a fresh connection.
            self.retried_stale = True
            self._release()
            self.pending = list(replay)
            self.pending_size = self.replay_size
            self._attempt(self.ctx.picker.pick(exclude=backend.id) or backend, fresh=True)
            return
        err: UpstreamError
        if self.got_bytes:
            err = BadResponse(backend_id, "closed the connection in the middle of the response head")
        elif isinstance(exc, ConnectionResetError):
            err = UpstreamClosed(backend_id, "reset the connection before answering")
        else:
            err = UpstreamClosed(backend_id, "closed the connection before answering")
        self._upstream_failed(err)

    def _upstream_failed(self, err: UpstreamError) -> None:
        self.ctx.stats.upstream_error(err.kind)
        if self.state == _HEAD:
            self._drop_upstream()
            self.reply(err.status, str(err))
        else:
            self._abort_client()

    # -- ending ------------------------------------------------------------------------

    def reply(self, status: int, reason: str, *, close: bool = False, retry_after: bool = False) -> None:
        """Answer the client ourselves (nothing of a response was sent yet)."""
        if close or not self.request_done or status in CLOSE_ON or self.ctx.stopping:
            self.close_client = True
        self.state = _DONE
        self.client.write(
            error_response(
                status,
                reason,
                close=self.close_client,
                head_only=self.req.method == b"HEAD",
                retry_after=self.ctx.retry_after if retry_after else 0,
            )
        )
        self._end(status, notify=True)

    def _abort_client(self) -> None:
        """Part of the response is out: the only signal left is closing the connection."""
        conn = self.conn
        if conn is not None:
            self.conn = None
            conn.close(abort=True)
        self.close_client = True
        self.state = _DONE
        self._end(self.status or 502, notify=True)

    def _end(self, status: int, *, notify: bool) -> None:
        self.finished = True
        self._release()
        ctx = self.ctx
        ctx.active -= 1
        # The last backend tried is the one whose answer (or failure) the client got; none
        # was chosen when the balancer answered on its own (503 no backend, 413, 501...).
        backend = self.backend
        ctx.stats.record(status, ctx.loop.time() - self.started, backend.group if backend is not None else None)
        if notify:
            self.client.exchange_done(self.close_client)
