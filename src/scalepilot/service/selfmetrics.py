"""scalepilot's own metrics, served at ``/metrics``.

A private registry, built once by the composition root and passed down: no global
state, so two runtimes in one test process never share counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from scalepilot import __version__
from scalepilot.domain.store import StoreStats

_SCRAPE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)


class _StoreCollector(Collector):
    def __init__(self, stats: Callable[[], StoreStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        yield GaugeMetricFamily("scalepilot_store_bytes", "Bytes the store occupies on disk.", value=stats.disk_bytes)
        yield GaugeMetricFamily("scalepilot_store_series", "Series known to the store.", value=stats.series)
        yield GaugeMetricFamily(
            "scalepilot_store_head_samples",
            "Samples in the in-memory head, not yet compacted.",
            value=stats.head_samples,
        )
        yield GaugeMetricFamily("scalepilot_store_chunks", "Compressed chunks on disk.", value=stats.chunks)


class SelfMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        Info("scalepilot_build", "scalepilot's version.", registry=r).info({"version": __version__})
        self.scrape_duration = Histogram(
            "scalepilot_scrape_duration_seconds",
            "Time to fetch and parse one metrics page.",
            ["service", "instance"],
            buckets=_SCRAPE_BUCKETS,
            registry=r,
        )
        self.scrapes = Counter(
            "scalepilot_scrapes", "Scrapes attempted, by result.", ["service", "instance", "result"], registry=r
        )
        self.scrape_failures = Counter(
            "scalepilot_scrape_failures",
            "Failed scrapes, by reason class.",
            ["service", "instance", "reason"],
            registry=r,
        )
        self.samples_ingested = Counter(
            "scalepilot_samples_ingested", "Samples appended to the store (scraped, probes, stats).", registry=r
        )
        self.probes = Counter("scalepilot_probes", "Probe runs, by result.", ["service", "probe", "result"], registry=r)
        self.loop_lag = Histogram(
            "scalepilot_loop_lag_seconds",
            "How late a scheduled loop tick started.",
            ["loop"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.store_flush_duration = Histogram(
            "scalepilot_store_flush_duration_seconds",
            "Time to make appended samples durable.",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.store_maintenance_duration = Histogram(
            "scalepilot_store_maintenance_duration_seconds",
            "Time of one compaction/rollup/retention round.",
            buckets=(0.01, 0.1, 0.5, 1, 5, 30, 120),
            registry=r,
        )
        self.store_errors = Counter(
            "scalepilot_store_errors",
            "Loop ticks skipped because the store was temporarily unavailable.",
            ["loop"],
            registry=r,
        )
        self.targets_up = Gauge("scalepilot_targets_up", "Scrape targets currently up.", registry=r)
        self.targets = Gauge("scalepilot_targets", "Scrape targets configured.", registry=r)
        self.config_reload_success = Gauge(
            "scalepilot_config_last_reload_successful",
            "Whether the last reload of the config file was applied (1) or refused (0).",
            registry=r,
        )
        self.config_reload_success.set(1)
        self.config_reload_time = Gauge(
            "scalepilot_config_last_reload_success_timestamp_seconds",
            "When the config file was last loaded or reloaded successfully.",
            registry=r,
        )
        self.config_restart_needed = Gauge(
            "scalepilot_config_restart_needed",
            "Keys of the config file that changed since start and take effect only after a restart.",
            registry=r,
        )

    def watch_store(self, stats: Callable[[], StoreStats | None]) -> None:
        self.registry.register(_StoreCollector(stats))
