"""One scrape loop per target: fetch, parse, label, track staleness, store.

The shape follows Prometheus's scrape loop so the stored series mean the same thing:

* every sample gets the target's labels; a scraped label that clashes with one of them
  is kept as ``exported_<name>`` (``honor_labels: false``);
* synthetic series ``up``, ``scrape_duration_seconds``, ``scrape_samples_scraped``,
  ``scrape_samples_post_metric_relabeling`` and ``scrape_series_added`` per scrape;
* a series that vanishes from the page, or all series when a scrape fails, gets a
  *stale marker* so queries stop returning it at once instead of for 5 minutes;
* explicit timestamps in the page are honoured and such series are never marked stale.

A failure of any kind (refused, timeout, HTTP status, garbage page) marks only this
target down with the reason; the loop goes on at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from scalepilot.adapters.scrape.errors import (
    BadStatus,
    BodyTooLarge,
    FetchError,
    ParseError,
    ScrapeError,
    ScrapeTimeout,
)
from scalepilot.adapters.scrape.http import Fetcher
from scalepilot.adapters.scrape.parser import ParsedPage, format_from_content_type, parse
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.samples import STALE_NAN
from scalepilot.domain.store import Store
from scalepilot.service.loops import run_loop
from scalepilot.service.selfmetrics import SelfMetrics
from scalepilot.service.targets import ScrapeTarget

log = logging.getLogger(__name__)

SYNTHETIC = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)

# A cached series id that has not appeared for this many scrapes is forgotten, so a
# target with churning label values (a request id in a label...) cannot grow the cache
# without bound.
_CACHE_MAX_AGE = 10


@dataclass(slots=True)
class TargetState:
    """What ``/status`` and ``scalepilot targets`` show for one target."""

    health: str = "unknown"  # "up" | "down" | "unknown"
    last_error: str = ""
    last_scrape_ms: int | None = None
    last_duration_s: float | None = None
    last_samples: int = 0
    scrapes: int = 0
    failures: int = 0


@dataclass(slots=True)
class _Cache:
    ids: dict[tuple[str, tuple[tuple[str, str], ...]], int] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)  # id -> scrape number last seen
    previous: set[int] = field(default_factory=set)  # ids (without explicit ts) in the last good scrape
    synthetic: list[int] = field(default_factory=list)
    generation: int = 0  # good scrapes ingested, the clock of ``seen``


class ScrapeLoop:
    def __init__(
        self,
        target: ScrapeTarget,
        *,
        fetcher: Fetcher,
        store: Store,
        clock: Clock,
        metrics: SelfMetrics,
        on_first_attempt: Callable[[], None] = lambda: None,
    ) -> None:
        self.target = target
        self.state = TargetState()
        self._fetcher = fetcher
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._cache = _Cache()
        self._on_first_attempt = on_first_attempt
        self._target_label_names = {k for k, _ in target.labels}

    async def run(self, stop: asyncio.Event) -> None:
        await run_loop(
            "scrape",
            self._tick,
            clock=self._clock,
            interval_s=self.target.interval_s,
            offset_s=self.target.offset_s(),
            stop=stop,
            metrics=self._metrics,
        )

    async def _tick(self, scheduled: float) -> None:
        await self.scrape_once()

    async def scrape_once(self) -> TargetState:
        start = self._clock.now()
        ts_ms = to_ms(start)
        error: ScrapeError | None = None
        added = scraped = 0
        try:
            page = await self._fetch_page()
        except ScrapeError as exc:
            error = exc
        duration = self._clock.now() - start
        if error is None:
            scraped = page.series_count
            added = await asyncio.to_thread(self._ingest, page, ts_ms)
        up = error is None
        self._write_synthetic(ts_ms, up, duration, scraped, added)
        if not up:
            self._mark_all_stale(ts_ms)
        self._update_state(ts_ms, duration, scraped, error)
        return self.state

    async def _fetch_page(self) -> ParsedPage:
        t = self.target
        result = await self._fetcher.fetch(t.url, timeout_s=t.timeout_s, body_size_limit=t.body_size_limit)
        # Parsing a large page is CPU work; off the event loop the HTTP server and the
        # other targets' timers keep running while it happens.
        page = await asyncio.to_thread(parse, result.body, format_from_content_type(result.content_type))
        if t.sample_limit and page.series_count > t.sample_limit:
            raise ScrapeError(f"sample limit exceeded: {page.series_count} > {t.sample_limit}")
        return page

    def _ingest(self, page: ParsedPage, ts_ms: int) -> int:
        cache = self._cache
        cache.generation += 1
        scrape_no = cache.generation
        ids: list[int] = []
        values: list[float] = []
        stamps: list[int] = []
        explicit = False
        current: set[int] = set()
        missing: list[tuple[tuple[str, tuple[tuple[str, str], ...]], Labels]] = []
        missing_at: list[int] = []
        for sample in page.samples():
            key = (sample.name, sample.labels)
            sid = cache.ids.get(key)
            if sid is None:
                missing.append((key, self._series_labels(sample.name, sample.labels)))
                missing_at.append(len(ids))
                sid = -1
            ids.append(sid)
            values.append(sample.value)
            if sample.timestamp_ms is None:
                stamps.append(ts_ms)
            else:
                stamps.append(sample.timestamp_ms)
                explicit = True
        added = 0
        if missing:
            new_ids = self._store.series_ids([labels for _, labels in missing])
            for (key, _), sid, pos in zip(missing, new_ids, missing_at, strict=True):
                if key not in cache.ids:
                    added += 1
                cache.ids[key] = sid
                ids[pos] = sid
        seen = cache.seen
        for i, sid in enumerate(ids):
            seen[sid] = scrape_no
            if stamps[i] == ts_ms:
                current.add(sid)
        # Series that vanished since the last scrape go stale now, as in Prometheus.
        gone = cache.previous - current
        if gone:
            ids.extend(gone)
            values.extend([STALE_NAN] * len(gone))
            stamps.extend([ts_ms] * len(gone))
            explicit = True
        cache.previous = current
        if ids:
            self._store.append(ids, stamps if explicit else ts_ms, values)
            self._metrics.samples_ingested.inc(len(ids))
        if scrape_no % _CACHE_MAX_AGE == 0:
            self._evict(scrape_no)
        return added

    def _evict(self, scrape_no: int) -> None:
        cache = self._cache
        old = {sid for sid, n in cache.seen.items() if scrape_no - n >= _CACHE_MAX_AGE}
        if old:
            cache.ids = {k: v for k, v in cache.ids.items() if v not in old}
            for sid in old:
                del cache.seen[sid]

    def _series_labels(self, name: str, scraped: tuple[tuple[str, str], ...]) -> Labels:
        merged: dict[str, str] = {}
        for k, v in scraped:
            merged[f"exported_{k}" if k in self._target_label_names else k] = v
        merged.update(self.target.labels)
        return make_labels(name, merged)

    def _write_synthetic(self, ts_ms: int, up: bool, duration: float, scraped: int, added: int) -> None:
        cache = self._cache
        if not cache.synthetic:
            cache.synthetic = self._store.series_ids([make_labels(n, dict(self.target.labels)) for n in SYNTHETIC])
        values = [1.0 if up else 0.0, duration, float(scraped), float(scraped), float(added)]
        self._store.append(cache.synthetic, ts_ms, values)
        self._metrics.samples_ingested.inc(len(values))

    def end(self, ts_ms: int) -> None:
        """The target is gone (a reload removed it): its series, ``up`` included, end
        now with stale markers, as Prometheus ends a removed target's."""
        self._mark_all_stale(ts_ms)
        if self._cache.synthetic:
            self._store.append(self._cache.synthetic, ts_ms, [STALE_NAN] * len(self._cache.synthetic))

    def _mark_all_stale(self, ts_ms: int) -> None:
        gone = list(self._cache.previous)
        self._cache.previous = set()
        if gone:
            self._store.append(gone, ts_ms, [STALE_NAN] * len(gone))

    def _update_state(self, ts_ms: int, duration: float, scraped: int, error: ScrapeError | None) -> None:
        t, s = self.target, self.state
        first = s.last_scrape_ms is None
        before = s.health
        s.last_scrape_ms = ts_ms
        s.last_duration_s = duration
        s.last_samples = scraped
        s.scrapes += 1
        self._metrics.scrape_duration.labels(t.service, t.instance).observe(duration)
        if error is None:
            s.health, s.last_error = "up", ""
            self._metrics.scrapes.labels(t.service, t.instance, "success").inc()
        else:
            s.health, s.last_error = "down", str(error)
            s.failures += 1
            self._metrics.scrapes.labels(t.service, t.instance, "failure").inc()
            self._metrics.scrape_failures.labels(t.service, t.instance, _reason_class(error)).inc()
        if before != s.health and not (before == "unknown" and s.health == "up"):
            kind = EventKind.TARGET_UP if s.health == "up" else EventKind.TARGET_DOWN
            message = (
                f"{t.service} {t.instance} is up again"
                if s.health == "up"
                else f"{t.service} {t.instance} is down: {s.last_error}"
            )
            self._store.add_event(
                Event(
                    ts_ms,
                    kind,
                    message,
                    t.service,
                    {"url": t.url, "instance": t.instance, "replica": t.replica, "error": s.last_error},
                )
            )
            log.info(message)
        if first:
            self._on_first_attempt()


def _reason_class(error: ScrapeError) -> str:
    if isinstance(error, ScrapeTimeout):
        return "timeout"
    if isinstance(error, BadStatus):
        return "http_status"
    if isinstance(error, BodyTooLarge):
        return "body_size"
    if isinstance(error, ParseError):
        return "parse"
    return "connection" if isinstance(error, FetchError) else "other"
