"""Turning stored series into the readings the autoscaling engine compares with targets.

Each metric kind reads what scalepilot itself records about a local service, so
scaling works even when the app exposes no metrics:

=========  ==============================================================================
cpu        per replica: ``sum(rate(scalepilot_process_cpu_seconds_total[w]))`` over the
           replica's processes, as % of its CPU limit (one core when unset)
memory     per replica: newest ``scalepilot_process_resident_memory_bytes`` as % of its
           memory limit
rps        per replica: ``rate(scalepilot_lb_backend_requests_total[w])`` at the balancer;
           with no replica running, the service's ``sum(rate(scalepilot_lb_requests_total[w]))``
in_flight  per replica: ``avg_over_time(scalepilot_lb_backend_in_flight[w])``; with no
           replica running, the service's ``avg_over_time(scalepilot_lb_in_flight[w])``
latency    service: ``histogram_quantile(q, sum by (le) (rate(
           scalepilot_lb_request_duration_seconds_bucket[w])))``; 0 when no request came
series     any PromQL expression, evaluated at the tick through the service's metric
           source (the embedded store, or an external Prometheus): ``value`` is the sum
           of the result's samples (or the scalar); ``average_value`` is the sum per
           replica by the ``replica`` label, or the service total when the series carry
           no replica label or the target has no replica list (a command target)
=========  ==============================================================================

A reading that cannot be made (no samples yet, a stale series, a query the source
rejects, a source that is down) is ``None`` for the whole metric or absent for one
replica; the engine then applies the HPA's missing-metric rules (never scale down on
missing data).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scalepilot.config.scaling import (
    CPUMetric,
    InFlightMetric,
    LatencyMetric,
    MemoryMetric,
    Metric,
    RPSMetric,
    SeriesMetric,
)
from scalepilot.control.query.engine import Engine
from scalepilot.control.query.functions import bucket_quantile, extrapolated_rate, window
from scalepilot.domain.labels import get_label
from scalepilot.domain.matchers import Matcher, MatchOp, name_matcher
from scalepilot.domain.query import MetricSource, QueryError, QueryResult, ResultType
from scalepilot.domain.samples import SeriesData, stale_mask
from scalepilot.domain.scaling import MetricReading
from scalepilot.domain.store import Store
from scalepilot.domain.targets import Replica

log = logging.getLogger(__name__)

LOOKBACK_MS = 300_000
"""How far back a gauge's newest sample still counts: Prometheus's lookback delta."""


@dataclass(frozen=True, slots=True)
class ReadContext:
    service: str
    replicas: Sequence[Replica]
    now_ms: int
    window_ms: int
    cpu_limit_cores: float | None
    memory_limit_bytes: int | None


def read_metric(store: Store, metric: Metric, ctx: ReadContext) -> MetricReading | None:
    if isinstance(metric, CPUMetric):
        return _per_replica(_cpu(store, ctx))
    if isinstance(metric, MemoryMetric):
        return _per_replica(_memory(store, ctx))
    if isinstance(metric, RPSMetric):
        if not ctx.replicas:
            return _service_total(_rates(store, "scalepilot_lb_requests_total", ctx, by_replica=False))
        return _per_replica(_rates(store, "scalepilot_lb_backend_requests_total", ctx))
    if isinstance(metric, InFlightMetric):
        if not ctx.replicas:
            return _service_total(_averages(store, "scalepilot_lb_in_flight", ctx, by_replica=False))
        return _per_replica(_averages(store, "scalepilot_lb_backend_in_flight", ctx))
    if isinstance(metric, LatencyMetric):
        value = _latency(store, metric.quantile, ctx)
        return None if value is None else MetricReading(value=value)
    if isinstance(metric, SeriesMetric):
        # Synchronous, straight from the store (tests, tools); the service goes through
        # read_metrics and its metric source instead.
        try:
            result = Engine(store, lookback_ms=LOOKBACK_MS).instant(metric.query, ctx.now_ms)
            return series_reading(result, metric, ctx)
        except QueryError as exc:
            log.warning("%s: series metric %s: %s", ctx.service, metric.metric_name, exc)
            return None
    raise TypeError(f"unknown metric kind {metric!r}")


async def read_metrics(
    store: Store,
    source: MetricSource,
    metrics: Sequence[Metric],
    ctx: ReadContext,
    problems: dict[str, QueryError] | None = None,
) -> dict[str, MetricReading | None]:
    """Every metric's reading: ``series`` metrics through ``source`` (PromQL, maybe an
    external Prometheus), the kinds scalepilot measures itself from ``store``. A
    ``series`` query that fails leaves its reading None and its error in ``problems``
    (so a decision can say why the metric is missing)."""
    out: dict[str, MetricReading | None] = {}
    for metric in metrics:
        if isinstance(metric, SeriesMetric):
            try:
                out[metric.metric_name] = await read_series(source, metric, ctx)
            except QueryError as exc:
                # A source that is down logs its own transitions; repeating it every
                # tick is noise.
                level = logging.DEBUG if exc.kind == "unavailable" else logging.WARNING
                log.log(level, "%s: series metric %s from %s: %s", ctx.service, metric.metric_name, source.name, exc)
                out[metric.metric_name] = None
                if problems is not None:
                    problems[metric.metric_name] = exc
        else:
            out[metric.metric_name] = read_metric(store, metric, ctx)
    return out


async def read_series(source: MetricSource, metric: SeriesMetric, ctx: ReadContext) -> MetricReading | None:
    """A ``series`` metric's reading (None: no samples). Raises QueryError when the
    query fails or the source is down (``kind="unavailable"``)."""
    result = await source.query(metric.query, ctx.now_ms)
    return series_reading(result, metric, ctx)


def series_reading(result: QueryResult, metric: SeriesMetric, ctx: ReadContext) -> MetricReading | None:
    """Turn a query's result into a reading; raises QueryError for a result that is not
    a number per series (a range vector, a string)."""
    if result.type is ResultType.SCALAR:
        assert result.scalar is not None
        return MetricReading(value=result.scalar[1])
    if result.type is not ResultType.VECTOR:
        raise QueryError(
            f"the query returns a {result.type.value}; a series metric needs an instant vector or a scalar",
            kind="bad_data",
        )
    samples = result.vector
    if not samples:
        return None
    total = sum(s.value for s in samples)
    if metric.target_type == "value":
        return MetricReading(value=total)
    ids = {str(r.index): r.id for r in ctx.replicas}
    if not ids or not any(get_label(s.labels, "replica") for s in samples):
        return MetricReading(value=total)  # a service-level reading: the total
    per: dict[str, float] = defaultdict(float)
    for s in samples:
        rid = ids.get(get_label(s.labels, "replica"))
        if rid is not None:
            per[rid] += s.value
    return MetricReading(per_replica=dict(per))


def _per_replica(values: Mapping[str, float] | None) -> MetricReading | None:
    return None if values is None else MetricReading(per_replica=values)


def _service_total(values: Mapping[str, float] | None) -> MetricReading | None:
    """With no replica running (scaled to zero), the balancer's service-wide figures: its
    requests are answered 503 but still counted, which is what wakes the service."""
    return None if values is None else MetricReading(value=sum(values.values()))


def _by_replica(series: list[SeriesData], ctx: ReadContext) -> dict[str, list[SeriesData]]:
    """Series grouped by the replica id whose index is their ``replica`` label."""
    ids = {str(r.index): r.id for r in ctx.replicas}
    out: dict[str, list[SeriesData]] = defaultdict(list)
    for s in series:
        rid = ids.get(get_label(s.labels, "replica"))
        if rid is not None:
            out[rid].append(s)
    return out


def _select(store: Store, name: str, ctx: ReadContext, lookback_ms: int) -> list[SeriesData]:
    return store.select(
        [name_matcher(name), Matcher("service", MatchOp.EQ, ctx.service)], ctx.now_ms - lookback_ms, ctx.now_ms
    )


def _rates(
    store: Store, name: str, ctx: ReadContext, scale: float = 1.0, *, by_replica: bool = True
) -> dict[str, float] | None:
    """``sum by (replica) (rate(name[window]))``, keyed by replica id (or all series under
    one key when not ``by_replica``)."""
    series = _select(store, name, ctx, ctx.window_ms)
    if not series:
        return None
    out: dict[str, float] = {}
    groups = _by_replica(series, ctx) if by_replica else {"": series}
    for rid, group in groups.items():
        rates = [extrapolated_rate(s.timestamps, s.values, ctx.now_ms, ctx.window_ms) for s in group]
        known = [r for r in rates if r is not None]
        if known:
            out[rid] = sum(known) * scale
    return out


def _averages(store: Store, name: str, ctx: ReadContext, *, by_replica: bool = True) -> dict[str, float] | None:
    """``avg_over_time(name[window])`` per replica (or over all series)."""
    series = _select(store, name, ctx, ctx.window_ms)
    if not series:
        return None
    out: dict[str, float] = {}
    groups = _by_replica(series, ctx) if by_replica else {"": series}
    for rid, group in groups.items():
        values = [window(s.timestamps, s.values, ctx.now_ms, ctx.window_ms)[1] for s in group]
        joined = [float(v) for vs in values for v in vs]
        if joined:
            out[rid] = sum(joined) / len(joined)
    return out


def _cpu(store: Store, ctx: ReadContext) -> dict[str, float] | None:
    cores = ctx.cpu_limit_cores or 1.0
    return _rates(store, "scalepilot_process_cpu_seconds_total", ctx, scale=100.0 / cores)


def _memory(store: Store, ctx: ReadContext) -> dict[str, float] | None:
    if not ctx.memory_limit_bytes:
        return None
    series = _select(store, "scalepilot_process_resident_memory_bytes", ctx, LOOKBACK_MS)
    if not series:
        return None
    out: dict[str, float] = {}
    for rid, group in _by_replica(series, ctx).items():
        newest = _newest(group)
        if newest is not None:
            out[rid] = newest * 100.0 / ctx.memory_limit_bytes
    return out


def _newest(group: list[SeriesData]) -> float | None:
    """The newest non-stale value among a replica's series (its current process)."""
    best_t, best_v = -1, None
    for s in group:
        if len(s.values) and not stale_mask(s.values[-1:])[0] and s.timestamps[-1] > best_t:
            best_t, best_v = int(s.timestamps[-1]), float(s.values[-1])
    return best_v


