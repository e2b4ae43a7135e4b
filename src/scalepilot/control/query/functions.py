"""Prometheus's range and histogram functions over plain arrays.

These are the exact algorithms of Prometheus (``promql/functions.go``,
``promql/quantile.go``), written against numpy arrays so the autoscaler can read
request rates and latency percentiles from the store today and the PromQL evaluator can
call the same code tomorrow. Timestamps are int64 milliseconds, values float64; a
window is left-open, ``(t - range, t]``, as in Prometheus 3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from scalepilot.domain.samples import Float64Array, Int64Array, stale_mask


def window(timestamps: Int64Array, values: Float64Array, end_ms: int, range_ms: int) -> tuple[Int64Array, Float64Array]:
    """The samples in ``(end - range, end]``, stale markers dropped."""
    lo = int(np.searchsorted(timestamps, end_ms - range_ms, side="right"))
    hi = int(np.searchsorted(timestamps, end_ms, side="right"))
    ts, vs = timestamps[lo:hi], values[lo:hi]
    keep = ~stale_mask(vs)
    if not keep.all():
        ts, vs = ts[keep], vs[keep]
    return ts, vs


def extrapolated_rate(
    timestamps: Int64Array,
    values: Float64Array,
    end_ms: int,
    range_ms: int,
    *,
    is_counter: bool = True,
    is_rate: bool = True,
) -> float | None:
    """``rate`` (is_rate), ``increase`` (not is_rate) or ``delta`` (not is_counter) over
    the window ending at ``end_ms``; None when fewer than two samples fall in it.

    Counter resets add the value before the reset; the result is extrapolated towards
    the window's edges by at most half an average sample interval, and never below a
    counter's zero point, exactly as Prometheus does.
    """
    ts, vs = window(timestamps, values, end_ms, range_ms)
    n = len(vs)
    if n < 2:
        return None
    result = float(vs[-1] - vs[0])
    if is_counter:
        drops = vs[1:] < vs[:-1]
        if drops.any():
            result += float(vs[:-1][drops].sum())
    range_start_s = (end_ms - range_ms) / 1000.0
    range_end_s = end_ms / 1000.0
    first_s, last_s = ts[0] / 1000.0, ts[-1] / 1000.0
    duration_to_start = first_s - range_start_s
    duration_to_end = range_end_s - last_s
    sampled = last_s - first_s
    average = sampled / (n - 1)
    threshold = average * 1.1
    if duration_to_start >= threshold:
        duration_to_start = average / 2
    if is_counter and result > 0 and vs[0] >= 0:
        duration_to_zero = sampled * (float(vs[0]) / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    if duration_to_end >= threshold:
        duration_to_end = average / 2
    factor = (sampled + duration_to_start + duration_to_end) / sampled
    if is_rate:
        factor /= range_ms / 1000.0
    return float(result * factor)


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """``histogram_quantile`` over classic buckets: (upper bound, cumulative count)
    pairs in any order. NaN when the buckets cannot answer (no +Inf bucket, fewer than
    two buckets, no observations)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    # Buckets with equal bounds (e.g. "1" and "1.0") are one bucket; counts made
    # monotonic, since scrapes of one histogram are not atomic.
    merged: list[list[float]] = []
    for bound, count in ordered:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    for i in range(1, len(merged)):
        merged[i][1] = max(merged[i][1], merged[i - 1][1])
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    b = next(i for i, (_, count) in enumerate(merged) if count >= rank)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0 if b == 0 else merged[b - 1][0]
    end = merged[b][0]
    count = merged[b][1]
    if b > 0:
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)
