"""Finding a few series' samples in the head without scanning all of it.

The head keeps samples in append order, so "the samples of these 100 series" used to
be a pass over every head sample per read: with rules reading 1,000 expressions a cycle
over 10,000 series, that pass was a third of the rule engine's CPU. An index sorted by
series turns it into a binary search per series, costing what the answer holds.

The index is built from a snapshot, outside the store's lock, and is valid for as long
as the head's arrays are the same objects: appends only write past the snapshot's end,
and everything that removes samples builds new arrays (see ``head.py``). Samples
appended after the index was built (the *tail*) are found by a scan of the tail alone;
once the tail outgrows a fraction of the indexed part the index is rebuilt, so the
rebuild's cost is spread over many appends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scalepilot.adapters.store.head import HeadSnapshot
from scalepilot.domain.samples import Int64Array

# Below this many samples a scan is as cheap as keeping an index.
_MIN_INDEXED = 65_536
# Rebuild when the unindexed tail exceeds this fraction of the indexed part: bounds the
# scan per read to 1/8 of the old cost and the rebuild to one per n/8 appended samples.
_TAIL_FRACTION = 8


@dataclass(frozen=True, slots=True)
class _Index:
    base: object  # the head array the snapshot is a view of; kept alive, compared by identity
    n: int
    order: Int64Array  # positions in [0, n) sorted by series id, write order within a series
    sorted_ids: Int64Array


class HeadIndex:
    """The last index built, shared by the store's readers."""

    def __init__(self) -> None:
        self._index: _Index | None = None
        self._lock = threading.Lock()  # one rebuild at a time; readers of a valid index never wait

    def positions(self, snap: HeadSnapshot, ids: Int64Array) -> Int64Array:
        """Positions in ``snap`` of every sample of ``ids``, ascending (write order)."""
        n = int(snap.ids.size)
        if n < _MIN_INDEXED:
            return np.flatnonzero(_member(snap.ids, ids))
        base = _base(snap.ids)
        index = self._index
        if index is None or index.base is not base or index.n > n or (n - index.n) * _TAIL_FRACTION > index.n:
            index = self._rebuild(snap, base)
        found = _lookup(index, ids)
        if index.n < n:
            tail = np.flatnonzero(_member(snap.ids[index.n :], ids)) + index.n
            found = np.concatenate([found, tail])
        return found

    def _rebuild(self, snap: HeadSnapshot, base: object) -> _Index:
        with self._lock:
            current = self._index
            n = int(snap.ids.size)
            if current is not None and current.base is base and current.n == n:
                return current  # another reader built it meanwhile
            order = np.argsort(snap.ids, kind="stable").astype(np.int64, copy=False)
            index = _Index(base, n, order, snap.ids[order])
            self._index = index
            return index

    def clear(self) -> None:
        """Drop the index (and the reference it holds to the old head arrays)."""
        self._index = None


def _base(a: Int64Array) -> object:
    return a.base if a.base is not None else a


def _member(haystack: Int64Array, ids: Int64Array) -> npt.NDArray[np.bool_]:
    if ids.size == 1:
        same: npt.NDArray[np.bool_] = haystack == ids[0]
        return same
    return np.isin(haystack, ids, kind="table")


def _lookup(index: _Index, ids: Int64Array) -> Int64Array:
    lo = np.searchsorted(index.sorted_ids, ids, side="left")
    hi = np.searchsorted(index.sorted_ids, ids, side="right")
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    # Concatenate order[lo_i:hi_i] for every i without a Python loop.
    starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
    picked = index.order[starts + np.arange(total, dtype=np.int64)]
    picked.sort()
    return picked
