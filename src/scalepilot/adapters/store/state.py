"""What a store keeps in memory, the lock that guards it, and its time grid.

**Locks.** Five locks, always taken in this order (never the reverse), each held only
for in-memory bookkeeping or one short SQLite transaction, never while encoding:

1. ``maintain``: one maintenance round at a time;
2. ``flush``: one flush at a time, and no flush while a compaction commits (both move
   the boundary between flushed and pending samples);
3. ``Database.write_lock`` / ``Database.read_lock``: one thread per connection;
4. ``MemoryState.lock``: the head, the index and the counters.

**Time grid.** Compaction cuts the head at *window* boundaries (``head_window`` rounded
to 5 minutes, so rollup buckets never straddle chunks), and merges the chunks of a
closed *block* (about 6 hours) into one chunk per series: bigger chunks compress better
(about 1.2 bytes a sample at 1440 samples against 1.7 at 120) and a week is read in
28 chunk decodes instead of 336. Every chunk lies inside one block, so "chunks that may
overlap ``[a, b]``" is an index range scan from ``a - max_span``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from scalepilot.adapters.store.head import Head
from scalepilot.adapters.store.index import SeriesIndex
from scalepilot.config.models import StorageSettings

_BUCKET_MS = 300_000
_BLOCK_TARGET_MS = 6 * 3600_000
# Samples later than this past a window's end still reach its chunk directly rather
# than through the late-sample merge; a scrape that times out (10 s) plus a flush fits.
_MIN_GRACE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Layout:
    window_ms: int
    block_ms: int
    grace_ms: int

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> Layout:
        head_ms = int(settings.head_window * 1000)
        window = max(_BUCKET_MS, head_ms // _BUCKET_MS * _BUCKET_MS)
        block = window * max(1, round(_BLOCK_TARGET_MS / window))
        grace = max(_MIN_GRACE_MS, int(settings.flush_interval * 2000))
        return cls(window_ms=window, block_ms=block, grace_ms=grace)

    def compaction_cutoff(self, now_ms: int) -> int:
        """Samples before this are compacted: every window that ended a grace period
        ago."""
        return (now_ms - self.grace_ms) // self.window_ms * self.window_ms

    def block_of(self, t_ms: int) -> int:
        return t_ms // self.block_ms * self.block_ms


class MemoryState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.head = Head()
        self.index = SeriesIndex()
        self.raw_tmax: dict[int, int] = {}
        """Newest compacted timestamp per series (absent: no chunk was ever written)."""
        self.chunk_rows = 0
        self.rollup_rows = 0
        self.appended_total = 0
        self.max_span_ms = 0
        """Longest ``t_max - t_min`` of any chunk or rollup row: bounds range scans."""