def _latency(store: Store, q: float, ctx: ReadContext) -> float | None:
    series = _select(store, "scalepilot_lb_request_duration_seconds_bucket", ctx, ctx.window_ms)
    if not series:
        return None
    by_le: dict[float, float] = defaultdict(float)
    for s in series:
        rate = extrapolated_rate(s.timestamps, s.values, ctx.now_ms, ctx.window_ms)
        if rate is not None:
            by_le[float(get_label(s.labels, "le"))] += rate
    if not by_le:
        return None
    value = bucket_quantile(q, list(by_le.items()))
    # No request in the window: there is no latency to worry about, which the engine
    # must see as 0 (room to scale down), not as missing data (which would forbid it).
    return 0.0 if math.isnan(value) else value


# --- predictive: the request rate's history ---------------------------------------------

HISTORY_STEP_MS = 60_000
"""The forecast reads the rate per minute: the store's 1 m rollups."""
HISTORY_KEEP_MS = 15 * 86_400_000
"""Two weeks (the weekly season) and a day: what the forecast can use; the default raw
retention (15 d) besides."""


class RateHistory:
    """A service's request rate per minute, read from the store incrementally.

    With no ``query`` (the default), the balancer's ``scalepilot_lb_requests_total``
    counters are read from the 1 m rollups: a bucket's rate is the increase of each
    series' last value over the previous bucket's (a drop is a counter reset: the new
    value counts), summed over the series, ÷ 60 s. With a ``query`` (PromQL giving the
    rate), it is evaluated over the new minutes at 1 m steps, its samples summed. Each
    update reads only the minutes completed since the previous one."""

    def __init__(self, service: str, query: str | None, keep_ms: int = HISTORY_KEEP_MS) -> None:
        self.service = service
        self.query = query
        self.keep_ms = keep_ms
        self._rates: dict[int, float] = {}
        self._done_ms: int | None = None

    def update(self, store: Store, now_ms: int) -> tuple[npt.NDArray[np.float64], int]:
        """The rate per complete minute up to ``now_ms`` (oldest first, gaps filled
        linearly) and the start of its first minute (ms)."""
        end = now_ms // HISTORY_STEP_MS * HISTORY_STEP_MS  # minutes before this are complete
        if self._done_ms is None or self._done_ms < end:
            start = end - self.keep_ms if self._done_ms is None else self._done_ms - HISTORY_STEP_MS
            if self.query is None:
                self._read_counters(store, start, end)
            else:
                self._read_query(store, start, end)
            self._done_ms = end
            floor = end - self.keep_ms
            for t in [t for t in self._rates if t < floor]:
                del self._rates[t]
        if not self._rates:
            return np.zeros(0), end
        first = min(self._rates)
        n = (end - first) // HISTORY_STEP_MS
        grid = first + HISTORY_STEP_MS * np.arange(n, dtype=np.int64)
        known = np.array(sorted(self._rates), dtype=np.int64)
        values = np.array([self._rates[int(t)] for t in known])
        return np.interp(grid, known, values), first

    def _read_counters(self, store: Store, start: int, end: int) -> None:
        matchers = [name_matcher("scalepilot_lb_requests_total"), Matcher("service", MatchOp.EQ, self.service)]
        sums: dict[int, float] = defaultdict(float)
        for data in store.select_rollup(matchers, start, end - 1, HISTORY_STEP_MS):
            ts, last = data.timestamps, data.last
            for j in range(1, len(ts)):
                t = int(ts[j])
                if t >= end or t - int(ts[j - 1]) != HISTORY_STEP_MS:
                    continue
                increase = float(last[j] - last[j - 1])
                sums[t] += (increase if increase >= 0 else float(last[j])) / (HISTORY_STEP_MS / 1000)
        self._rates.update(sums)

    def _read_query(self, store: Store, start: int, end: int) -> None:
        assert self.query is not None
        # A rate evaluated at t covers the minute before it: the bucket starting at t - 1m.
        try:
            result = Engine(store, lookback_ms=LOOKBACK_MS).range(
                self.query, start + HISTORY_STEP_MS, end, HISTORY_STEP_MS
            )
        except QueryError as exc:
            log.warning("%s: predictive metric: %s", self.service, exc)
            return
        sums: dict[int, float] = defaultdict(float)
        for series in result.matrix:
            for t, v in zip(series.timestamps.tolist(), series.values.tolist(), strict=True):
                if math.isfinite(v):
                    sums[int(t) - HISTORY_STEP_MS] += v
        self._rates.update(sums)
