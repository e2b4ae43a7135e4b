"""Per-replica-group request counts of the balancer, without sockets.

The real ``Exchange`` relays each request between a fake client and fake upstream
connections (the test plays the backend's part: connected, refused, answered), on a fake
clock, with the real picker and counters of a ``Balancer`` that is never started.

Covers: requests are counted by status and latency in the group of the backend that
answered, with the service-wide definitions and ``LATENCY_BUCKETS``; a connect failure
retried on another group's backend counts in that group, and one that finds no other
backend (502) in the failed backend's group; a client gone after its backend was chosen
(499) counts in that backend's group; requests answered with no backend (503 no backend,
413 before routing, a malformed head) are in no group and only in the service-wide
counts; a group is in the snapshot (at zero) as soon as it has a backend; a group whose
backends all go away keeps its counters, and they continue when it comes back; the
snapshot is frozen and does not change with later requests.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import FrozenInstanceError
from typing import cast

import pytest

from scalepilot.adapters.balancer import LATENCY_BUCKETS, Backend, Balancer, GroupStats
from scalepilot.adapters.balancer.context import Context
from scalepilot.adapters.balancer.errors import ConnectFailed
from scalepilot.adapters.balancer.exchange import Exchange
from scalepilot.adapters.balancer.http1 import parse_request_head
from scalepilot.adapters.balancer.pool import Pool
from scalepilot.adapters.balancer.proxy import ClientConnection
from scalepilot.adapters.balancer.upstream import UpstreamConnection
from scalepilot.config.balancer import BalancerSettings

S1 = Backend("s1", "127.0.0.1", 9001, "stable")
S2 = Backend("s2", "127.0.0.1", 9002, "stable")
C1 = Backend("c1", "127.0.0.1", 9003, "canary")


class Clock:
    """Stands in for the event loop: the exchange only asks it for the time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


class FakeClient:
    """What an exchange uses of its client connection."""

    UPSTREAM = ClientConnection.UPSTREAM
    PENDING = ClientConnection.PENDING

    def __init__(self) -> None:
        self.forward_ip = b"127.0.0.1"
        self.version = 11
        self.write_paused = False
        self.written = b""
        self.done: list[bool] = []

    def write(self, data: bytes) -> None:
        self.written += data

    def pause(self, reason: int) -> None:
        pass

    def resume(self, reason: int) -> None:
        pass

    def exchange_done(self, close: bool) -> None:
        self.done.append(close)


class FakeConn:
    """An open upstream connection; what the exchange writes to it is kept."""

    def __init__(self) -> None:
        self.exchange: Exchange | None = None
        self.closed = False
        self.transport = None
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data

    def close(self, abort: bool = False) -> None:
        self.closed = True


class FakePool:
    """Never has an idle connection; records which backend each connect was for."""

    def __init__(self) -> None:
        self.connects: list[tuple[Backend, Exchange]] = []

    def take(self, backend: Backend) -> None:
        return None

    def connect(self, backend: Backend, exchange: Exchange) -> None:
        self.connects.append((backend, exchange))

    def give(self, conn: FakeConn) -> None:
        conn.exchange = None


class Harness:
    def __init__(self, settings: BalancerSettings | None = None) -> None:
        self.settings = settings or BalancerSettings()
        self.balancer = Balancer("shop", self.settings)
        self.clock = Clock()
        self.pool = FakePool()
        self.ctx = Context(
            "shop",
            self.settings,
            cast(asyncio.AbstractEventLoop, self.clock),
            picker=self.balancer._picker,
            pool=cast(Pool, self.pool),
            stats=self.balancer._stats,
        )

    def request(self, head: bytes = b"GET / HTTP/1.1\r\nHost: t") -> tuple[Exchange, FakeClient]:
        """A request arrives; returns its exchange (routed, connecting) and its client."""
        client = FakeClient()
        ex = Exchange(self.ctx, cast(ClientConnection, client), parse_request_head(head), self.clock.now)
        ex.open(b"")
        return ex, client

    def connecting_to(self, ex: Exchange) -> Backend:
        """The backend the exchange's latest connect is for."""
        backend, waiting = self.pool.connects[-1]
        assert waiting is ex
        return backend

    def answer(self, ex: Exchange, status: int, after: float) -> None:
        """The backend being connected to accepts and answers ``status`` ``after`` seconds."""
        conn = FakeConn()
        ex.upstream_connected(cast(UpstreamConnection, conn))
        assert conn.sent.startswith(b"GET / HTTP/1.1\r\n")
        self.clock.now += after
        ex.upstream_data(b"HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok" % status)
        assert ex.finished

    def serve(self, status: int, after: float = 0.002) -> Backend:
        """One request, answered by whichever backend the picker chose; returns that backend."""
        ex, client = self.request()
        backend = self.connecting_to(ex)
        self.answer(ex, status, after)
        assert client.written.startswith(b"HTTP/1.1 %d" % status)
        return backend


def bucket_count(group: GroupStats, le: float) -> int:
    return dict(group.latency.buckets)[le]


