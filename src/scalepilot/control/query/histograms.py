"""``histogram_quantile`` over classic buckets: Prometheus's ``BucketQuantile``.

``bucket_quantile`` is the algorithm for one set of buckets, written as Prometheus's
``promql/quantile.go``: sort by upper bound, merge equal bounds (``0.2`` and ``2e-1``),
make the cumulative counts monotonic (``ensureMonotonicAndIgnoreSmallDeltas``: scrapes of
a histogram are not atomic), then interpolate linearly inside the bucket the rank falls
in. ``bucket_quantiles`` is the same for every step of a query at once: one loop over the
buckets of a histogram, each iteration a numpy operation over all steps.
"""

from __future__ import annotations

import math

import numpy as np

from scalepilot.control.query.values import BoolArray
from scalepilot.domain.samples import Float64Array

_SMALL_DELTA = 1e-12
_MIN_NORMAL = 2.2250738585072014e-308


def _almost_equal(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < _SMALL_DELTA * _MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < _SMALL_DELTA


def bucket_quantile(q: float, bounds: Float64Array, counts: Float64Array) -> float:
    """Prometheus's ``BucketQuantile`` over classic buckets, with its coalescing of
    equal bounds and its monotonicity fix (``ensureMonotonicAndIgnoreSmallDeltas``)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    order = np.argsort(bounds, kind="stable")
    merged: list[list[float]] = []
    for i in order:
        bound, count = float(bounds[i]), float(counts[i])
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    if not merged or not (math.isinf(merged[-1][0]) and merged[-1][0] > 0):
        return math.nan
    prev = merged[0][1]
    for bucket in merged[1:]:
        curr = bucket[1]
        if curr == prev:
            continue
        if _almost_equal(prev, curr) or curr < prev:
            bucket[1] = prev
            continue
        prev = curr
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end, count = merged[b]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * _go_divide(rank, count)


def _go_divide(a: float, b: float) -> float:
    """``a / b`` with IEEE 754 results for a zero divisor, as in Go."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _almost_equal_arrays(a: Float64Array, b: Float64Array) -> BoolArray:
    """``_almost_equal`` elementwise."""
    with np.errstate(all="ignore"):
        both_nan = np.isnan(a) & np.isnan(b)
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
        relative = diff / np.minimum(abs_sum, 1.7976931348623157e308) < _SMALL_DELTA
        result: BoolArray = both_nan | (a == b) | np.where(tiny, diff < _SMALL_DELTA * _MIN_NORMAL, relative)
    return result


def bucket_quantiles(q: Float64Array, bounds: Float64Array, counts: Float64Array, present: BoolArray) -> Float64Array:
    """``bucket_quantile`` at every step: ``q`` per step, ``bounds`` per bucket row,
    ``counts`` and ``present`` of shape ``(buckets, steps)``; a step's buckets are the
    rows present at it. Steps without any bucket get NaN (the caller drops them)."""
    steps = counts.shape[1]
    order = np.argsort(bounds, kind="stable")
    sorted_bounds = bounds[order]
    masked = np.where(present[order], counts[order], 0.0)
    starts = np.flatnonzero(np.concatenate(([True], sorted_bounds[1:] != sorted_bounds[:-1])))
    upper = sorted_bounds[starts]
    # Equal bounds merge into one bucket, counts summed in sorted order as Prometheus does.
    merged = np.add.reduceat(masked, starts, axis=0) if masked.shape[0] else masked
    have = np.logical_or.reduceat(present[order], starts, axis=0) if masked.shape[0] else present
    n = upper.shape[0]
    cols = np.arange(steps)
    with np.errstate(all="ignore"):
        # Monotonicity over the buckets present at each step.
        prev = np.full(steps, math.nan)
        started = np.zeros(steps, dtype=bool)
        for k in range(n):
            here = have[k]
            curr = merged[k]
            first = here & ~started
            later = here & started
            same = later & (curr == prev)
            lower = later & ~same & (_almost_equal_arrays(prev, curr) | (curr < prev))
            merged[k] = np.where(lower, prev, curr)
            raise_prev = later & ~same & ~lower
            prev = np.where(first | raise_prev, curr, prev)
            started |= here
        # Index of the previous present bucket, per bucket and step (-1 if none).
        positions = np.where(have, np.arange(n)[:, None], -1)
        seen = np.maximum.accumulate(positions, axis=0)
        previous = np.vstack((np.full((1, steps), -1), seen[:-1])) if n else seen
        count_present = have.sum(axis=0)
        valid = (n > 0) & (count_present >= 2)
        if n:
            valid &= have[n - 1] & np.isposinf(upper[n - 1])
        observations = merged[n - 1] if n else np.zeros(steps)
        valid &= observations != 0
        rank = q * observations
        # First present bucket (the +Inf one excluded) whose count reaches the rank.
        if n > 1:
            reaches = have[: n - 1] & (merged[: n - 1] >= rank[None, :])
            found = reaches.any(axis=0)
            b = np.where(found, np.argmax(reaches, axis=0), n - 1)
        else:
            b = np.full(steps, max(n - 1, 0))
        prev_b = previous[b, cols] if n else np.full(steps, -1)
        in_last = b == n - 1
        second_last = upper[np.maximum(prev_b, 0)] if n else np.zeros(steps)
        first_bucket = prev_b < 0
        bound_b = upper[b] if n else np.zeros(steps)
        start = np.where(first_bucket, 0.0, upper[np.maximum(prev_b, 0)] if n else 0.0)
        below = np.where(first_bucket, 0.0, merged[np.maximum(prev_b, 0), cols] if n else 0.0)
        count = merged[b, cols] - below if n else np.zeros(steps)
        inside = start + (bound_b - start) * ((rank - below) / count)
        result = np.where(in_last, second_last, np.where(first_bucket & (bound_b <= 0), bound_b, inside))
        result = np.where(valid, result, math.nan)
        result = np.where(q < 0, -math.inf, np.where(q > 1, math.inf, result))
        out: Float64Array = np.where(np.isnan(q), math.nan, result)
    return out
