"""Functions of range vectors (``rate``, ``*_over_time``...) over every window at once.

Each function takes the ``Windows`` of a selector (flat sample arrays plus ``lo:hi``
bounds per series and step) and returns ``(values, present)`` of shape
``(series, steps)``. The arithmetic is Prometheus 3's (``promql/functions.go``), in the
same order so results match to the last bit where it matters:

* ``rate``/``increase``/``delta`` read only the first and last sample of a window and a
  running sum of counter-reset corrections, so a window costs O(1) whatever its length;
* sums use Prometheus's Kahan-Neumaier summation, evaluated for all windows in
  lock-step (one numpy pass per sample position), as do averages (with Prometheus's
  switch to an incremental mean on overflow), variances and linear regression;
* ``min``/``max`` use ``reduceat``; ``changes``/``resets`` running counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from scalepilot.control.query.values import BoolArray, Samples, Windows
from scalepilot.domain.samples import Float64Array, Int64Array

Result = tuple[Float64Array, BoolArray]


def kahan_inc(inc: Float64Array, total: Float64Array, comp: Float64Array) -> tuple[Float64Array, Float64Array]:
    """Prometheus's ``kahansum.Inc`` (Neumaier's variant, reset on overflow), elementwise."""
    t = total + inc
    big = np.abs(total) >= np.abs(inc)
    comp = np.where(np.isinf(t), 0.0, np.where(big, comp + ((total - t) + inc), comp + ((inc - t) + total)))
    return t, comp


def _first_last(w: Windows, minimum: int) -> tuple[BoolArray, Int64Array, Int64Array]:
    ok = w.counts >= minimum
    first = np.where(ok, w.lo, 0)
    last = np.where(ok, w.hi - 1, 0)
    return ok, first, last


def _running(samples: Samples, name: str, make: Callable[[Samples], Float64Array]) -> Float64Array:
    cached = samples.cache.get(name)
    if cached is None:
        cached = make(samples)
        samples.cache[name] = cached
    result: Float64Array = cached
    return result


def _series_starts(samples: Samples) -> BoolArray:
    starts = np.zeros(samples.ts.shape[0], dtype=bool)
    firsts = samples.bounds[:-1][np.diff(samples.bounds) > 0]
    starts[firsts] = True
    return starts


def _reset_corrections(samples: Samples) -> Float64Array:
    """Running sum of the value before each counter reset (0 where none)."""
    v = samples.values
    corr = np.zeros_like(v)
    if v.shape[0] > 1:
        drop = v[1:] < v[:-1]
        corr[1:] = np.where(drop, v[:-1], 0.0)
        corr[_series_starts(samples)] = 0.0
    return np.cumsum(corr)


def _change_counts(samples: Samples, kind: str) -> Float64Array:
    v = samples.values
    marks = np.zeros_like(v)
    if v.shape[0] > 1:
        hit = v[1:] < v[:-1] if kind == "resets" else (v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1]))
        marks[1:] = hit
        marks[_series_starts(samples)] = 0.0
    return np.cumsum(marks)


def extrapolated_rate(w: Windows, *, is_counter: bool, is_rate: bool) -> Result:
    """``rate`` / ``increase`` / ``delta``: Prometheus's ``extrapolatedRate``."""
    ok, first, last = _first_last(w, 2)
    v, t = w.samples.values, w.samples.ts
    vf, vl, tf, tl = v[first], v[last], t[first], t[last]
    result = vl - vf
    if is_counter:
        corrections = _running(w.samples, "reset_corrections", _reset_corrections)
        correction = corrections[last] - corrections[first]
        bad = ok & ~np.isfinite(correction)
        if bad.any():
            correction = correction.copy()
            for s, step in zip(*np.nonzero(bad), strict=True):
                window = v[w.lo[s, step] : w.hi[s, step]]
                drops = window[1:] < window[:-1]
                correction[s, step] = float(window[:-1][drops].sum())
        result = result + correction
    range_start = (w.end - w.range_ms)[None, :]
    range_end = w.end[None, :]
    to_start = (tf - range_start) / 1000.0
    to_end = (range_end - tl) / 1000.0
    sampled = (tl - tf) / 1000.0
    average = sampled / np.maximum(w.counts - 1, 1)
    threshold = average * 1.1
    to_start = np.where(to_start >= threshold, average / 2, to_start)
    if is_counter:
        to_zero = np.where((result > 0) & (vf >= 0), sampled * (vf / result), to_start)
        to_start = np.where(to_zero < to_start, to_zero, to_start)
    to_end = np.where(to_end >= threshold, average / 2, to_end)
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor = factor / (w.range_ms / 1000.0)
    return result * factor, ok


