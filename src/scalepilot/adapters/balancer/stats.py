"""What the balancer counts, and the frozen snapshot the service reads.

The service stores these snapshots as series, so a service can be scaled on request rate,
latency or concurrency even when its app exposes no metrics at all. Hence Prometheus
shapes: cumulative counters that never go backwards (a backend's counters outlive its
removal, and so do a replica group's), and a latency histogram with cumulative ``le``
buckets, ``sum`` and ``count``.

The same status and latency counts are also kept per replica group, so a canary's error
rate and latency can be told apart from the stable group's. A request belongs to the
group of the last backend it was sent to (the one whose response, or failure, the client
got; a client that gives up on it counts there too); one answered before any backend was
chosen (no backend ready, a request refused by the balancer itself) is in no group, so
the groups add up to at most the service-wide counts.

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
class GroupStats:
    """One replica group's share of ``BalancerStats.requests`` and ``latency``, counted the
    same way."""

    requests: Mapping[int, int]
    """Requests answered, by status code, whose last backend was in this group."""
    latency: LatencyHistogram


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
    groups: Mapping[str, GroupStats]
    """By replica group: every group that has had a backend in the routing set, including
    groups that have none now (their counters stay, and continue if the group returns)."""
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


class _Counts:
    """Requests by status and a latency histogram: the service's, or one group's."""

    __slots__ = ("buckets", "by_status", "latency_sum")

    def __init__(self) -> None:
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0

    def histogram(self) -> LatencyHistogram:
        cumulative: list[tuple[float, int]] = []
        running = 0
        for le, n in zip((*LATENCY_BUCKETS, math.inf), self.buckets, strict=True):
            running += n
            cumulative.append((le, running))
        return LatencyHistogram(buckets=tuple(cumulative), sum=self.latency_sum, count=running)


class StatsRecorder:
    """The live counters behind ``BalancerStats``; written by the proxy only."""

    __slots__ = (
        "backend_requests",
        "groups",
        "no_backend",
        "total",
        "upstream_connects",
        "upstream_errors",
    )

    def __init__(self) -> None:
        self.total = _Counts()
        self.groups: dict[str, _Counts] = {}
        self.backend_requests: dict[str, int] = {}
        self.upstream_errors: dict[str, int] = {}
        self.no_backend = 0
        self.upstream_connects = 0

    def record(self, status: int, seconds: float, group: str | None = None) -> None:
        """One request answered; ``group`` is its last backend's, None if it had none."""
        # Inlined rather than two calls of a shared method: this runs for every request.
        bucket = bisect_left(LATENCY_BUCKETS, seconds)
        total = self.total
        total.by_status[status] = total.by_status.get(status, 0) + 1
        total.buckets[bucket] += 1
        total.latency_sum += seconds
        if group is not None:
            counts = self.groups.get(group)
            if counts is None:
                counts = self.groups[group] = _Counts()
            counts.by_status[status] = counts.by_status.get(status, 0) + 1
            counts.buckets[bucket] += 1
            counts.latency_sum += seconds

    def group_seen(self, group: str) -> None:
        """``group`` has a backend in the routing set: from now on it is in every snapshot,
        so its series start at zero rather than at its first requests (``rate()`` would
        miss those)."""
        if group not in self.groups:
            self.groups[group] = _Counts()

    def sent(self, backend_id: str) -> None:
        self.backend_requests[backend_id] = self.backend_requests.get(backend_id, 0) + 1

    def upstream_error(self, kind: str) -> None:
        self.upstream_errors[kind] = self.upstream_errors.get(kind, 0) + 1

    def snapshot(self, name: str, *, in_flight: int, outstanding: Mapping[str, int], connections: int) -> BalancerStats:
        groups = {
            group: GroupStats(requests=MappingProxyType(dict(counts.by_status)), latency=counts.histogram())
            for group, counts in self.groups.items()
        }
        backends = {
            backend_id: BackendStats(
                requests=self.backend_requests.get(backend_id, 0), in_flight=outstanding.get(backend_id, 0)
            )
            for backend_id in self.backend_requests.keys() | outstanding.keys()
        }
        return BalancerStats(
            name=name,
            requests=MappingProxyType(dict(self.total.by_status)),
            in_flight=in_flight,
            latency=self.total.histogram(),
            groups=MappingProxyType(groups),
            backends=MappingProxyType(backends),
            upstream_errors=MappingProxyType(dict(self.upstream_errors)),
            no_backend=self.no_backend,
            connections=connections,
            upstream_connects=self.upstream_connects,
        )