def test_each_group_counts_the_requests_its_backends_answered() -> None:
    h = Harness()
    h.balancer.set_backends([S1, S2, C1])
    h.balancer.set_group_weights({"stable": 9, "canary": 1})
    served: list[Backend] = []
    # The picker decides which group answers; the canary's backend fails, stable ones succeed.
    for _ in range(20):
        ex, _client = h.request()
        backend = h.connecting_to(ex)
        if backend.group == "canary":
            h.answer(ex, 500, after=0.3)
        else:
            h.answer(ex, 200, after=0.002)
        served.append(backend)

    stats = h.balancer.stats()
    assert [b.group for b in served].count("canary") == 2  # 9:1, exact per 10 picks
    assert set(stats.groups) == {"stable", "canary"}
    stable, canary = stats.groups["stable"], stats.groups["canary"]
    assert stable.requests == {200: 18}
    assert canary.requests == {500: 2}
    assert stats.requests == {200: 18, 500: 2}

    assert [le for le, _ in canary.latency.buckets] == [*LATENCY_BUCKETS, math.inf]
    assert stable.latency.count == 18 and canary.latency.count == 2
    assert bucket_count(stable, 0.0025) == 18  # 2 ms
    assert bucket_count(canary, 0.25) == 0 and bucket_count(canary, 0.3) == 2  # 300 ms
    assert canary.latency.buckets[-1] == (math.inf, 2)
    assert stable.latency.sum == pytest.approx(18 * 0.002)
    assert canary.latency.sum == pytest.approx(2 * 0.3)
    # Same definitions as the service-wide histogram: the groups add up to it here.
    total = dict(stats.latency.buckets)
    assert all(total[le] == n + dict(canary.latency.buckets)[le] for le, n in stable.latency.buckets)
    assert stats.latency.sum == pytest.approx(stable.latency.sum + canary.latency.sum)


def test_a_retry_on_another_groups_backend_counts_in_that_group() -> None:
    h = Harness()
    h.balancer.set_backends([S1, C1])
    h.balancer.set_group_weights({"stable": 0, "canary": 1})  # the canary is picked first
    ex, _client = h.request()
    assert h.connecting_to(ex) == C1
    ex.connect_failed(ConnectFailed("c1", "refused the connection"))
    assert h.connecting_to(ex) == S1  # the retry moved to the stable group
    h.answer(ex, 200, after=0.01)

    stats = h.balancer.stats()
    assert stats.groups["stable"].requests == {200: 1}
    assert stats.groups["canary"].requests == {}
    assert stats.groups["canary"].latency.count == 0
    assert stats.backends["c1"].requests == 1 and stats.backends["s1"].requests == 1  # both were tried
    assert stats.upstream_errors == {"connect_error": 1}


def test_a_failure_with_nowhere_to_retry_counts_in_the_failed_backends_group() -> None:
    h = Harness()
    h.balancer.set_backends([C1])
    ex, client = h.request()
    ex.connect_failed(ConnectFailed("c1", "refused the connection"))
    assert client.written.startswith(b"HTTP/1.1 502")
    assert h.balancer.stats().groups["canary"].requests == {502: 1}


def test_a_client_gone_after_routing_counts_in_its_backends_group() -> None:
    h = Harness()
    h.balancer.set_backends([C1])
    ex, _client = h.request()
    h.clock.now += 0.05
    ex.client_lost()
    canary = h.balancer.stats().groups["canary"]
    assert canary.requests == {499: 1}
    assert canary.latency.count == 1 and canary.latency.sum == pytest.approx(0.05)


def test_requests_answered_without_a_backend_are_in_no_group() -> None:
    h = Harness(BalancerSettings(max_request_body=1024))
    ex, client = h.request()  # no backend at all
    assert ex.finished and client.written.startswith(b"HTTP/1.1 503")
    assert h.balancer.stats().groups == {}

    h.balancer.set_backends([S1, C1])
    ex, client = h.request(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4096")  # 413 before routing
    assert ex.finished and client.written.startswith(b"HTTP/1.1 413")
    assert not h.pool.connects
    h.ctx.stats.record(400, 0.0)  # how the proxy counts a head it cannot parse

    stats = h.balancer.stats()
    assert stats.requests == {503: 1, 413: 1, 400: 1}
    assert stats.no_backend == 1 and stats.latency.count == 3
    assert set(stats.groups) == {"stable", "canary"}
    for group in stats.groups.values():
        assert group.requests == {} and group.latency.count == 0 and group.latency.sum == 0.0
        assert group.latency.buckets == tuple((le, 0) for le in (*LATENCY_BUCKETS, math.inf))


def test_a_group_keeps_its_counters_when_its_backends_go_and_continues_them() -> None:
    h = Harness()
    h.balancer.set_backends([S1, C1])
    h.balancer.set_group_weights({"stable": 1, "canary": 1})
    for _ in range(4):
        h.serve(200)
    before = h.balancer.stats()
    assert before.groups["canary"].requests == {200: 2}

    h.balancer.set_backends([S1])  # the rollout removed the canary
    for _ in range(3):
        assert h.serve(503).group == "stable"
    gone = h.balancer.stats()
    assert gone.groups["canary"] == before.groups["canary"]  # kept, unchanged
    assert gone.groups["stable"].requests == {200: 2, 503: 3}

    h.balancer.set_backends([S1, Backend("c2", "127.0.0.1", 9004, "canary")])  # a later canary
    h.balancer.set_group_weights({"stable": 0, "canary": 1})
    assert h.serve(200).id == "c2"
    back = h.balancer.stats()
    assert back.groups["canary"].requests == {200: 3}  # continued, never backwards
    assert back.groups["canary"].latency.count == 3

    # Snapshots are frozen: later requests do not change one already taken.
    assert before.groups["canary"].requests == {200: 2}
    with pytest.raises(TypeError):
        back.groups["canary"].requests[200] = 0  # type: ignore[index]
    with pytest.raises(TypeError):
        back.groups["other"] = back.groups["canary"]  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        back.groups["canary"].requests = {}  # type: ignore[misc]
