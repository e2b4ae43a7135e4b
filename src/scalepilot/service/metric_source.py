"""The metric sources the service asks PromQL questions of.

:class:`EmbeddedMetricSource` answers from scalepilot's own store with the pure
evaluator (``control.query.engine``). Evaluation is CPU and SQLite work, so it runs in a
small pool of worker threads of its own, never on the event loop — and not in asyncio's
default pool either, which the store's flushes and maintenance use: a burst of heavy
dashboard queries must not delay a flush. The pool's size bounds concurrent evaluations
the way Prometheus's ``--query.max-concurrency`` does; a query waiting for a worker
waits inside its own timeout.

A timed-out query cannot be interrupted inside its thread (Python threads cannot be
cancelled); the caller stops waiting at once and the worker finishes in the
background, which is why the pool is bounded.

:func:`build_metric_source` turns ``metrics_source:`` into the source scaling's
``series`` metrics read from: the embedded one, or an external Prometheus
(:class:`~scalepilot.adapters.prometheus.PrometheusSource`). An external source's
transitions are recorded as ``metric_source_down`` / ``metric_source_up`` events, and
:class:`SourceCollector` exports its state as self-metrics
(``scalepilot_metric_source_up`` and query/failure counters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from scalepilot.adapters.prometheus import PrometheusSource
from scalepilot.adapters.prometheus.health import SourceHealth
from scalepilot.config.metrics_source import MetricsSourceSettings, PrometheusSourceSettings
from scalepilot.control.query.engine import Engine
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.query import QueryError, QueryResult, SeriesSource
from scalepilot.domain.store import Store, StoreError

T = TypeVar("T")

DEFAULT_LOOKBACK_MS = 300_000
"""Prometheus's ``--query.lookback-delta``: how old a sample may be and still count."""
DEFAULT_CONCURRENCY = 4


class EmbeddedMetricSource:
    """PromQL over the embedded store, evaluated in worker threads."""

    name = "embedded"

    def __init__(
        self,
        store: SeriesSource,
        *,
        lookback_ms: int = DEFAULT_LOOKBACK_MS,
        max_concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.engine = Engine(store, lookback_ms=lookback_ms)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="promql")

    async def query(self, expr: str, at_ms: int) -> QueryResult:
        return await self._run(self.engine.instant, expr, at_ms)

    async def query_range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        return await self._run(self.engine.range, expr, start_ms, end_ms, step_ms)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except StoreError as exc:
            # The store is below the query: its failure is the source's, not the query's.
            kind = "unavailable" if exc.transient else "internal"
            raise QueryError(f"reading the store: {exc}", kind=kind) from exc

    def status(self) -> dict[str, Any]:
        return {"type": "embedded", "name": self.name, "health": "up"}

    async def aclose(self) -> None:
        # Queued queries are dropped; running ones finish in their threads unwaited.
        self._pool.shutdown(wait=False, cancel_futures=True)


ScalingSource = EmbeddedMetricSource | PrometheusSource


def build_metric_source(
    settings: MetricsSourceSettings,
    embedded: EmbeddedMetricSource,
    *,
    base_dir: Path,
    clock: Callable[[], float],
    on_health_change: Callable[[SourceHealth, str], None] | None = None,
) -> ScalingSource:
    """The source scaling's ``series`` metrics read from. Reads secrets now, so a
    missing token stops the start with a clear :class:`SecretError`."""
    if isinstance(settings, PrometheusSourceSettings):
        return PrometheusSource(
            settings.url,
            timeout_s=settings.timeout,
            retries=settings.retries,
            backoff_s=settings.backoff,
            headers=settings.resolve_headers(base_dir),
            clock=clock,
            on_health_change=on_health_change,
        )
    return embedded


def source_events(store: Store) -> Callable[[SourceHealth, str], None]:
    """A health listener that records each time the source goes down, and each time it
    comes back after being down (its first answer is not news)."""

    def record(health: SourceHealth, previous: str) -> None:
        at = health.since_ms or 0
        if health.health == "down":
            store.add_event(
                Event(
                    at,
                    EventKind.METRIC_SOURCE_DOWN,
                    f"metric source {health.name} is down: {health.last_error}; series metrics are missing "
                    "(no scale-down on them) until it answers again",
                    details={"source": health.name, "error": health.last_error},
                )
            )
        elif health.health == "up" and previous == "down":
            store.add_event(
                Event(
                    at,
                    EventKind.METRIC_SOURCE_UP,
                    f"metric source {health.name} is up again",
                    details={"source": health.name},
                )
            )

    return record


class SourceCollector:
    """Self-metrics of the metric source, read from its status at scrape time."""

    def __init__(self, source: ScalingSource) -> None:
        self._source = source

    def describe(self) -> list[Metric]:
        return []  # metrics are produced at collect time only; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        status = self._source.status()
        labels = [status["type"], status["name"]]
        up = GaugeMetricFamily(
            "scalepilot_metric_source_up",
            "1 when the metric source answered its last query, 0 when it is down (absent before the first query).",
            labels=["type", "source"],
        )
        if status["health"] in ("up", "down"):
            up.add_metric(labels, 1.0 if status["health"] == "up" else 0.0)
        yield up
        if "queries" in status:
            queries = CounterMetricFamily(
                "scalepilot_metric_source_queries",
                "Queries sent to the metric source (each counted once, however many retries).",
                labels=["type", "source"],
            )
            queries.add_metric(labels, status["queries"])
            yield queries
            failures = CounterMetricFamily(
                "scalepilot_metric_source_failures",
                "Queries that failed because the metric source was down (after their retries).",
                labels=["type", "source"],
            )
            failures.add_metric(labels, status["failures"])
            yield failures