def instant_value(w: Windows, *, is_rate: bool) -> Result:
    """``irate`` / ``idelta`` from the last two samples of each window."""
    ok, _, last = _first_last(w, 2)
    prev = np.where(ok, last - 1, 0)
    v, t = w.samples.values, w.samples.ts
    vl, vp = v[last], v[prev]
    result = np.where(vl < vp, vl, vl - vp) / ((t[last] - t[prev]) / 1000.0) if is_rate else vl - vp
    return result, ok


def _lockstep(w: Windows, ok: BoolArray) -> tuple[int, Int64Array]:
    """How many sample positions the widest window has (the lock-step loop length)."""
    counts = np.where(ok, w.counts, 0)
    return int(counts.max()) if counts.size else 0, counts


def sum_over_time(w: Windows) -> Result:
    ok = w.counts >= 1
    steps, counts = _lockstep(w, ok)
    total = np.zeros(counts.shape)
    comp = np.zeros(counts.shape)
    v = w.samples.values
    for k in range(steps):
        active = counts > k
        x = v[np.where(active, w.lo + k, 0)]
        t2, c2 = kahan_inc(x, total, comp)
        total = np.where(active, t2, total)
        comp = np.where(active, c2, comp)
    return np.where(np.isinf(total), total, total + comp), ok


def avg_over_time(w: Windows) -> Result:
    """Direct Kahan mean, switching to an incremental mean once the sum would overflow."""
    ok = w.counts >= 1
    steps, counts = _lockstep(w, ok)
    v = w.samples.values
    shape = counts.shape
    total = v[np.where(ok, w.lo, 0)] if v.shape[0] else np.zeros(shape)
    comp = np.zeros(shape)
    mean = np.zeros(shape)
    incremental = np.zeros(shape, dtype=bool)
    for k in range(1, steps):
        active = counts > k
        x = v[np.where(active, w.lo + k, 0)]
        count = float(k + 1)
        new_sum, new_comp = kahan_inc(x, total, comp)
        direct = active & ~incremental & ~np.isinf(new_sum)
        switching = active & ~incremental & np.isinf(new_sum)
        total = np.where(direct, new_sum, total)
        comp = np.where(direct, new_comp, comp)
        mean = np.where(switching, total / (count - 1), mean)
        comp = np.where(switching, comp / (count - 1), comp)
        incremental = incremental | switching
        step_inc = active & incremental
        q = (count - 1) / count
        m2, c2 = kahan_inc(x / count, q * mean, q * comp)
        mean = np.where(step_inc, m2, mean)
        comp = np.where(step_inc, c2, comp)
    n = np.maximum(counts, 1)
    return np.where(incremental, mean + comp, total / n + comp / n), ok


