"""Aggregation operators (``sum by (...)``, ``topk``, ``quantile``...) over all steps at once.

Series are assigned to groups once (a Python pass over label sets); the arithmetic then
runs over ``(groups, steps)`` arrays. Sums and averages add the series of a group in
input order with Prometheus's Kahan-Neumaier summation, one numpy pass per position in
the group, so the results match Prometheus's to the bit; ``min``/``max``/``count`` use
``reduceat``; ``topk``/``bottomk`` one ``lexsort`` over every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from scalepilot.control.query.formatting import format_go_float
from scalepilot.control.query.range_functions import kahan_inc
from scalepilot.control.query.values import BoolArray, Vectors, execution_error
from scalepilot.domain.labels import METRIC_NAME, Labels
from scalepilot.domain.samples import Float64Array, Int64Array

_MAX_INT64 = 9223372036854774784.0
_MIN_INT64 = -9223372036854775808.0


def group_labels(labels: Labels, grouping: tuple[str, ...], without: bool) -> Labels:
    return grouping_key(grouping, without)(labels)


def grouping_key(grouping: tuple[str, ...], without: bool) -> Callable[[Labels], Labels]:
    """The function from a series' labels to its group's (built once per aggregation:
    it runs for every input series)."""
    if without:
        dropped = frozenset(grouping) | {METRIC_NAME}
        return lambda labels: tuple(pair for pair in labels if pair[0] not in dropped)
    if not grouping:
        return lambda labels: ()
    wanted = frozenset(grouping)
    return lambda labels: tuple(pair for pair in labels if pair[0] in wanted)


class _Groups:
    """Row → group assignment, with each group's rows in input order."""

    def __init__(self, labels: list[Labels], grouping: tuple[str, ...], without: bool) -> None:
        index: dict[Labels, int] = {}
        key = grouping_key(grouping, without)
        gidx = np.fromiter(
            (index.setdefault(key(row), len(index)) for row in labels), dtype=np.int64, count=len(labels)
        )
        self.labels = list(index)
        self.index: Int64Array = gidx
        self.count = len(index)
        self.order: Int64Array = np.argsort(gidx, kind="stable")
        sizes = np.bincount(gidx, minlength=self.count)
        self.sizes: Int64Array = sizes
        self.starts: Int64Array = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        position = np.empty(len(labels), dtype=np.int64)
        position[self.order] = np.arange(len(labels)) - np.repeat(self.starts, sizes)
        self.position = position
        self.largest = int(sizes.max()) if len(labels) else 0

    def rows_at(self, k: int) -> tuple[Int64Array, Int64Array]:
        rows = np.flatnonzero(self.position == k)
        return rows, self.index[rows]


def aggregate(op: str, vectors: Vectors, grouping: tuple[str, ...], without: bool, param: float | None) -> Vectors:
    steps = vectors.values.shape[1]
    if op in ("topk", "bottomk") and param is not None:
        _check_int64(param)  # Prometheus checks k even when there is nothing to rank
    if not vectors.labels:
        return Vectors.empty(steps)
    groups = _Groups(vectors.labels, grouping, without)
    with np.errstate(all="ignore"):
        if op in ("topk", "bottomk"):
            assert param is not None
            return _top_bottom(vectors, groups, param, largest=op == "topk")
        if op == "sum":
            values, present = _sum(vectors, groups)
        elif op == "avg":
            values, present = _avg(vectors, groups)
        elif op in ("stddev", "stdvar"):
            values, present = _variance(vectors, groups, stddev=op == "stddev")
        elif op in ("min", "max", "count", "group"):
            values, present = _reduce(op, vectors, groups)
        elif op == "quantile":
            assert param is not None
            values, present = _quantile(vectors, groups, param)
        else:
            raise AssertionError(f"not an aggregation: {op}")
    return Vectors(groups.labels, values, present).compact()


def _state(groups: _Groups, steps: int) -> Float64Array:
    return np.zeros((groups.count, steps))


