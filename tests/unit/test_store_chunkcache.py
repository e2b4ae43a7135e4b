"""The decoded-chunk cache: hits return what decoding returns, entries are read-only,
eviction keeps the decoded size within the budget, and a rewritten chunk (new bytes) is
never answered from an older entry."""

from __future__ import annotations

import numpy as np
import pytest

from scalepilot.adapters.store import codec
from scalepilot.adapters.store.chunkcache import ChunkCache


def _chunk(start: int, n: int, value: float = 1.0) -> bytes:
    ts = np.arange(start, start + n * 15_000, 15_000, dtype=np.int64)
    return codec.encode_chunk(ts, np.full(n, value))


def test_a_hit_returns_the_decoded_arrays_without_decoding_again() -> None:
    cache = ChunkCache()
    blob = _chunk(0, 100)
    first = cache.decode(blob)
    second = cache.decode(bytes(blob))  # equal bytes, another object
    assert second[0] is first[0] and second[1] is first[1]
    assert (cache.hits, cache.misses) == (1, 1)
    ts, vals = codec.decode_chunk(blob)
    assert np.array_equal(first[0], ts) and np.array_equal(first[1], vals)


def test_entries_are_read_only() -> None:
    ts, vals = ChunkCache().decode(_chunk(0, 10))
    with pytest.raises(ValueError):
        vals[0] = 2.0
    with pytest.raises(ValueError):
        ts[0] = 1


def test_new_bytes_for_the_same_span_are_decoded_afresh() -> None:
    cache = ChunkCache()
    cache.decode(_chunk(0, 50, value=1.0))
    _, vals = cache.decode(_chunk(0, 50, value=7.0))
    assert float(vals[0]) == 7.0


def test_eviction_keeps_the_budget_and_drops_the_least_recently_used() -> None:
    blobs = [_chunk(i * 10_000_000, 1000, value=float(i)) for i in range(5)]
    per_entry = 1000 * 16 + max(len(b) for b in blobs)
    cache = ChunkCache(budget_bytes=3 * per_entry)
    for blob in blobs[:3]:
        cache.decode(blob)
    cache.decode(blobs[0])  # now the most recently used
    cache.decode(blobs[3])  # evicts blobs[1]
    assert len(cache) == 3 and cache.size_bytes <= cache.budget_bytes
    misses = cache.misses
    cache.decode(blobs[0])
    assert cache.misses == misses
    cache.decode(blobs[1])
    assert cache.misses == misses + 1


def test_a_chunk_larger_than_the_budget_is_decoded_but_not_kept() -> None:
    cache = ChunkCache(budget_bytes=100)
    ts, _ = cache.decode(_chunk(0, 100))
    assert ts.size == 100 and len(cache) == 0