def variance_over_time(w: Windows, *, stddev: bool) -> Result:
    ok = w.counts >= 1
    steps, counts = _lockstep(w, ok)
    shape = counts.shape
    count = np.zeros(shape)
    mean, c_mean, aux, c_aux = (np.zeros(shape) for _ in range(4))
    v = w.samples.values
    for k in range(steps):
        active = counts > k
        x = v[np.where(active, w.lo + k, 0)]
        count = np.where(active, count + 1, count)
        delta = x - (mean + c_mean)
        m2, cm2 = kahan_inc(delta / np.maximum(count, 1), mean, c_mean)
        mean = np.where(active, m2, mean)
        c_mean = np.where(active, cm2, c_mean)
        a2, ca2 = kahan_inc(delta * (x - (mean + c_mean)), aux, c_aux)
        aux = np.where(active, a2, aux)
        c_aux = np.where(active, ca2, c_aux)
    variance = (aux + c_aux) / np.maximum(count, 1)
    return (np.sqrt(variance) if stddev else variance), ok


def extreme_over_time(w: Windows, *, largest: bool) -> Result:
    """``max``/``min_over_time``: NaN only when every sample in the window is NaN."""
    ok = w.counts >= 1
    v = w.samples.values
    if not ok.any():
        return np.zeros(ok.shape), ok
    padded = np.concatenate((v, [np.nan]))
    idx = np.empty(2 * ok.size, dtype=np.int64)
    idx[0::2] = w.lo.ravel()
    idx[1::2] = w.hi.ravel()
    ufunc = np.fmax if largest else np.fmin
    reduced = ufunc.reduceat(padded, idx)[0::2].reshape(ok.shape)
    return reduced, ok


def linear_regression(w: Windows, *, predict_s: Float64Array | None) -> Result:
    """``deriv`` (``predict_s`` None) or ``predict_linear``: Prometheus's least squares
    with Kahan sums, ``x`` in seconds from the first sample (deriv) or the eval time."""
    ok = w.counts >= 2
    steps, counts = _lockstep(w, ok)
    v, t = w.samples.values, w.samples.ts
    shape = counts.shape
    first = np.where(ok, w.lo, 0)
    intercept_ms = t[first] if predict_s is None else np.broadcast_to(w.eval_ms[None, :], shape)
    init_y = v[first]
    const_y = np.ones(shape, dtype=bool)
    n = np.zeros(shape)
    sums = [np.zeros(shape) for _ in range(8)]
    for k in range(steps):
        active = counts > k
        idx = np.where(active, w.lo + k, 0)
        y = v[idx]
        x = (t[idx] - intercept_ms) / 1e3
        if k > 0:
            const_y &= ~(active & (y != init_y))
        n = np.where(active, n + 1, n)
        for j, inc in enumerate((x, y, x * y, x * x)):
            s2, c2 = kahan_inc(inc, sums[2 * j], sums[2 * j + 1])
            sums[2 * j] = np.where(active, s2, sums[2 * j])
            sums[2 * j + 1] = np.where(active, c2, sums[2 * j + 1])
    sum_x, sum_y, sum_xy, sum_x2 = (sums[2 * j] + sums[2 * j + 1] for j in range(4))
    n = np.maximum(n, 1)
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = cov_xy / var_x
    intercept = sum_y / n - slope * sum_x / n
    const_inf = const_y & np.isinf(init_y)
    slope = np.where(const_y, np.where(const_inf, np.nan, 0.0), slope)
    intercept = np.where(const_y, np.where(const_inf, np.nan, init_y), intercept)
    if predict_s is None:
        return slope, ok
    return slope * predict_s[None, :] + intercept, ok


def changes_or_resets(w: Windows, kind: str) -> Result:
    ok, first, last = _first_last(w, 1)
    running = _running(w.samples, kind, lambda s: _change_counts(s, kind))
    return running[last] - running[first], ok


def last_over_time(w: Windows) -> Result:
    ok, _, last = _first_last(w, 1)
    return w.samples.values[last], ok


_BLOCK_ELEMENTS = 1 << 22