def _sum(vectors: Vectors, groups: _Groups) -> tuple[Float64Array, BoolArray]:
    steps = vectors.values.shape[1]
    total, comp = _state(groups, steps), _state(groups, steps)
    seen = np.zeros((groups.count, steps), dtype=bool)
    for k in range(groups.largest):
        rows, g = groups.rows_at(k)
        x, m = vectors.values[rows], vectors.present[rows]
        first = m & ~seen[g]
        later = m & seen[g]
        t2, c2 = kahan_inc(x, total[g], comp[g])
        total[g] = np.where(first, x, np.where(later, t2, total[g]))
        comp[g] = np.where(first, 0.0, np.where(later, c2, comp[g]))
        seen[g] |= m
    return total + comp, seen


def _avg(vectors: Vectors, groups: _Groups) -> tuple[Float64Array, BoolArray]:
    """Prometheus's ``avg``: a Kahan sum divided at the end, or an incremental mean
    from the point where the sum would overflow."""
    steps = vectors.values.shape[1]
    total, comp, mean, count = (_state(groups, steps) for _ in range(4))
    incremental = np.zeros((groups.count, steps), dtype=bool)
    for k in range(groups.largest):
        rows, g = groups.rows_at(k)
        x, m = vectors.values[rows], vectors.present[rows]
        tot, cmp, mn, cnt, inc = total[g], comp[g], mean[g], count[g], incremental[g]
        first = m & (cnt == 0)
        later = m & (cnt > 0)
        cnt = np.where(m, cnt + 1, cnt)
        new_sum, new_comp = kahan_inc(x, tot, cmp)
        direct = later & ~inc & ~np.isinf(new_sum)
        switching = later & ~inc & np.isinf(new_sum)
        tot = np.where(direct, new_sum, tot)
        cmp = np.where(direct, new_comp, cmp)
        mn = np.where(switching, tot / (cnt - 1), mn)
        cmp = np.where(switching, cmp / (cnt - 1), cmp)
        inc = inc | switching
        step = later & inc
        skip = np.isinf(mn) & ((np.isinf(x) & ((mn > 0) == (x > 0))) | (~np.isinf(x) & ~np.isnan(x)))
        step &= ~skip
        current = mn + cmp
        m2, c2 = kahan_inc(x / cnt - current / cnt, mn, cmp)
        mn = np.where(step, m2, mn)
        cmp = np.where(step, c2, cmp)
        total[g] = np.where(first, x, tot)
        mean[g] = np.where(first, x, mn)
        comp[g] = np.where(first, 0.0, cmp)
        count[g] = cnt
        incremental[g] = inc
    seen = count > 0
    values = np.where(incremental, mean + comp, (total + comp) / np.maximum(count, 1))
    return values, seen


def _variance(vectors: Vectors, groups: _Groups, *, stddev: bool) -> tuple[Float64Array, BoolArray]:
    steps = vectors.values.shape[1]
    value, mean, count = (_state(groups, steps) for _ in range(3))
    for k in range(groups.largest):
        rows, g = groups.rows_at(k)
        x, m = vectors.values[rows], vectors.present[rows]
        val, mn, cnt = value[g], mean[g], count[g]
        first = m & (cnt == 0)
        later = m & (cnt > 0)
        cnt = np.where(m, cnt + 1, cnt)
        delta = x - mn
        new_mean = mn + delta / np.maximum(cnt, 1)
        new_val = val + delta * (x - new_mean)
        bad = np.isnan(x) | np.isinf(x)
        value[g] = np.where(first, np.where(bad, np.nan, 0.0), np.where(later, new_val, val))
        mean[g] = np.where(first, x, np.where(later, new_mean, mn))
        count[g] = cnt
    variance = value / np.maximum(count, 1)
    return (np.sqrt(variance) if stddev else variance), count > 0


def _reduce(op: str, vectors: Vectors, groups: _Groups) -> tuple[Float64Array, BoolArray]:
    order = groups.order
    present = vectors.present[order]
    counts = np.add.reduceat(present.astype(np.float64), groups.starts, axis=0)
    seen = counts > 0
    if op == "count":
        return counts, seen
    if op == "group":
        return np.ones(counts.shape), seen
    masked = np.where(present, vectors.values[order], np.nan)
    ufunc = np.fmax if op == "max" else np.fmin
    return ufunc.reduceat(masked, groups.starts, axis=0), seen


