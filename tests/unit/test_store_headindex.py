"""The head index finds exactly the samples a full scan finds, in write order, across
appends, reallocations and removals (which replace the head's arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from scalepilot.adapters.store import headindex
from scalepilot.adapters.store.head import Head
from scalepilot.adapters.store.headindex import HeadIndex


@pytest.fixture(autouse=True)
def _small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Exercise the index on heads small enough for a unit test.
    monkeypatch.setattr(headindex, "_MIN_INDEXED", 64)


def _scan(head: Head, ids: np.ndarray) -> np.ndarray:
    snap = head.snapshot()
    return np.flatnonzero(np.isin(snap.ids, ids))


def _append(head: Head, rng: np.random.Generator, n: int, t: int) -> None:
    ids = rng.integers(0, 50, n).astype(np.int64)
    head.append(ids, np.full(n, t, dtype=np.int64), rng.random(n))


def test_positions_match_a_full_scan_as_the_head_grows_and_shrinks() -> None:
    rng = np.random.default_rng(7)
    head = Head()
    index = HeadIndex()
    rebuilt_bases: set[int] = set()
    for step in range(60):
        _append(head, rng, int(rng.integers(1, 400)), step)
        if step % 17 == 16:  # maintenance drops a third of the flushed samples
            head.seal(step, head.size, step)
            snap = head.flushed_snapshot()
            drop = rng.random(snap.ids.size) < 0.33
            head.apply_removal(Head.prepare_removal(snap, head.batches_copy(), drop))
        for query in (np.array([3], dtype=np.int64), np.unique(rng.integers(0, 60, 12)).astype(np.int64)):
            got = index.positions(head.snapshot(), query)
            np.testing.assert_array_equal(got, _scan(head, query))
        if index._index is not None:
            rebuilt_bases.add(id(index._index.base))
    # The index was rebuilt when removals replaced the arrays, not kept stale.
    assert len(rebuilt_bases) >= 3


def test_an_index_is_reused_while_only_a_small_tail_was_appended() -> None:
    rng = np.random.default_rng(1)
    head = Head()
    _append(head, rng, 3000, 0)  # the head's first arrays hold 4,096: no reallocation below
    index = HeadIndex()
    query = np.array([1, 2, 40], dtype=np.int64)
    index.positions(head.snapshot(), query)
    built = index._index
    _append(head, rng, 100, 1)  # well under 1/8 of the indexed part
    np.testing.assert_array_equal(index.positions(head.snapshot(), query), _scan(head, query))
    assert index._index is built
    _append(head, rng, 600, 2)  # the tail outgrows its share: rebuilt
    np.testing.assert_array_equal(index.positions(head.snapshot(), query), _scan(head, query))
    assert index._index is not built and index._index is not None
    assert index._index.n == head.size


def test_unknown_series_and_an_empty_query_find_nothing() -> None:
    rng = np.random.default_rng(2)
    head = Head()
    _append(head, rng, 1000, 0)
    index = HeadIndex()
    assert index.positions(head.snapshot(), np.array([999], dtype=np.int64)).size == 0
    assert index.positions(head.snapshot(), np.array([], dtype=np.int64)).size == 0
