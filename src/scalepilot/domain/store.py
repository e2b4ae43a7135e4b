"""The storage Protocol every backend implements (SQLite embedded now, PostgreSQL later).

Ingest is two-step so the hot path never re-hashes label sets: a scraper resolves each
label set to a series id once (:meth:`Store.series_ids`) and caches it, then appends
plain arrays of ids, timestamps and values every scrape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
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


class OutboxState(StrEnum):
    PENDING = "pending"
    """Waiting for its ``next_ms`` (the first attempt, or a retry after a backoff)."""
    SENDING = "sending"
    """Claimed by a delivery worker until ``next_ms`` (its lease); a crash leaves it here
    and it is claimed again when the lease ends (or at the next start)."""
    DONE = "done"
    DEAD = "dead"
    """Given up after too many attempts, too long, or a permanent failure."""
    SUPERSEDED = "superseded"
    """A newer notification to the same integration about the same group carries all it
    said (forwarding re-posts the whole group each time)."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification stored before it is sent, so a restart loses none."""

    id: str
    receiver: str
    integration: str
    group_key: str
    created_ms: int
    payload: dict[str, Any]
    state: OutboxState = OutboxState.PENDING
    attempts: int = 0
    next_ms: int = 0
    updated_ms: int = 0
    last_error: str = ""
    supersedes: bool = field(default=False, compare=False)
    """On insert: mark older undelivered items of the same integration and group
    superseded."""


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
        until_ms: int | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        """Newest first; ``after_id`` keeps only events recorded after that one."""
        ...

    def last_event_id(self) -> int:
        """The id of the newest event (ids only grow); 0 when there is none."""
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

    # --- notification outbox ------------------------------------------------------------
    def outbox_add(self, items: Sequence[OutboxItem]) -> int:
        """Store new notifications (an id already stored is ignored); durable on return.
        Returns how many were new."""
        ...

    def outbox_claim(
        self, now_ms: int, limit: int, lease_ms: int, skip: Sequence[tuple[str, str]] = ()
    ) -> list[OutboxItem]:
        """Atomically take up to ``limit`` due items, oldest first — pending ones whose
        ``next_ms`` has come, and sending ones whose lease ran out — except those of the
        ``(receiver, integration)`` pairs in ``skip``: each becomes ``sending`` until
        ``now_ms + lease_ms`` with one more attempt counted."""
        ...

    def outbox_retry(self, item_id: str, next_ms: int, error: str, now_ms: int) -> None: ...

    def outbox_finish(self, item_id: str, state: OutboxState, now_ms: int, error: str = "") -> None:
        """Mark delivered (``done``) or given up (``dead``)."""
        ...

    def outbox_requeue(self, now_ms: int) -> int:
        """Make items left ``sending`` by a previous process due now; at start-up."""
        ...

    def outbox_items(self, states: Sequence[OutboxState] | None = None, limit: int = 100) -> list[OutboxItem]:
        """Newest first."""
        ...

    def outbox_counts(self) -> dict[str, int]: ...

    def outbox_next_due(self) -> int | None:
        """The earliest ``next_ms`` of a pending or sending item."""
        ...

    def outbox_prune(self, done_before_ms: int, dead_before_ms: int) -> int:
        """Delete delivered and superseded items last updated before ``done_before_ms``
        and dead ones before ``dead_before_ms``."""
        ...

    # --- housekeeping ------------------------------------------------------------------
    def maintain(self, now_ms: int) -> dict[str, Any]:
        """One round of background work: compact the head into chunks, build rollups,
        apply retention. Returns what it did (for logs and metrics)."""
        ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None:
        """Flush and close."""
        ...
