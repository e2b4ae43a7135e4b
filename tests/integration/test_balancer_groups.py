"""Per-replica-group statistics of a real balancer, through to stored series.

A started ``Balancer`` on 127.0.0.1 in front of real backend servers: two in the
``stable`` group, one ``canary`` that answers 500 to everything, weights 90/10; a bounded
number of requests from a few concurrent clients, and one request while no backend is
ready.

Covers: the snapshot's ``groups`` count each group's requests by status (the canary's
share exactly 10 %, all of it 500; the stable group's all 200) with a histogram per
group; the no-backend 503 is only in the service-wide counts; the groups' counters stay
after their backends are gone; ``BalancerRecorder`` writes
``scalepilot_lb_group_requests_total`` and ``scalepilot_lb_group_request_duration_seconds``
(``_bucket``, ``_sum``, ``_count``) with the labels ``job``, ``service`` and ``group`` into
a real SQLite store, at zero before any traffic, and PromQL reads them back (a canary
error ratio per group; counts that match the snapshot) next to the unchanged
service-wide series.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from pathlib import Path

from scalepilot.adapters.balancer import LATENCY_BUCKETS, BalancerStats
from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.control.query.engine import Engine
from scalepilot.domain.labels import get_label
from scalepilot.service.balancing import BalancerRecorder, format_le
from tests.integration.test_balancer_support import App, Client, apps, running

CLIENTS = 4
REQUESTS_PER_CLIENT = 50
T0 = 1_700_000_000_000
T1 = T0 + 15_000


class FailingApp(App):
    """A replica whose every answer is a 500 (a broken canary), body and framing intact."""

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        extra: Sequence[str] = (),
        head_only: bool = False,
    ) -> None:
        await super()._send(writer, 500, body, extra=extra, head_only=head_only)


async def load(port: int) -> list[int]:
    """Statuses of CLIENTS keep-alive connections sending REQUESTS_PER_CLIENT each."""

    async def one_client() -> list[int]:
        client = await Client.open(port)
        try:
            return [(await client.request("GET", "/")).status for _ in range(REQUESTS_PER_CLIENT)]
        finally:
            await client.close()

    results = await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return [status for statuses in results for status in statuses]


def instant(engine: Engine, expr: str) -> dict[tuple[str, ...], float]:
    """An instant query at T1, as {(group, code or le...): value} by the labels that vary."""
    result = engine.instant(expr, T1)
    out: dict[tuple[str, ...], float] = {}
    for sample in result.vector:
        key = tuple(v for name in ("group", "code", "le") if (v := get_label(sample.labels, name)))
        out[key] = sample.value
    return out


async def test_group_counts_and_stored_series(tmp_path: Path) -> None:
    canary = FailingApp("c1")
    await canary.start()
    try:
        async with apps("s1", "s2") as (s1, s2), running() as (bal, port):
            bal.set_backends([s1.backend("stable"), s2.backend("stable"), canary.backend("canary")])
            bal.set_group_weights({"stable": 90, "canary": 10})
            with SQLiteStore.open(tmp_path, StorageSettings()) as store:
                recorder = BalancerRecorder("shop", store)
                replicas = {"s1": 0, "s2": 1, "c1": 2}
                recorder.record(bal.stats(), replicas, T0)  # before any request

                statuses = await load(port)
                total = CLIENTS * REQUESTS_PER_CLIENT
                assert len(statuses) == total
                assert statuses.count(500) == len(canary.requests) == total // 10  # 90/10, exact
                assert statuses.count(200) == len(s1.requests) + len(s2.requests) == total - total // 10

                bal.set_backends([])  # every group loses its backends; one request gets 503
                no_backend = await Client.open(port)
                try:
                    assert (await no_backend.request("GET", "/")).status == 503
                finally:
                    await no_backend.close()

                stats = bal.stats()
                check_snapshot(stats, total)
                recorder.record(stats, replicas, T1)
                check_stored(Engine(store), total)
    finally:
        await canary.stop()


def check_snapshot(stats: BalancerStats, total: int) -> None:
    canary_n, stable_n = total // 10, total - total // 10
    assert stats.requests == {200: stable_n, 500: canary_n, 503: 1}
    assert stats.no_backend == 1
    assert set(stats.groups) == {"stable", "canary"}  # kept with no backend left
    stable, canary = stats.groups["stable"], stats.groups["canary"]
    assert stable.requests == {200: stable_n}
    assert canary.requests == {500: canary_n}
    for group, n in ((stable, stable_n), (canary, canary_n)):
        hist = group.latency
        assert hist.count == n and hist.buckets[-1] == (math.inf, n)
        assert [le for le, _ in hist.buckets[:-1]] == list(LATENCY_BUCKETS)
        counts = [c for _, c in hist.buckets]
        assert counts == sorted(counts)  # cumulative
        assert hist.sum > 0
    # The 503 was answered in no group: the groups account for every other request.
    assert stats.latency.count == stable.latency.count + canary.latency.count + 1


def check_stored(engine: Engine, total: int) -> None:
    canary_n, stable_n = total // 10, total - total // 10
    assert instant(engine, 'scalepilot_lb_group_requests_total{job="shop", service="shop"}') == {
        ("stable", "200"): stable_n,
        ("canary", "500"): canary_n,
    }
    # What canary analysis will ask: the 5xx share per group.
    ratio = instant(
        engine,
        'sum by (group) (scalepilot_lb_group_requests_total{service="shop", code=~"5.."})'
        ' / sum by (group) (scalepilot_lb_group_requests_total{service="shop"})',
    )
    assert ratio == {("canary",): 1.0}
    counts = instant(engine, 'scalepilot_lb_group_request_duration_seconds_count{service="shop"}')
    assert counts == {("stable",): stable_n, ("canary",): canary_n}
    sums = instant(engine, 'scalepilot_lb_group_request_duration_seconds_sum{service="shop"}')
    assert set(sums) == {("stable",), ("canary",)} and all(v > 0 for v in sums.values())
    buckets = instant(engine, 'scalepilot_lb_group_request_duration_seconds_bucket{service="shop", group="canary"}')
    assert set(buckets) == {("canary", format_le(le)) for le in (*LATENCY_BUCKETS, math.inf)}
    assert buckets[("canary", "+Inf")] == canary_n
    # Written at zero before the traffic, so increase() sees every request of the window.
    grown = instant(engine, 'increase(scalepilot_lb_group_request_duration_seconds_count{service="shop"}[1m])')
    assert grown == {("stable",): stable_n, ("canary",): canary_n}
    # The service-wide series are unchanged, and they hold the 503 no group has.
    assert instant(engine, 'scalepilot_lb_requests_total{service="shop"}') == {
        ("200",): stable_n,
        ("500",): canary_n,
        ("503",): 1,
    }
    assert instant(engine, 'scalepilot_lb_request_duration_seconds_count{service="shop"}') == {(): total + 1}
    assert instant(engine, 'sum(scalepilot_lb_backend_requests_total{service="shop"})') == {(): total}
