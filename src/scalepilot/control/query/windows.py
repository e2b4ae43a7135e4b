"""Finding, for every series and every step at once, the samples a selector sees.

All series are laid end to end (``Samples``). A composite key ``series * M + (t - base)``
is then globally sorted, so one ``np.searchsorted`` over ``(series, step)`` pairs finds
every window boundary of every series at every step: no Python loop over series or
steps. Windows are left-open, ``(end - range, end]`` (Prometheus 3), and the instant
lookback is left-open too: a sample exactly ``lookback`` old is no longer seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scalepilot.control.query.values import BoolArray, Samples, Vectors
from scalepilot.domain.samples import Float64Array, Int64Array, SeriesData, stale_mask

_KEY_LIMIT = 2**62


def samples_from_series(series: Sequence[SeriesData]) -> Samples:
    """Sorted by labels, which is also the order Prometheus's storage returns them in."""
    ordered = sorted(series, key=lambda s: s.labels)
    if not ordered:
        return Samples([], np.empty(0, np.int64), np.empty(0, np.float64), np.zeros(1, np.int64))
    ts = np.concatenate([s.timestamps for s in ordered], dtype=np.int64)
    values = np.concatenate([s.values for s in ordered], dtype=np.float64)
    lengths = np.fromiter((s.timestamps.shape[0] for s in ordered), dtype=np.int64, count=len(ordered))
    bounds = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return Samples([s.labels for s in ordered], ts, values, bounds)


def without_stale(samples: Samples) -> Samples:
    """The samples range functions see: stale markers removed."""
    cached = samples.cache.get("fresh")
    if isinstance(cached, Samples):
        return cached
    keep = ~stale_mask(samples.values)
    if keep.all():
        fresh = samples
    else:
        kept = np.concatenate(([0], np.cumsum(keep))).astype(np.int64)
        fresh = Samples(samples.labels, samples.ts[keep], samples.values[keep], kept[samples.bounds])
    samples.cache["fresh"] = fresh
    return fresh


def samples_from_vectors(vectors: Vectors, times: Int64Array) -> Samples:
    """A subquery's result as if it were raw samples, at the subquery's step times."""
    present = vectors.present
    counts = present.sum(axis=1)
    bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    ts = np.broadcast_to(times, present.shape)[present].astype(np.int64)
    return Samples(list(vectors.labels), ts, vectors.values[present].astype(np.float64), bounds)


def _search(samples: Samples, refs: Int64Array, side: str) -> Int64Array:
    """Global index, per (series, step), of ``searchsorted(series_ts, refs[step], side)``."""
    n_series, n_steps = samples.count, refs.shape[0]
    if n_series == 0 or n_steps == 0:
        return np.zeros((n_series, n_steps), dtype=np.int64)
    ts = samples.ts
    if ts.shape[0] == 0:
        return np.broadcast_to(samples.bounds[:-1, None], (n_series, n_steps)).astype(np.int64)
    base = min(int(ts.min()), int(refs.min())) - 1
    span = max(int(ts.max()), int(refs.max())) - base + 2
    if span * (n_series + 1) >= _KEY_LIMIT:
        return _search_per_series(samples, refs, side)
    key = samples.cache.get(("key", base, span))
    if key is None:
        key = samples.series_index() * span + (ts - base)
        samples.cache[("key", base, span)] = key
    query = (np.arange(n_series, dtype=np.int64) * span)[:, None] + (refs - base)[None, :]
    found = np.searchsorted(key, query.ravel(), side=side)  # type: ignore[call-overload]
    result: Int64Array = found.reshape(n_series, n_steps).astype(np.int64)
    return result


def _search_per_series(samples: Samples, refs: Int64Array, side: str) -> Int64Array:
    out = np.empty((samples.count, refs.shape[0]), dtype=np.int64)
    for i in range(samples.count):
        start, stop = int(samples.bounds[i]), int(samples.bounds[i + 1])
        out[i] = start + np.searchsorted(samples.ts[start:stop], refs, side=side)  # type: ignore[call-overload]
    return out


def window_bounds(samples: Samples, ends: Int64Array, range_ms: int) -> tuple[Int64Array, Int64Array]:
    """Flat ``lo, hi`` with the samples of ``(end - range, end]`` at ``lo:hi``."""
    lo = _search(samples, ends - range_ms, "right")
    hi = _search(samples, ends, "right")
    return lo, hi


def instant_lookup(samples: Samples, refs: Int64Array, lookback_ms: int) -> tuple[Float64Array, BoolArray, Int64Array]:
    """The value each series shows at each reference time: its newest sample at or
    before it, unless that sample is ``lookback`` or more older, or a stale marker.
    Returns values, present, and the chosen samples' own timestamps."""
    n_series, n_steps = samples.count, refs.shape[0]
    if n_series == 0 or n_steps == 0 or samples.ts.shape[0] == 0:
        shape = (n_series, n_steps)
        return np.zeros(shape), np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int64)
    idx = _search(samples, refs, "right") - 1
    first = samples.bounds[:-1, None]
    valid = idx >= first
    safe = np.where(valid, idx, 0)
    ts = samples.ts[safe]
    values = samples.values[safe]
    present = valid & (ts > refs[None, :] - lookback_ms) & ~stale_mask(values)
    return values, present, ts
