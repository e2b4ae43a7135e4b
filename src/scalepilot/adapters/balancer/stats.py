"""What the balancer counts, and the frozen snapshot the service reads.

The service stores these snapshots as series, so a service can be scaled on request rate,
latency or concurrency even when its app exposes no metrics at all. Hence Prometheus
shapes: cumulative counters that never go backwards (a backend's counters outlive its
removal), and a latency histogram with cumulative ``le`` buckets, ``sum`` and ``count``.

Recording is a few dict and list updates per request, on the event loop; a snapshot
copies them, so readers never see a half-updated state.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    1.5,
    2.5,
    5.0,
    10.0,
)
"""Upper bounds in seconds. Local replicas often answer within milliseconds, hence 1 ms
and 2.5 ms; and latency targets sit between 100 ms and 1 s (the seeds' 200 ms and 500 ms
thresholds among them), where ``histogram_quantile`` interpolates linearly inside a
bucket: with Prometheus's default 100/250/500 ms bounds a service answering in 120 ms
reads as p95 ≈ 240 ms and would never scale down under a 250 ms target, so the bounds
are dense there."""

CLIENT_CLOSED = 499
"""Status recorded for a request whose client went away before its response was complete
(nginx's convention; never sent on the wire)."""


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    buckets: tuple[tuple[float, int], ...]
    """(le, cumulative count) pairs in increasing order, ending with (inf, count)."""
    sum: float
    """Seconds, summed over all requests: request head received to response written."""
    count: int


@dataclass(frozen=True, slots=True)
class BackendStats:
    requests: int
    """Requests sent to this backend since the balancer started (retries count again)."""
    in_flight: int


@dataclass(frozen=True, slots=True)
class BalancerStats:
    """A snapshot; nothing in it changes after it is taken."""

    name: str
    requests: Mapping[int, int]
    """Requests answered, by status code (499: the client closed first)."""
    in_flight: int
    """Requests received and not yet answered."""
    latency: LatencyHistogram
    backends: Mapping[str, BackendStats]
    """By backend id, including removed backends (their counters stay)."""
    upstream_errors: Mapping[str, int]
    """Failed exchanges with backends, by kind (connect_refused, connect_timeout,
    connect_error, timeout, closed, bad_response, aborted)."""
    no_backend: int
    """Requests answered 503 because no backend was ready."""
    connections: int
    """Client connections open now."""
    upstream_connects: int
    """TCP connections opened to backends; against the request count it shows how well
    keep-alive works."""

    @property
    def requests_total(self) -> int:
        return sum(self.requests.values())


class StatsRecorder:
    """The live counters behind ``BalancerStats``; written by the proxy only."""

    __slots__ = (
        "backend_requests",
        "buckets",
        "by_status",
        "latency_sum",
        "no_backend",
        "upstream_connects",
        "upstream_errors",
    )

    def __init__(self) -> None:
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.backend_requests: dict[str, int] = {}
        self.upstream_errors: dict[str, int] = {}
        self.no_backend = 0
        self.upstream_connects = 0

    def record(self, status: int, seconds: float) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def sent(self, backend_id: str) -> None:
        self.backend_requests[backend_id] = self.backend_requests.get(backend_id, 0) + 1

    def upstream_error(self, kind: str) -> None:
        self.upstream_errors[kind] = self.upstream_errors.get(kind, 0) + 1

    def snapshot(self, name: str, *, in_flight: int, outstanding: Mapping[str, int], connections: int) -> BalancerStats:
        cumulative: list[tuple[float, int]] = []
        running = 0
        for le, n in zip((*LATENCY_BUCKETS, math.inf), self.buckets, strict=True):
            running += n
            cumulative.append((le, running))
        backends = {
            backend_id: BackendStats(
                requests=self.backend_requests.get(backend_id, 0), in_flight=outstanding.get(backend_id, 0)
            )
            for backend_id in self.backend_requests.keys() | outstanding.keys()
        }
        return BalancerStats(
            name=name,
            requests=MappingProxyType(dict(self.by_status)),
            in_flight=in_flight,
            latency=LatencyHistogram(buckets=tuple(cumulative), sum=self.latency_sum, count=running),
            backends=MappingProxyType(backends),
            upstream_errors=MappingProxyType(dict(self.upstream_errors)),
            no_backend=self.no_backend,
            connections=connections,
            upstream_connects=self.upstream_connects,
        )
