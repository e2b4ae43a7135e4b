"""The control API of one service's balancer: start, stop, route, drain, count.

The service layer owns one ``Balancer`` per service and tells it which replicas are
ready (``set_backends``), how to split traffic between replica groups
(``set_group_weights``), and reads ``stats()`` snapshots into stored series. Removing a
backend only stops *new* requests to it; requests in flight finish, and ``wait_idle``
tells the service when the replica can be stopped without cutting anyone off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from scalepilot.adapters.balancer.backend import Backend
from scalepilot.adapters.balancer.context import Context
from scalepilot.adapters.balancer.errors import BalancerStateError, BindError
from scalepilot.adapters.balancer.picker import Picker
from scalepilot.adapters.balancer.pool import Pool
from scalepilot.adapters.balancer.proxy import ClientConnection
from scalepilot.adapters.balancer.stats import BalancerStats, StatsRecorder
from scalepilot.config.balancer import BalancerSettings

LISTEN_BACKLOG = 1024
"""Pending connections the kernel queues before accept; asyncio's default of 100 drops
SYNs (a one-second client stall) when a few hundred clients connect at once."""


class Balancer:
    """An HTTP/1.1 reverse proxy on one port, spreading requests over a service's replicas."""

    def __init__(self, name: str, settings: BalancerSettings) -> None:
        self.name = name
        self.settings = settings
        self._picker = Picker()
        self._stats = StatsRecorder()
        self._pool = Pool(
            connect_timeout=settings.connect_timeout,
            max_idle=settings.upstream_keepalive,
            idle_timeout=settings.upstream_idle_timeout,
            stats=self._stats,
        )
        self._ctx: Context | None = None
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._stopped = False

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually listened on; the port is the chosen one when 0 was asked."""
        if self._address is None:
            raise BalancerStateError(f"balancer {self.name} is not started")
        return self._address

    async def start(self) -> None:
        """Bind the listen address and start accepting clients. Raises BindError."""
        if self._server is not None or self._stopped:
            raise BalancerStateError(f"balancer {self.name} was already started; a stopped balancer cannot restart")
        loop = asyncio.get_running_loop()
        ctx = Context(self.name, self.settings, loop, picker=self._picker, pool=self._pool, stats=self._stats)
        self._pool.start(loop)
        host, port = self.settings.host, self.settings.port
        try:
            server = await loop.create_server(
                lambda: ClientConnection(ctx), host, port, backlog=LISTEN_BACKLOG, reuse_address=True
            )
        except OSError as exc:
            raise BindError(
                f"balancer {self.name} cannot listen on {self.settings.listen}: {exc.strerror or exc}"
            ) from exc
        self._ctx = ctx
        self._server = server
        sockname = server.sockets[0].getsockname()
        self._address = (str(sockname[0]), int(sockname[1]))

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish for up to ``shutdown_grace``, cut
        the rest, close every connection. Idempotent."""
        server, ctx = self._server, self._ctx
        if server is None or ctx is None or self._stopped:
            self._stopped = True
            return
        self._stopped = True
        ctx.stopping = True
        server.close()
        ctx.drained = asyncio.Event()
        for conn in list(ctx.connections):
            conn.shutdown()
        if ctx.connections and not await self._wait_drained(ctx.drained, self.settings.shutdown_grace):
            for conn in list(ctx.connections):
                conn.abort()
            await self._wait_drained(ctx.drained, 5.0)
        await self._pool.close()
        await server.wait_closed()

    @staticmethod
    async def _wait_drained(drained: asyncio.Event, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                await drained.wait()
        except TimeoutError:
            return False
        return True

    def set_backends(self, backends: Sequence[Backend]) -> None:
        """Replace the routing set at once. Removed backends get no new requests; their
        requests in flight finish (see ``in_flight`` and ``wait_idle``). Raises
        InvalidBackends on duplicate ids or invalid ports."""
        self._picker.set_backends(backends)
        self._pool.retain(backends)
        for backend in backends:
            self._stats.group_seen(backend.group)

    def set_group_weights(self, weights: Mapping[str, float]) -> None:
        """Traffic share per replica group, e.g. ``{"stable": 90, "canary": 10}``; groups
        not named weigh 1. Raises InvalidBackends on negative or non-finite weights."""
        self._picker.set_weights(weights)

    def in_flight(self, backend_id: str) -> int:
        """Requests sent to ``backend_id`` and not yet answered."""
        return self._picker.outstanding(backend_id)

    async def wait_idle(self, backend_id: str, timeout: float) -> bool:  # noqa: ASYNC109 - the service's API
        """Wait until ``backend_id`` has no request in flight; False if ``timeout``
        seconds pass first. For draining a replica before stopping it."""
        if self._picker.outstanding(backend_id) == 0:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._ctx.idle_waiters if self._ctx is not None else {}
        waiters.setdefault(backend_id, []).append(waiter)
        try:
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
        finally:
            if not waiter.done():
                waiter.cancel()
            listed = waiters.get(backend_id)
            if listed is not None and waiter in listed:
                listed.remove(waiter)
                if not listed:
                    del waiters[backend_id]
        return bool(done)

    def stats(self) -> BalancerStats:
        """A frozen snapshot of the counters."""
        outstanding = {b.id: 0 for b in self._picker.backends}
        outstanding.update(self._picker.outstanding_all())
        ctx = self._ctx
        return self._stats.snapshot(
            self.name,
            in_flight=ctx.active if ctx is not None else 0,
            outstanding=outstanding,
            connections=len(ctx.connections) if ctx is not None else 0,
        )