def _sorted_columns(values: Float64Array, present: BoolArray) -> tuple[Float64Array, Int64Array]:
    """Each column sorted the way Prometheus sorts samples: NaN first, absent last."""
    rank = np.where(present, np.where(np.isnan(values), 0, 1), 2)
    key = np.where(present & ~np.isnan(values), values, 0.0)
    order = np.lexsort((key, rank), axis=0)
    return np.take_along_axis(values, order, axis=0), present.sum(axis=0)


def _quantile(vectors: Vectors, groups: _Groups, q: float) -> tuple[Float64Array, BoolArray]:
    steps = vectors.values.shape[1]
    out = _state(groups, steps)
    seen = np.zeros((groups.count, steps), dtype=bool)
    for g in range(groups.count):
        rows = groups.order[groups.starts[g] : groups.starts[g] + groups.sizes[g]]
        ordered, n = _sorted_columns(vectors.values[rows], vectors.present[rows])
        seen[g] = n > 0
        if math.isnan(q):
            out[g] = np.nan
            continue
        if q < 0 or q > 1:
            out[g] = -math.inf if q < 0 else math.inf
            continue
        rank = q * (np.maximum(n, 1) - 1)
        lower = np.maximum(0, np.floor(rank)).astype(np.int64)
        upper = np.minimum(np.maximum(n, 1) - 1, lower + 1)
        weight = rank - np.floor(rank)
        cols = np.arange(steps)
        out[g] = ordered[lower, cols] * (1 - weight) + ordered[upper, cols] * weight
    return out, seen


def _check_int64(param: float) -> None:
    if math.isnan(param) or not (_MIN_INT64 <= param <= _MAX_INT64):
        raise execution_error(f"Scalar value {format_go_float(param)} overflows int64")


def _top_bottom(vectors: Vectors, groups: _Groups, param: float, *, largest: bool) -> Vectors:
    steps = vectors.values.shape[1]
    _check_int64(param)
    k = min(int(param), len(vectors.labels))
    if k < 1:
        return Vectors.empty(steps)
    values, present = vectors.values, vectors.present
    nan = np.isnan(values)
    key = np.where(present & ~nan, -values if largest else values, 0.0)
    rank_class = np.where(present, np.where(nan, 1, 0), 2)
    group_col = np.broadcast_to(groups.index[:, None], values.shape)
    order = np.lexsort((key, rank_class, group_col), axis=0)
    group_of_sorted = groups.index[order]
    rank = np.arange(len(vectors.labels))[:, None] - groups.starts[group_of_sorted]
    chosen_sorted = (rank < k) & np.take_along_axis(present, order, axis=0)
    chosen = np.zeros_like(present)
    np.put_along_axis(chosen, order, chosen_sorted, axis=0)
    rank_of_row = np.empty_like(rank)
    np.put_along_axis(rank_of_row, order, rank, axis=0)
    keep = np.flatnonzero(chosen.any(axis=1))
    first_step = np.argmax(chosen[keep], axis=1)
    sort_key = np.lexsort((rank_of_row[keep, first_step], groups.index[keep]))
    rows = keep[sort_key]
    return Vectors([vectors.labels[i] for i in rows], values[rows], chosen[rows])


def count_values(vectors: Vectors, label: str, grouping: tuple[str, ...], without: bool) -> Vectors:
    """``count_values``: how many series have each distinct value, per group."""
    steps = vectors.values.shape[1]
    group_by = grouping if without else (*grouping, label)
    index: dict[Labels, int] = {}
    counts: list[Float64Array] = []
    for row, labels in enumerate(vectors.labels):
        mask = vectors.present[row]
        if not mask.any():
            continue
        values = vectors.values[row]
        distinct = np.unique(values[mask])
        if np.isnan(values[mask]).any():
            distinct = np.concatenate((distinct[~np.isnan(distinct)], [np.nan]))
        for value in distinct:
            at = mask & (np.isnan(values) if math.isnan(value) else values == value)
            metric = dict(labels)
            metric[label] = format_go_float(float(value))
            key = group_labels(tuple(sorted(metric.items())), group_by, without)
            g = index.setdefault(key, len(index))
            if g == len(counts):
                counts.append(np.zeros(steps))
            counts[g] += at
    if not index:
        return Vectors.empty(steps)
    stacked = np.vstack(counts)
    return Vectors(list(index), stacked, stacked > 0)
