"""Chunk, rollup-column and write-ahead-batch encodings of the store.

Covers:
- any int64 timestamps and any float64 bit pattern (NaN payloads, -0.0, inf, the stale
  marker) round-trip bit-exactly, through every value encoding;
- typical monitoring data compresses to well under 2 bytes a sample;
- one odd value in a counter chunk does not push the whole chunk to the float path;
- damaged or unknown blobs raise StoreCorrupt, never return garbage silently.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalepilot.adapters.store.codec import (
    decode_batch,
    decode_chunk,
    decode_columns,
    encode_batch,
    encode_chunk,
    encode_columns,
)
from scalepilot.adapters.store.errors import StoreCorrupt
from scalepilot.domain.samples import STALE_NAN, STALE_NAN_BITS

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
T0 = 1_700_000_000_000


def bits(values: np.ndarray) -> np.ndarray:
    return values.view(np.uint64)


def assert_same(ts: np.ndarray, vals: np.ndarray, blob: bytes) -> None:
    got_ts, got_vals = decode_chunk(blob)
    assert got_ts.dtype == np.int64 and got_vals.dtype == np.float64
    np.testing.assert_array_equal(got_ts, ts)
    np.testing.assert_array_equal(bits(got_vals), bits(vals))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(INT64, UINT64), max_size=300))
def test_any_timestamps_and_any_bit_pattern_round_trip(samples: list[tuple[int, int]]) -> None:
    ts = np.array([t for t, _ in samples], dtype=np.int64)
    vals = np.array([b for _, b in samples], dtype=np.uint64).view(np.float64)
    assert_same(ts, vals, encode_chunk(ts, vals))


@settings(max_examples=200)
@given(
    start=INT64,
    step=st.integers(min_value=1, max_value=10**6),
    jitter=st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=200),
    base=st.integers(min_value=-(2**53), max_value=2**53),
    decimals=st.integers(min_value=0, max_value=7),
    odd=st.lists(st.tuples(st.integers(min_value=0, max_value=199), UINT64), max_size=5),
)
def test_structured_series_round_trip(
    start: int, step: int, jitter: list[int], base: int, decimals: int, odd: list[tuple[int, int]]
) -> None:
    """Counter-, gauge- and decimal-like values with a few arbitrary ones mixed in take
    the scaled-integer path with exceptions; all of it must come back exactly."""
    n = len(jitter)
    ts = np.int64(start) + np.arange(n, dtype=np.int64) * step + np.array(jitter, dtype=np.int64)
    vals = (base + np.cumsum(np.arange(n) % 7)).astype(np.float64) / 10.0**decimals
    for pos, pattern in odd:
        if pos < n:
            vals.view(np.uint64)[pos] = pattern
    assert_same(ts, vals, encode_chunk(ts, vals))


def test_special_values_round_trip() -> None:
    nan_payload = np.array([0x7FF8_0000_DEAD_BEEF], dtype=np.uint64).view(np.float64)[0]
    vals = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, STALE_NAN, nan_payload, 1.5, 2**60, -(2**53) - 1])
    ts = np.arange(vals.size, dtype=np.int64) * 15_000 + T0
    assert_same(ts, vals, encode_chunk(ts, vals))
    decoded = decode_chunk(encode_chunk(ts, vals))[1]
    assert decoded.view(np.uint64)[5] == STALE_NAN_BITS


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_chunks(n: int) -> None:
    ts = np.arange(n, dtype=np.int64) * 1000 + T0
    vals = np.arange(n, dtype=np.float64) * 0.5
    assert_same(ts, vals, encode_chunk(ts, vals))


def test_typical_series_compress_well() -> None:
    rng = np.random.default_rng(1)
    n = 1440
    ts = T0 + np.arange(n, dtype=np.int64) * 15_000 + rng.choice([0, 0, 1], n)
    counter = np.cumsum(rng.poisson(20, n)).astype(np.float64) + 1e6
    constant = np.ones(n)
    cpu = np.round(np.cumsum(rng.poisson(3, n)) / 100.0 + 1234.56, 2)
    memory = 4096.0 * (100_000 + np.cumsum(rng.integers(-64, 65, n)))
    for vals, limit in ((counter, 1.6), (constant, 0.3), (cpu, 1.4), (memory, 1.6)):
        blob = encode_chunk(ts, vals)
        assert len(blob) / n < limit, (len(blob) / n, limit)
        assert_same(ts, vals, blob)


def test_a_stale_marker_keeps_a_counter_cheap() -> None:
    n = 240
    ts = T0 + np.arange(n, dtype=np.int64) * 15_000
    vals = np.cumsum(np.full(n, 5.0))
    plain = len(encode_chunk(ts, vals))
    vals[100] = STALE_NAN
    marked = encode_chunk(ts, vals)
    assert len(marked) < plain + 40  # the exception costs 12 bytes; the float path would cost hundreds
    assert_same(ts, vals, marked)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(min_value=-(2**40), max_value=2**40), UINT64, UINT64), max_size=100))
def test_rollup_columns_round_trip(rows: list[tuple[int, int, int]]) -> None:
    starts = np.array(sorted({r[0] for r in rows}), dtype=np.int64) * 60_000
    k = starts.size
    a = np.array([r[1] for r in rows[:k]], dtype=np.uint64).view(np.float64)
    b = np.array([r[2] for r in rows[:k]], dtype=np.uint64).view(np.float64)
    cols = [a, b, np.arange(k, dtype=np.float64)]
    got_starts, got = decode_columns(encode_columns(starts, cols))
    np.testing.assert_array_equal(got_starts, starts)
    assert len(got) == 3
    for want, have in zip(cols, got, strict=True):
        np.testing.assert_array_equal(bits(have), bits(want))


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=2**40), INT64, UINT64), max_size=200))
def test_write_ahead_batches_round_trip(rows: list[tuple[int, int, int]]) -> None:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    ts = np.array([r[1] for r in rows], dtype=np.int64)
    vals = np.array([r[2] for r in rows], dtype=np.uint64).view(np.float64)
    got_ids, got_ts, got_vals = decode_batch(encode_batch(ids, ts, vals))
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got_ts, ts)
    np.testing.assert_array_equal(bits(got_vals), bits(vals))


def test_damaged_blobs_raise_store_corrupt() -> None:
    ts = T0 + np.arange(100, dtype=np.int64) * 15_000
    blob = encode_chunk(ts, np.sin(np.arange(100.0)))
    with pytest.raises(StoreCorrupt):
        decode_chunk(b"")
    with pytest.raises(StoreCorrupt):
        decode_chunk(b"\x7f" + blob[1:])
    with pytest.raises(StoreCorrupt):
        decode_chunk(blob[: len(blob) // 2])
    with pytest.raises(StoreCorrupt):
        decode_batch(blob)
    with pytest.raises(StoreCorrupt):
        decode_columns(blob[:3])


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        encode_chunk(np.arange(3, dtype=np.int64), np.zeros(2))
