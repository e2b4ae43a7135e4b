"""What every connection of one balancer shares: settings, picker, pool, counters.

Built once by ``Balancer`` and handed to each client connection, so the per-request code
reads plain attributes (settings already converted to what it needs) instead of walking
the settings model on the hot path.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

from scalepilot.adapters.balancer.backend import Backend
from scalepilot.adapters.balancer.headers import ForwardedStyle
from scalepilot.adapters.balancer.picker import Picker
from scalepilot.adapters.balancer.pool import Pool
from scalepilot.adapters.balancer.stats import StatsRecorder
from scalepilot.config.balancer import BalancerSettings

if TYPE_CHECKING:
    from scalepilot.adapters.balancer.proxy import ClientConnection


class Context:
    __slots__ = (
        "active",
        "client_keepalive",
        "client_timeout",
        "connections",
        "drained",
        "forwarded",
        "idle_waiters",
        "loop",
        "max_body",
        "max_head",
        "name",
        "picker",
        "pool",
        "response_timeout",
        "retry_after",
        "retry_connect",
        "stats",
        "stopping",
        "tick",
    )

    def __init__(
        self,
        name: str,
        settings: BalancerSettings,
        loop: asyncio.AbstractEventLoop,
        *,
        picker: Picker,
        pool: Pool,
        stats: StatsRecorder,
    ) -> None:
        self.name = name
        self.loop = loop
        self.picker = picker
        self.pool = pool
        self.stats = stats
        self.client_timeout = settings.client_timeout
        self.client_keepalive = settings.client_keepalive
        self.response_timeout = settings.response_timeout
        self.max_body = settings.max_request_body
        self.max_head = settings.max_header_size
        self.retry_connect = settings.retry_on_connect_failure
        self.tick = min(settings.client_timeout, settings.client_keepalive, settings.response_timeout) / 8
        """Seconds between two timeout checks of a connection: timeouts fire at most an
        eighth of the shortest timeout late, for one timer per connection."""
        self.retry_after = max(1, math.ceil(settings.retry_after))
        self.forwarded: ForwardedStyle = settings.forwarded
        self.connections: set[ClientConnection] = set()
        self.active = 0
        """Exchanges (client requests) in progress."""
        self.stopping = False
        self.idle_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.drained: asyncio.Event | None = None
        """Set when the last client connection closes, while the balancer stops."""

    def acquire(self, backend: Backend) -> None:
        """A request is being sent to ``backend``."""
        self.picker.acquire(backend.id)
        self.stats.sent(backend.id)

    def release(self, backend: Backend) -> None:
        """A request on ``backend`` is over (answered, failed or abandoned)."""
        if self.picker.release(backend.id) == 0:
            waiters = self.idle_waiters.pop(backend.id, None)
            if waiters:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def connection_closed(self, conn: ClientConnection) -> None:
        self.connections.discard(conn)
        if self.drained is not None and not self.connections:
            self.drained.set()
