"""The storage Protocol every backend implements (SQLite embedded now, PostgreSQL later).

Ingest is two-step so the hot path never re-hashes label sets: a scraper resolves each
label set to a series id once (:meth:`Store.series_ids`) and caches it, then appends
plain arrays of ids, timestamps and values every scrape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.events import Event
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher
from scalepilot.domain.samples import LatestSample, RollupData, SeriesData


class StoreError(ScalepilotError):
    """Root of every store backend's errors; ``transient`` says whether a retry may help."""


@dataclass(frozen=True, slots=True)
class StoreStats:
    series: int
    head_samples: int
    samples_appended_total: int
    disk_bytes: int
    chunks: int


@dataclass(frozen=True, slots=True)
class ConfigRevision:
    id: int
    timestamp_ms: int
    sha256: str
    source: str
    text: str


class Store(Protocol):
    # --- ingest -----------------------------------------------------------------------
    def series_ids(self, labels: Sequence[Labels]) -> list[int]:
        """Get or create the id of each label set (stable for the life of the store)."""
        ...

    def append(
        self,
        ids: Sequence[int],
        timestamps_ms: Sequence[int] | int,
        values: Sequence[float],
    ) -> None:
        """Append samples. ``timestamps_ms`` may be one int shared by all samples (a
        scrape). Durable after the next flush (at most ``flush_interval`` later)."""
        ...

    def flush(self) -> None:
        """Make everything appended so far durable now."""
        ...

    # --- read -------------------------------------------------------------------------
    def select(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
    ) -> list[SeriesData]:
        """Raw samples with ``start_ms <= t <= end_ms`` of every matching series that has
        at least one sample in the range. Stale markers are included."""
        ...

    def select_rollup(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        resolution_ms: int,
    ) -> list[RollupData]:
        """Downsampled buckets (60_000 or 300_000 ms) overlapping the range."""
        ...

    def resolution_for(self, start_ms: int, end_ms: int, step_ms: int) -> int:
        """The coarsest resolution (0 = raw) that still gives at least one bucket per step
        and is retained for the whole range."""
        ...

    def latest(self, matchers: Sequence[Matcher]) -> list[LatestSample]:
        """The newest sample of each matching series (stale ones flagged)."""
        ...

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]: ...

    def label_names(self) -> list[str]: ...

    def label_values(self, name: str) -> list[str]: ...

    # --- events and config revisions ---------------------------------------------------
    def add_event(self, event: Event) -> int: ...

    def events(
        self,
        *,
        since_ms: int | None = None,
        kinds: Sequence[str] | None = None,
        service: str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Newest first."""
        ...

    def add_config_revision(self, text: str, source: str, timestamp_ms: int) -> ConfigRevision:
        """Record a config text; returns the existing revision if the text is unchanged."""
        ...

    def config_revisions(self, limit: int = 20) -> list[ConfigRevision]: ...

    # --- small durable state ------------------------------------------------------------
    def put_state(self, key: str, value: dict[str, Any]) -> None:
        """Keep a JSON document under ``key`` across restarts; durable on return."""
        ...

    def get_state(self, key: str) -> dict[str, Any] | None: ...

    def delete_state(self, key: str) -> None: ...

    # --- housekeeping ------------------------------------------------------------------
    def maintain(self, now_ms: int) -> dict[str, Any]:
        """One round of background work: compact the head into chunks, build rollups,
        apply retention. Returns what it did (for logs and metrics)."""
        ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None:
        """Flush and close."""
        ...
