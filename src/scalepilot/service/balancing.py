"""The balancer's counters as stored series.

The balancer sees every request a local service gets, so scalepilot can scale on request
rate, latency and concurrency even when the app exposes no metrics. Each scrape interval
the balancer's snapshot is stored in Prometheus shapes (monotonic counters, a cumulative
``le`` histogram), so ``rate()`` and ``histogram_quantile()`` read them as they read any
exporter's:

* ``scalepilot_lb_requests_total{service, code}``
* ``scalepilot_lb_request_duration_seconds_bucket{service, le}`` (+ ``_sum``, ``_count``)
* ``scalepilot_lb_in_flight{service}``, ``scalepilot_lb_no_backend_total{service}``
* ``scalepilot_lb_backend_requests_total{service, replica}``,
  ``scalepilot_lb_backend_in_flight{service, replica}``
* ``scalepilot_lb_upstream_errors_total{service, kind}``
* ``scalepilot_lb_group_requests_total{service, group, code}``
* ``scalepilot_lb_group_request_duration_seconds_bucket{service, group, le}`` (+ ``_sum``,
  ``_count``): the same two per replica group (``stable``, ``canary``), so a canary's
  error rate and latency can be compared with the stable group's. A request is in the
  group of the last backend it was sent to; one answered without a backend (503 no
  backend) is in none, so the groups add up to at most the service-wide series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from scalepilot.adapters.balancer import BalancerStats
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.store import Store


def format_le(bound: float) -> str:
    """Prometheus's spelling of a bucket bound: ``+Inf``, ``0.005``, ``1``."""
    if math.isinf(bound):
        return "+Inf"
    return repr(bound) if bound != int(bound) else str(int(bound))


class BalancerRecorder:
    def __init__(self, service: str, store: Store) -> None:
        self.service = service
        self._store = store
        self._ids: dict[Labels, int] = {}

    def _labels(self, name: str, **extra: str) -> Labels:
        return make_labels(name, {"job": self.service, "service": self.service, **extra})

    def record(self, stats: BalancerStats, replica_index: Mapping[str, int], ts_ms: int) -> int:
        rows: list[tuple[Labels, float]] = []
        add = rows.append
        for code, count in stats.requests.items():
            add((self._labels("scalepilot_lb_requests_total", code=str(code)), float(count)))
        for le, count in stats.latency.buckets:
            add((self._labels("scalepilot_lb_request_duration_seconds_bucket", le=format_le(le)), float(count)))
        add((self._labels("scalepilot_lb_request_duration_seconds_sum"), stats.latency.sum))
        add((self._labels("scalepilot_lb_request_duration_seconds_count"), float(stats.latency.count)))
        for group, counts in stats.groups.items():
            hist = counts.latency
            for code, count in counts.requests.items():
                add((self._labels("scalepilot_lb_group_requests_total", group=group, code=str(code)), float(count)))
            for le, count in hist.buckets:
                labels = self._labels(
                    "scalepilot_lb_group_request_duration_seconds_bucket", group=group, le=format_le(le)
                )
                add((labels, float(count)))
            add((self._labels("scalepilot_lb_group_request_duration_seconds_sum", group=group), hist.sum))
            add((self._labels("scalepilot_lb_group_request_duration_seconds_count", group=group), float(hist.count)))
        add((self._labels("scalepilot_lb_in_flight"), float(stats.in_flight)))
        add((self._labels("scalepilot_lb_no_backend_total"), float(stats.no_backend)))
        for kind, count in stats.upstream_errors.items():
            add((self._labels("scalepilot_lb_upstream_errors_total", kind=kind), float(count)))
        for backend_id, backend in stats.backends.items():
            index = replica_index.get(backend_id)
            if index is None:
                continue  # a replica that is gone: its counters stop, and go stale by lookback
            replica = str(index)
            add((self._labels("scalepilot_lb_backend_requests_total", replica=replica), float(backend.requests)))
            add((self._labels("scalepilot_lb_backend_in_flight", replica=replica), float(backend.in_flight)))
        unknown = [labels for labels, _ in rows if labels not in self._ids]
        if unknown:
            self._ids.update(zip(unknown, self._store.series_ids(unknown), strict=True))
        self._store.append([self._ids[labels] for labels, _ in rows], ts_ms, [value for _, value in rows])
        return len(rows)
