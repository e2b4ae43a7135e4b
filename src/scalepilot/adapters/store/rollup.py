"""Downsampling: per-bucket min, max, sum, count and last of raw samples.

Buckets are aligned to multiples of the resolution since the epoch, so buckets from
different sources line up and can be combined exactly. Stale markers are not values and
take no part; a bucket holding only stale markers does not exist. NaN values that are
not stale markers are kept: ``min``/``max`` skip them (as PromQL's ``min_over_time``
does), ``sum`` becomes NaN.

**When rollups are stored.** While a block's raw samples are kept, its buckets are
computed from them on demand: decoding a chunk and reducing it costs little more than
reading stored buckets, while storing them next to raw data would double the bytes per
sample (measured on the benchmark's data: raw 1.15 bytes a sample, 1m buckets another
0.96, 5m buckets 0.28; five numbers for every four samples at a 15 s scrape). When
raw retention is about to delete a block, maintenance computes its buckets once and
stores them, so the range covered by rollups is the same as if they had been built
eagerly; only the disk bill differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalepilot.domain.samples import Float64Array, Int64Array, stale_mask

RESOLUTIONS_MS = (60_000, 300_000)


@dataclass(frozen=True, slots=True)
class Buckets:
    starts: Int64Array
    min: Float64Array
    max: Float64Array
    sum: Float64Array
    count: Float64Array
    last: Float64Array

    def __len__(self) -> int:
        return int(self.starts.size)

    def columns(self) -> list[Float64Array]:
        return [self.min, self.max, self.sum, self.count, self.last]

    @classmethod
    def from_columns(cls, starts: Int64Array, columns: list[Float64Array]) -> Buckets:
        if len(columns) != 5:
            raise ValueError("a rollup has five columns")
        return cls(starts, *columns)

    def between(self, lo_ms: int, hi_ms: int) -> Buckets:
        """Buckets whose start lies in ``[lo_ms, hi_ms]``."""
        a = int(np.searchsorted(self.starts, lo_ms, side="left"))
        b = int(np.searchsorted(self.starts, hi_ms, side="right"))
        return self._take(slice(a, b))

    def _take(self, sel: slice | Int64Array) -> Buckets:
        return Buckets(self.starts[sel], self.min[sel], self.max[sel], self.sum[sel], self.count[sel], self.last[sel])


def empty() -> Buckets:
    f = np.empty(0, dtype=np.float64)
    return Buckets(np.empty(0, dtype=np.int64), f, f, f, f, f)


def compute(timestamps: Int64Array, values: Float64Array, resolution_ms: int) -> Buckets:
    """Buckets of sorted, de-duplicated samples."""
    live = ~stale_mask(values)
    if not live.all():
        timestamps, values = timestamps[live], values[live]
    if timestamps.size == 0:
        return empty()
    cells = np.floor_divide(timestamps, resolution_ms) * resolution_ms
    first = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    ends = np.r_[first[1:], values.size]
    return Buckets(
        starts=cells[first],
        min=np.fmin.reduceat(values, first),
        max=np.fmax.reduceat(values, first),
        sum=np.add.reduceat(values, first),
        count=(ends - first).astype(np.float64),
        last=values[ends - 1],
    )


def combine(older: Buckets, newer: Buckets) -> Buckets:
    """Union of two bucket sets; a bucket in both merges exactly, except ``last``,
    which comes from ``newer`` (the later write, as everywhere in the store)."""
    if len(older) == 0:
        return newer
    if len(newer) == 0:
        return older
    starts = np.concatenate([older.starts, newer.starts])
    order = np.argsort(starts, kind="stable")  # older before newer on equal starts
    s = starts[order]
    first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[first[1:], s.size]

    def col(a: Float64Array, b: Float64Array) -> Float64Array:
        return np.concatenate([a, b])[order]

    return Buckets(
        starts=s[first],
        min=np.fmin.reduceat(col(older.min, newer.min), first),
        max=np.fmax.reduceat(col(older.max, newer.max), first),
        sum=np.add.reduceat(col(older.sum, newer.sum), first),
        count=np.add.reduceat(col(older.count, newer.count), first),
        last=col(older.last, newer.last)[ends - 1],
    )
