"""Sorting, grouping and de-duplicating sample arrays, with one rule: **the last write
wins**. A sample appended later replaces an earlier one with the same series and
timestamp, whether the earlier one is still in the head or already in a chunk; that is
what makes re-importing or correcting history safe.

Everything here is vectorised; callers pass parts in write order (oldest first).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from scalepilot.domain.samples import Float64Array, Int64Array


@dataclass(frozen=True, slots=True)
class Grouped:
    """Samples sorted by (series, time), one per (series, time). Series ``ids[i]`` owns
    ``timestamps[bounds[i]:bounds[i + 1]]``."""

    ids: Int64Array
    bounds: Int64Array
    timestamps: Int64Array
    values: Float64Array

    def __len__(self) -> int:
        return int(self.ids.size)

    def part(self, i: int) -> tuple[Int64Array, Float64Array]:
        a, b = int(self.bounds[i]), int(self.bounds[i + 1])
        return self.timestamps[a:b], self.values[a:b]


def group_by_series(ids: Int64Array, timestamps: Int64Array, values: Float64Array) -> Grouped:
    """Group samples given in write order; duplicates keep the later sample."""
    if ids.size == 0:
        empty_i = np.empty(0, dtype=np.int64)
        return Grouped(empty_i, np.zeros(1, dtype=np.int64), empty_i, np.empty(0, dtype=np.float64))
    order = np.lexsort((timestamps, ids))  # stable: equal keys keep write order
    sid = ids[order]
    ts = timestamps[order]
    # Keep the last of each run of equal (series, time): the latest write.
    last = np.empty(sid.size, dtype=np.bool_)
    last[-1] = True
    np.not_equal(sid[1:], sid[:-1], out=last[:-1])
    last[:-1] |= ts[1:] != ts[:-1]
    keep = np.flatnonzero(last)
    sid, ts, vals = sid[keep], ts[keep], values[order[keep]]
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    bounds = np.append(starts, sid.size).astype(np.int64)
    return Grouped(sid[starts], bounds, ts, vals)


def merge_newest_wins(parts: list[tuple[Int64Array, Float64Array]]) -> tuple[Int64Array, Float64Array]:
    """Merge sorted, de-duplicated parts of one series given oldest write first."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if len(parts) == 1:
        return parts[0]
    if all(int(a[0][-1]) < int(b[0][0]) for a, b in itertools.pairwise(parts)):
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    ts = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    last = np.r_[ts[1:] != ts[:-1], True]
    return ts[last], vals[order][last]


def split_points(timestamps: Int64Array, step_ms: int) -> list[int]:
    """Indices where sorted ``timestamps`` enter a new ``step_ms``-aligned interval,
    with 0 and the length at the ends."""
    cells = np.floor_divide(timestamps, step_ms)
    inner = np.flatnonzero(cells[1:] != cells[:-1]) + 1
    return [0, *inner.tolist(), int(timestamps.size)]


def clip(ts: Int64Array, vals: Float64Array, start_ms: int, end_ms: int) -> tuple[Int64Array, Float64Array]:
    """The samples of sorted ``ts`` within ``[start_ms, end_ms]``."""
    a = int(np.searchsorted(ts, start_ms, side="left"))
    b = int(np.searchsorted(ts, end_ms, side="right"))
    return ts[a:b], vals[a:b]
