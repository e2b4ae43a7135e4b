"""The in-memory head: samples appended but not yet compacted into chunks.

Samples sit in three flat numpy columns (series id, timestamp, value) in append order.
Appending is a ``memcpy`` into spare capacity, so ingest costs tens of nanoseconds a
sample whatever the number of series, and append order doubles as write order for
"last write wins".

The columns are split into *batches*, each the samples of one flush, written as one
row of ``head_batches`` (the write-ahead log) and identified by its ``seq``::

    [ batch 7 | batch 8 | batch 9 | pending (not yet flushed) ]   free capacity
    0                              flushed                   size

Readers take a :meth:`snapshot` (three views of ``[0, size)``). Appends only write past
``size``, and removal builds new arrays instead of shifting the old ones, so a snapshot
stays valid, unchanged, after the lock is released: readers never copy the head. The
flushed region is likewise frozen until maintenance removes from it, which is what lets
maintenance build the compacted head unlocked (:meth:`prepare_removal`) and only swap it
in under the lock (:meth:`apply_removal`).

Not thread-safe: the store guards it with its state lock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scalepilot.domain.samples import Float64Array, Int64Array

_MIN_CAPACITY = 4096


@dataclass(slots=True)
class Batch:
    seq: int
    start: int
    end: int
    created_ms: int

    @property
    def count(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Removal:
    upto: int
    kept: int
    ids: Int64Array
    ts: Int64Array
    vals: Float64Array
    batches: list[Batch]


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    ids: Int64Array
    timestamps: Int64Array
    values: Float64Array


class Head:
    def __init__(self) -> None:
        self._ids: Int64Array = np.empty(_MIN_CAPACITY, dtype=np.int64)
        self._ts: Int64Array = np.empty(_MIN_CAPACITY, dtype=np.int64)
        self._vals: Float64Array = np.empty(_MIN_CAPACITY, dtype=np.float64)
        self.size = 0
        self.flushed = 0
        self.batches: list[Batch] = []
        self.pending_since: float | None = None
        """Store-clock time of the oldest unflushed append."""

    # --- writing ------------------------------------------------------------------------
    def append(self, ids: Int64Array, ts: Int64Array, values: Float64Array) -> None:
        k = ids.size
        end = self.size + k
        if end > self._ids.size:
            self._reallocate(max(end, self._ids.size * 2))
        self._ids[self.size : end] = ids
        self._ts[self.size : end] = ts
        self._vals[self.size : end] = values
        self.size = end

    def _reallocate(self, capacity: int) -> None:
        ids = np.empty(capacity, dtype=np.int64)
        ts = np.empty(capacity, dtype=np.int64)
        vals = np.empty(capacity, dtype=np.float64)
        ids[: self.size] = self._ids[: self.size]
        ts[: self.size] = self._ts[: self.size]
        vals[: self.size] = self._vals[: self.size]
        self._ids, self._ts, self._vals = ids, ts, vals

    @property
    def pending_count(self) -> int:
        return self.size - self.flushed

    def pending(self) -> tuple[int, HeadSnapshot]:
        """The unflushed region's end and its samples (views, valid after unlocking)."""
        a, b = self.flushed, self.size
        return b, HeadSnapshot(self._ids[a:b], self._ts[a:b], self._vals[a:b])

    def seal(self, seq: int, end: int, created_ms: int) -> None:
        """Record ``[flushed, end)`` as the batch ``seq`` now stored in the database."""
        if end > self.flushed:
            self.batches.append(Batch(seq, self.flushed, end, created_ms))
            self.flushed = end
        if self.flushed == self.size:
            self.pending_since = None

    def load_batch(self, seq: int, created_ms: int, ids: Int64Array, ts: Int64Array, values: Float64Array) -> None:
        """Add an already stored batch (replay on open, or a reader catching up)."""
        if self.pending_count:
            raise RuntimeError("load_batch with unflushed samples in the head")
        self.append(ids, ts, values)
        self.seal(seq, self.size, created_ms)

    # --- reading --------------------------------------------------------------------------
    def snapshot(self) -> HeadSnapshot:
        n = self.size
        return HeadSnapshot(self._ids[:n], self._ts[:n], self._vals[:n])

    def flushed_snapshot(self) -> HeadSnapshot:
        n = self.flushed
        return HeadSnapshot(self._ids[:n], self._ts[:n], self._vals[:n])

    # --- removal ----------------------------------------------------------------------------
    def batches_copy(self) -> list[Batch]:
        return [Batch(b.seq, b.start, b.end, b.created_ms) for b in self.batches]

    @staticmethod
    def prepare_removal(snap: HeadSnapshot, batches: list[Batch], drop: npt.NDArray[np.bool_]) -> Removal:
        """The head without the samples where ``drop`` is set, built *without the lock*
        from a flushed snapshot and the batches it covers (both immutable until the
        caller, the one maintenance thread, applies the result)."""
        upto = snap.ids.size
        if drop.size != upto:
            raise ValueError("drop mask must cover the snapshot exactly")
        keep = ~drop
        kept = int(np.count_nonzero(keep))
        capacity = max(_MIN_CAPACITY, int(kept * 1.25) + 1024)
        ids = np.empty(capacity, dtype=np.int64)
        ts = np.empty(capacity, dtype=np.int64)
        vals = np.empty(capacity, dtype=np.float64)
        ids[:kept] = snap.ids[keep]
        ts[:kept] = snap.timestamps[keep]
        vals[:kept] = snap.values[keep]
        starts = np.fromiter((b.start for b in batches), dtype=np.int64, count=len(batches))
        per_batch = np.add.reduceat(keep, starts, dtype=np.int64) if batches and upto else np.zeros(0, np.int64)
        new_batches: list[Batch] = []
        pos = 0
        for batch, count in zip(batches, per_batch.tolist(), strict=True):
            if count:
                new_batches.append(Batch(batch.seq, pos, pos + count, batch.created_ms))
                pos += count
        return Removal(upto=upto, kept=kept, ids=ids, ts=ts, vals=vals, batches=new_batches)

    def apply_removal(self, r: Removal) -> None:
        """Swap in a prepared removal (lock held): only what arrived since the snapshot
        (a second or so of samples) is copied here."""
        if r.upto > self.flushed:
            raise RuntimeError("removal prepared from a head that has since shrunk")
        tail = self.size - r.upto
        need = r.kept + tail
        ids, ts, vals = r.ids, r.ts, r.vals
        if need > ids.size:  # more arrived meanwhile than the spare room: rare
            capacity = int(need * 1.25) + 1024
            ids, ts, vals = (
                np.concatenate([a[: r.kept], np.empty(capacity - r.kept, dtype=a.dtype)]) for a in (ids, ts, vals)
            )
        ids[r.kept : need] = self._ids[r.upto : self.size]
        ts[r.kept : need] = self._ts[r.upto : self.size]
        vals[r.kept : need] = self._vals[r.upto : self.size]
        shift = r.kept - r.upto
        later = [Batch(b.seq, b.start + shift, b.end + shift, b.created_ms) for b in self.batches if b.start >= r.upto]
        self._ids, self._ts, self._vals = ids, ts, vals
        self.batches = r.batches + later
        self.flushed += shift
        self.size = need

    def replace_batches(self, segments: list[tuple[Batch, HeadSnapshot]]) -> None:
        """Rebuild the head from whole batches in ``seq`` order (a reader following the
        writer's compactions). Only valid with nothing pending."""
        if self.pending_count:
            raise RuntimeError("replace_batches with unflushed samples in the head")
        total = sum(s.ids.size for _, s in segments)
        capacity = max(_MIN_CAPACITY, total)
        ids = np.empty(capacity, dtype=np.int64)
        ts = np.empty(capacity, dtype=np.int64)
        vals = np.empty(capacity, dtype=np.float64)
        batches: list[Batch] = []
        pos = 0
        for batch, snap in segments:
            k = snap.ids.size
            ids[pos : pos + k] = snap.ids
            ts[pos : pos + k] = snap.timestamps
            vals[pos : pos + k] = snap.values
            batches.append(Batch(batch.seq, pos, pos + k, batch.created_ms))
            pos += k
        self._ids, self._ts, self._vals = ids, ts, vals
        self.batches = batches
        self.size = self.flushed = pos

    def segment(self, batch: Batch) -> HeadSnapshot:
        return HeadSnapshot(
            self._ids[batch.start : batch.end], self._ts[batch.start : batch.end], self._vals[batch.start : batch.end]
        )