def quantile_over_time(w: Windows, q: Float64Array) -> Result:
    """Every window sorted at once (padded to the widest window, in blocks to bound
    memory); NaN sorts first, as in Prometheus's ``quantile``."""
    ok = w.counts >= 1
    out = np.full(ok.shape, np.nan)
    v = w.samples.values
    rows, steps = np.nonzero(ok)
    if rows.shape[0] == 0:
        return out, ok
    lo, counts = w.lo[rows, steps], w.counts[rows, steps]
    qs = q[steps]
    width = int(counts.max())
    block = max(1, _BLOCK_ELEMENTS // width)
    offsets = np.arange(width)
    for start in range(0, rows.shape[0], block):
        part = slice(start, start + block)
        n = counts[part]
        inside = offsets[None, :] < n[:, None]
        idx = np.where(inside, lo[part, None] + offsets[None, :], 0)
        values = np.where(inside, v[idx], np.nan)
        nans = np.isnan(values).sum(axis=1) - (width - n)
        ordered = np.sort(values, axis=1)  # non-NaN ascending, then NaN (real ones and padding)
        qp = qs[part]
        rank = np.where(np.isfinite(qp), qp, 0.0) * (n - 1)  # q outside [0, 1] is handled below
        lower = np.maximum(0, np.floor(rank)).astype(np.int64)
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        low_value = _nan_first(ordered, nans, np.clip(lower, 0, width - 1))
        high_value = _nan_first(ordered, nans, np.clip(upper, 0, width - 1))
        value = low_value * (1 - weight) + high_value * weight
        value = np.where(qp < 0, -np.inf, np.where(qp > 1, np.inf, value))
        out[rows[part], steps[part]] = np.where(np.isnan(qp), np.nan, value)
    return out, ok


def _nan_first(ordered: Float64Array, nans: Int64Array, pos: Int64Array) -> Float64Array:
    """Entry ``pos`` of each row in NaN-first order, given rows sorted NaN-last and
    each row's count of real NaNs."""
    width = ordered.shape[1]
    shifted = np.clip(pos - nans, 0, width - 1)
    picked: Float64Array = np.where(pos < nans, np.nan, ordered[np.arange(ordered.shape[0]), shifted])
    return picked


def quantile(q: float, values: Float64Array) -> float:
    """Prometheus's ``quantile``: NaN sorts first, linear interpolation between ranks."""
    if values.shape[0] == 0 or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    nan = np.isnan(values)
    ordered = np.concatenate((values[nan], np.sort(values[~nan])))
    n = ordered.shape[0]
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


def evaluate(name: str, w: Windows, scalar_arg: Float64Array | None) -> Result:
    """Dispatch by function name; ``scalar_arg`` is the per-step scalar argument of
    ``quantile_over_time`` / ``predict_linear``."""
    with np.errstate(all="ignore"):
        if name in ("rate", "increase", "delta"):
            return extrapolated_rate(w, is_counter=name != "delta", is_rate=name == "rate")
        if name in ("irate", "idelta"):
            return instant_value(w, is_rate=name == "irate")
        if name in ("changes", "resets"):
            return changes_or_resets(w, name)
        if name == "deriv":
            return linear_regression(w, predict_s=None)
        if name == "predict_linear":
            assert scalar_arg is not None
            return linear_regression(w, predict_s=scalar_arg)
        if name == "sum_over_time":
            return sum_over_time(w)
        if name == "avg_over_time":
            return avg_over_time(w)
        if name in ("stddev_over_time", "stdvar_over_time"):
            return variance_over_time(w, stddev=name == "stddev_over_time")
        if name in ("max_over_time", "min_over_time"):
            return extreme_over_time(w, largest=name == "max_over_time")
        if name == "count_over_time":
            counts = w.counts
            return counts.astype(np.float64), counts >= 1
        if name in ("present_over_time", "absent_over_time"):
            return np.ones(w.lo.shape), w.counts >= 1
        if name == "last_over_time":
            return last_over_time(w)
        if name == "quantile_over_time":
            assert scalar_arg is not None
            return quantile_over_time(w, scalar_arg)
    raise AssertionError(f"not a range function: {name}")
