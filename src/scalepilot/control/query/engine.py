"""The PromQL evaluator: a syntax tree (``parser.py``) over a :class:`SeriesSource`.

Prometheus evaluates a range query step by step; here every node is evaluated once for
all the steps of the query (``values.Vectors`` is a ``(series, steps)`` matrix plus a
presence mask), so a range query costs about as many numpy calls as an instant query.
Each selector reads its samples from the source once, for the whole span the query
needs (``[first step - offset - range or lookback, last step - offset]``).

Semantics are Prometheus 3's: 5 minute lookback ending at stale markers, left-open
windows ``(t - range, t]``, ``offset`` and ``@`` (including ``start()`` / ``end()``),
subqueries on absolute multiples of their step, the metric name dropped by functions and
arithmetic, and Prometheus's own error messages.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable

import numpy as np

from scalepilot.control.query import aggregations, binops, range_functions
from scalepilot.control.query.histograms import bucket_quantile, bucket_quantiles
from scalepilot.control.query.parser import parse
from scalepilot.control.query.syntax import (
    SET_OPS,
    AggregateExpr,
    At,
    AtKind,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    ValueType,
    VectorMatching,
    VectorSelector,
    unwrap_parens,
)
from scalepilot.control.query.values import (
    BoolArray,
    Grid,
    Samples,
    Scalars,
    StringValue,
    Value,
    Vectors,
    Windows,
    execution_error,
    merge_same_labels,
    require_unique_labels,
)
from scalepilot.control.query.windows import (
    instant_lookup,
    samples_from_series,
    samples_from_vectors,
    window_bounds,
    without_stale,
)
from scalepilot.domain.labels import METRIC_NAME, Labels
from scalepilot.domain.matchers import Matcher, MatchOp
from scalepilot.domain.query import (
    InstantSample,
    QueryError,
    QueryResult,
    RangeSeries,
    ResultType,
    SeriesSource,
)
from scalepilot.domain.samples import Float64Array, Int64Array

#: Prometheus's limit on ``(end - start) / step`` of a range query.
MAX_POINTS = 11_000
#: Step of a subquery written without one (``x[5m:]``): Prometheus's default global
#: evaluation interval.
DEFAULT_SUBQUERY_STEP_MS = 60_000


# Rules and dashboards evaluate the same few expressions every cycle; trees are frozen,
# so one parse can serve every evaluation. Errors are not cached (lru_cache re-raises).
_parse_cached = functools.lru_cache(maxsize=4096)(parse)


class Engine:
    """PromQL over a :class:`SeriesSource`, with Prometheus 3.x semantics."""

    def __init__(
        self,
        source: SeriesSource,
        *,
        lookback_ms: int = 300_000,
        subquery_step_ms: int = DEFAULT_SUBQUERY_STEP_MS,
    ) -> None:
        self.source = source
        self.lookback_ms = lookback_ms
        self.subquery_step_ms = subquery_step_ms

    def parse(self, expr: str) -> Expr:
        """The syntax tree; ``QueryError(kind="bad_data", column=N)`` if malformed."""
        return _parse_cached(expr)

    def instant(self, expr: str, at_ms: int) -> QueryResult:
        tree = _parse_cached(expr)
        grid = Grid(np.array([at_ms], dtype=np.int64), at_ms, at_ms)
        evaluator = _Evaluator(self.source, self.lookback_ms, self.subquery_step_ms)
        node = unwrap_parens(tree)
        if isinstance(node, MatrixSelector | SubqueryExpr):
            return QueryResult(ResultType.MATRIX, matrix=evaluator.raw_matrix(node, grid))
        value = evaluator.eval(tree, grid)
        if isinstance(value, StringValue):
            return QueryResult(ResultType.STRING, string=(at_ms, value.value))
        if isinstance(value, Scalars):
            return QueryResult(ResultType.SCALAR, scalar=(at_ms, float(value.values[0])))
        rows = [i for i in range(len(value.labels)) if value.present[i, 0]]
        if not _keeps_order(node):
            rows.sort(key=lambda i: value.labels[i])
        samples = tuple(InstantSample(value.labels[i], at_ms, float(value.values[i, 0])) for i in rows)
        return QueryResult(ResultType.VECTOR, vector=samples)

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        if step_ms <= 0:
            raise QueryError("zero or negative query resolution step widths are not accepted. Try a positive integer")
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms > MAX_POINTS:  # Prometheus's check: 11,001 points pass
            raise QueryError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        tree = _parse_cached(expr)
        if tree.type not in (ValueType.SCALAR, ValueType.VECTOR):
            raise QueryError(f'invalid expression type "{tree.type}" for range query, must be Scalar or instant Vector')
        times = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        grid = Grid(times, start_ms, end_ms)
        value = _Evaluator(self.source, self.lookback_ms, self.subquery_step_ms).eval(tree, grid)
        if isinstance(value, Scalars):
            return QueryResult(ResultType.MATRIX, matrix=(RangeSeries((), times.copy(), value.values.copy()),))
        assert isinstance(value, Vectors)
        series: list[RangeSeries] = []
        for i in sorted(range(len(value.labels)), key=lambda i: value.labels[i]):
            mask = value.present[i]
            if mask.any():
                series.append(RangeSeries(value.labels[i], times[mask], value.values[i][mask].astype(np.float64)))
        return QueryResult(ResultType.MATRIX, matrix=tuple(series))


def _keeps_order(node: Expr) -> bool:
    """``sort`` / ``sort_desc`` (and ``topk`` / ``bottomk``, ranked within each group) at
    the top of an instant query decide the result order, as in Prometheus."""
    if isinstance(node, AggregateExpr):
        return node.op in ("topk", "bottomk")
    return isinstance(node, Call) and node.func in ("sort", "sort_desc")


class _Evaluator:
    def __init__(self, source: SeriesSource, lookback_ms: int, subquery_step_ms: int) -> None:
        self.source = source
        self.lookback_ms = lookback_ms
        self.subquery_step_ms = subquery_step_ms
        self._fetched: dict[tuple[tuple[Matcher, ...], int, int], Samples] = {}

    # --- reading the source -------------------------------------------------------------

    def fetch(self, matchers: tuple[Matcher, ...], start_ms: int, end_ms: int) -> Samples:
        key = (matchers, start_ms, end_ms)
        found = self._fetched.get(key)
        if found is None:
            found = samples_from_series(self.source.select(list(matchers), start_ms, end_ms))
            self._fetched[key] = found
        return found

    @staticmethod
    def at_time(at: At, grid: Grid) -> int:
        if at.kind is AtKind.START:
            return grid.query_start
        if at.kind is AtKind.END:
            return grid.query_end
        return at.ms

    def eval_times(self, at: At | None, grid: Grid) -> Int64Array:
        """The times a selector or subquery is evaluated at, before its offset."""
        if at is None:
            return grid.times
        return np.full(grid.steps, self.at_time(at, grid), dtype=np.int64)

    # --- evaluation -----------------------------------------------------------------------

    def eval(self, node: Expr, grid: Grid) -> Value:
        if grid.steps == 0 and node.type is ValueType.VECTOR:
            # A subquery whose window holds none of its steps: nothing to read.
            return Vectors.empty(0)
        if isinstance(node, NumberLiteral):
            return Scalars(np.full(grid.steps, node.value, dtype=np.float64))
        if isinstance(node, StringLiteral):
            return StringValue(node.value)
        if isinstance(node, ParenExpr):
            return self.eval(node.expr, grid)
        if isinstance(node, VectorSelector):
            return self.vector_selector(node, grid)
        if isinstance(node, UnaryExpr):
            return self.unary(node, grid)
        if isinstance(node, BinaryExpr):
            return self.binary(node, grid)
        if isinstance(node, AggregateExpr):
            return self.aggregate(node, grid)
        if isinstance(node, Call):
            return self.call(node, grid)
        raise QueryError(f"{type(node).__name__} cannot be evaluated here", kind="bad_data", column=node.pos + 1)

    def vectors(self, node: Expr, grid: Grid) -> Vectors:
        value = self.eval(node, grid)
        assert isinstance(value, Vectors), f"expected an instant vector, got {type(value).__name__}"
        return value

    def scalars(self, node: Expr, grid: Grid) -> Float64Array:
        value = self.eval(node, grid)
        assert isinstance(value, Scalars), f"expected a scalar, got {type(value).__name__}"
        return value.values

    def string(self, node: Expr, grid: Grid) -> str:
        value = self.eval(node, grid)
        assert isinstance(value, StringValue)
        return value.value

    def vector_selector(self, node: VectorSelector, grid: Grid) -> Vectors:
        labels, values, present, _ = self.lookup(node, grid)
        return Vectors(labels, values, present).compact()

    def lookup(self, node: VectorSelector, grid: Grid) -> tuple[list[Labels], Float64Array, BoolArray, Int64Array]:
        """Each series' value at each step, and the timestamps of the samples used."""
        refs = self.eval_times(node.at, grid) - node.offset_ms
        if refs.shape[0] == 0:
            return [], np.zeros((0, 0)), np.zeros((0, 0), dtype=bool), np.zeros((0, 0), dtype=np.int64)
        samples = self.fetch(node.matchers, int(refs.min()) - self.lookback_ms + 1, int(refs.max()))
        values, present, ts = instant_lookup(samples, refs, self.lookback_ms)
        return list(samples.labels), values, present, ts

    def unary(self, node: UnaryExpr, grid: Grid) -> Value:
        value = self.eval(node.expr, grid)
        if isinstance(value, Scalars):
            return Scalars(-value.values)
        assert isinstance(value, Vectors)
        labels = [binops.drop_name(lab) for lab in value.labels]
        require_unique_labels(labels)
        return Vectors(labels, -value.values, value.present)

    def binary(self, node: BinaryExpr, grid: Grid) -> Value:
        lhs = self.eval(node.lhs, grid)
        rhs = self.eval(node.rhs, grid)
        if isinstance(lhs, Scalars) and isinstance(rhs, Scalars):
            return Scalars(binops.scalar_scalar(node.op, lhs.values, rhs.values))
        if isinstance(lhs, Vectors) and isinstance(rhs, Scalars):
            return binops.vector_scalar(node.op, lhs, rhs.values, scalar_left=False, return_bool=node.return_bool)
        if isinstance(lhs, Scalars) and isinstance(rhs, Vectors):
            return binops.vector_scalar(node.op, rhs, lhs.values, scalar_left=True, return_bool=node.return_bool)
        assert isinstance(lhs, Vectors) and isinstance(rhs, Vectors)
        matching = node.matching or VectorMatching()
        if node.op in SET_OPS:
            return binops.set_operation(node.op, lhs, rhs, matching)
        return binops.vector_vector(node.op, lhs, rhs, matching, node.return_bool)

    def aggregate(self, node: AggregateExpr, grid: Grid) -> Vectors:
        grouping = tuple(sorted(node.grouping))
        if node.op == "count_values":
            assert node.param is not None
            label = self.string(node.param, grid)
            if not label:
                raise execution_error(f'invalid label name "{label}"')
            return aggregations.count_values(self.vectors(node.expr, grid), label, grouping, node.without)
        param: float | None = None
        if node.param is not None:
            # Prometheus 3 reads the parameter at the first step only.
            param = float(self.scalars(node.param, grid)[0]) if grid.steps else math.nan
        inner = self.vectors(node.expr, grid)
        return aggregations.aggregate(node.op, inner, grouping, node.without, param)

    # --- functions ----------------------------------------------------------------------------

    def call(self, node: Call, grid: Grid) -> Value:
        name = node.func
        matrix_index = next(
            (i for i, a in enumerate(node.args) if isinstance(unwrap_parens(a), MatrixSelector | SubqueryExpr)), None
        )
        if matrix_index is not None:
            return self.range_call(node, matrix_index, grid)
        handler = _INSTANT_FUNCTIONS.get(name)
        if handler is not None:
            return handler(self, node, grid)
        if name in _MATH:
            vectors = self.vectors(node.args[0], grid)
            with np.errstate(all="ignore"):
                values = _MATH[name](vectors.values)
            return _relabelled(vectors, values)
        if name in _DATE_PARTS:
            return self.date_function(node, grid)
        raise QueryError(f'function "{name}" is not supported', column=node.pos + 1)

    def windows(self, node: Expr, grid: Grid) -> Windows:
        """The windows of a range selector or subquery at every step."""
        inner = unwrap_parens(node)
        if isinstance(inner, MatrixSelector):
            sel = inner.selector
            eval_ms = self.eval_times(sel.at, grid)
            ends = eval_ms - sel.offset_ms
            samples = self.fetch(sel.matchers, int(ends.min()) - inner.range_ms + 1, int(ends.max()))
            fresh = without_stale(samples)
            lo, hi = window_bounds(fresh, ends, inner.range_ms)
            return Windows(fresh, lo, hi, ends, grid.times, inner.range_ms)
        assert isinstance(inner, SubqueryExpr)
        eval_ms = self.eval_times(inner.at, grid)
        ends = eval_ms - inner.offset_ms
        step = inner.step_ms or self.subquery_step_ms
        sub_times = _subquery_times(int(ends.min()), int(ends.max()), inner.range_ms, step)
        sub_grid = Grid(sub_times, grid.query_start, grid.query_end)
        vectors = self.vectors(inner.expr, sub_grid)
        samples = samples_from_vectors(vectors, sub_times)
        lo, hi = window_bounds(samples, ends, inner.range_ms)
        return Windows(samples, lo, hi, ends, grid.times, inner.range_ms)

    def raw_matrix(self, node: MatrixSelector | SubqueryExpr, grid: Grid) -> tuple[RangeSeries, ...]:
        """A range selector or subquery at the top of an instant query: its samples."""
        w = self.windows(node, grid)
        out: list[RangeSeries] = []
        for i, labels in enumerate(w.samples.labels):
            lo, hi = int(w.lo[i, 0]), int(w.hi[i, 0])
            if hi > lo:
                out.append(RangeSeries(labels, w.samples.ts[lo:hi].copy(), w.samples.values[lo:hi].copy()))
        return tuple(out)

    def range_call(self, node: Call, matrix_index: int, grid: Grid) -> Vectors:
        name = node.func
        scalar_arg: Float64Array | None = None
        for i, arg in enumerate(node.args):
            if i != matrix_index:
                scalar_arg = self.scalars(arg, grid)
        w = self.windows(node.args[matrix_index], grid)
        values, present = range_functions.evaluate(name, w, scalar_arg)
        if name == "absent_over_time":
            any_present = _any_rows(present, grid.steps)
            result = Vectors([_absent_labels(node.args[matrix_index])], np.ones((1, grid.steps)), ~any_present[None, :])
            return result.compact()
        keep_name = name == "last_over_time"
        names = list(w.samples.labels) if keep_name else [binops.drop_name(lab) for lab in w.samples.labels]
        result = Vectors(names, np.asarray(values, dtype=np.float64), present).compact()
        require_unique_labels(result.labels)
        return result

    def date_function(self, node: Call, grid: Grid) -> Vectors:
        if node.args:
            vectors = self.vectors(node.args[0], grid)
        else:
            vectors = Vectors([()], (grid.times / 1000.0)[None, :], np.ones((1, grid.steps), dtype=bool))
        return _relabelled(vectors, _DATE_PARTS[node.func](vectors.values))


# --- instant-vector functions ---------------------------------------------------------------


def _any_rows(present: BoolArray, steps: int) -> BoolArray:
    """Per step, whether any row is present (False everywhere for no rows)."""
    if present.shape[0] == 0:
        return np.zeros(steps, dtype=bool)
    result: BoolArray = np.asarray(present.any(axis=0), dtype=bool)
    return result


def _relabelled(vectors: Vectors, values: Float64Array, *, drop: bool = True) -> Vectors:
    labels = [binops.drop_name(lab) for lab in vectors.labels] if drop else list(vectors.labels)
    return merge_same_labels(Vectors(labels, np.asarray(values, dtype=np.float64), vectors.present))


def _fn_time(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    return Scalars(grid.times / 1000.0)


def _fn_pi(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    return Scalars(np.full(grid.steps, math.pi))


def _fn_vector(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    values = ev.scalars(node.args[0], grid)
    return Vectors([()], values[None, :].copy(), np.ones((1, grid.steps), dtype=bool))


def _fn_scalar(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    counts = vectors.present.sum(axis=0)
    if not vectors.labels:
        return Scalars(np.full(grid.steps, math.nan))
    first = np.argmax(vectors.present, axis=0)
    values = vectors.values[first, np.arange(grid.steps)]
    return Scalars(np.where(counts == 1, values, math.nan))


def _fn_timestamp(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    arg = unwrap_parens(node.args[0])
    if isinstance(arg, VectorSelector):
        labels, _, present, ts = ev.lookup(arg, grid)
        vectors = Vectors(labels, ts / 1000.0, present).compact()
        return _relabelled(vectors, vectors.values)
    vectors = ev.vectors(arg, grid)
    return _relabelled(vectors, np.broadcast_to(grid.times / 1000.0, vectors.values.shape))


def _fn_round(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    nearest = ev.scalars(node.args[1], grid) if len(node.args) > 1 else np.ones(grid.steps)
    with np.errstate(all="ignore"):
        inverse = 1.0 / nearest[None, :]
        values = np.floor(vectors.values * inverse + 0.5) / inverse
    return _relabelled(vectors, values)


def _fn_clamp(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    values = vectors.values
    present = vectors.present
    if node.func == "clamp":
        low = ev.scalars(node.args[1], grid)[None, :]
        high = ev.scalars(node.args[2], grid)[None, :]
        values = np.maximum(low, np.minimum(high, values))
        present = present & ~(high < low)
    elif node.func == "clamp_min":
        values = np.maximum(values, ev.scalars(node.args[1], grid)[None, :])
    else:
        values = np.minimum(values, ev.scalars(node.args[1], grid)[None, :])
    labels = [binops.drop_name(lab) for lab in vectors.labels]
    return merge_same_labels(Vectors(labels, values, present).compact())


def _fn_absent(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    any_present = _any_rows(vectors.present, grid.steps)
    result = Vectors([_absent_labels(node.args[0])], np.ones((1, grid.steps)), ~any_present[None, :])
    return result.compact()


def _absent_labels(node: Expr) -> Labels:
    """Prometheus's ``createLabelsForAbsentFunction``: the equality matchers' labels,
    except a label matched more than once (or not by equality), which is dropped."""
    inner = unwrap_parens(node)
    if isinstance(inner, MatrixSelector):
        inner = inner.selector
    if not isinstance(inner, VectorSelector):
        return ()
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in inner.matchers:
        if m.name == METRIC_NAME:
            continue
        if m.op is MatchOp.EQ and m.name not in seen:
            out[m.name] = m.value
            seen.add(m.name)
        else:
            out.pop(m.name, None)
    return tuple(sorted((k, v) for k, v in out.items() if v))


def _fn_sort(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    if grid.steps != 1 or not vectors.labels:
        return vectors
    # Ordering only shows in instant queries; NaN sorts last both ways, ties by labels.
    column = vectors.values[:, 0]
    nan = np.isnan(column)
    key = np.where(nan, 0.0, column if node.func == "sort" else -column)
    label_rank = np.empty(len(vectors.labels), dtype=np.int64)
    label_rank[np.array(sorted(range(len(vectors.labels)), key=lambda i: vectors.labels[i]), dtype=np.int64)] = (
        np.arange(len(vectors.labels))
    )
    order = np.lexsort((label_rank, key, nan))
    return Vectors([vectors.labels[i] for i in order], vectors.values[order], vectors.present[order])


_LABEL_REF = re.compile(r"\$(?:\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))")


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.ExpandString``: ``$1``, ``${1}``, ``$name``; unknown groups are empty."""

    def group(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        ref = m.group(1) or m.group(2)
        try:
            value = match.group(int(ref)) if ref.isdigit() else match.group(ref)
        except IndexError:
            return ""
        return value or ""

    return _LABEL_REF.sub(group, template)


def _go_regex(pattern: str, func: str) -> re.Pattern[str]:
    try:
        return re.compile(f"(?:{pattern})", re.DOTALL)
    except re.error as exc:
        raise execution_error(f"invalid regular expression in {func}(): {pattern}") from exc


def _set_label(labels: Labels, name: str, value: str) -> Labels:
    pairs = dict(labels)
    if value:
        pairs[name] = value
    else:
        pairs.pop(name, None)
    return tuple(sorted(pairs.items()))


def _fn_label_replace(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    dst, replacement, src, pattern = (ev.string(a, grid) for a in node.args[1:5])
    regex = _go_regex(pattern, "label_replace")
    if not dst:
        raise execution_error(f'invalid destination label name in label_replace(): "{dst}"')
    labels: list[Labels] = []
    for lab in vectors.labels:
        value = dict(lab).get(src, "")
        m = regex.fullmatch(value)
        labels.append(lab if m is None else _set_label(lab, dst, _expand(replacement, m)))
    return merge_same_labels(Vectors(labels, vectors.values, vectors.present))


def _fn_label_join(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    vectors = ev.vectors(node.args[0], grid)
    dst, sep = ev.string(node.args[1], grid), ev.string(node.args[2], grid)
    sources = [ev.string(a, grid) for a in node.args[3:]]
    if not dst:
        raise execution_error(f'invalid destination label name in label_join(): "{dst}"')
    labels = []
    for lab in vectors.labels:
        pairs = dict(lab)
        labels.append(_set_label(lab, dst, sep.join(pairs.get(s, "") for s in sources)))
    return merge_same_labels(Vectors(labels, vectors.values, vectors.present))


def _fn_histogram_quantile(ev: _Evaluator, node: Call, grid: Grid) -> Value:
    q = ev.scalars(node.args[0], grid)
    vectors = ev.vectors(node.args[1], grid)
    groups: dict[Labels, list[tuple[int, float]]] = {}
    for row, lab in enumerate(vectors.labels):
        pairs = dict(lab)
        bound = _parse_go_float(pairs.get("le"))
        if bound is None:
            continue
        key = tuple(p for p in lab if p[0] != "le")
        groups.setdefault(key, []).append((row, bound))
    out_labels: list[Labels] = []
    out_values: list[Float64Array] = []
    out_present: list[BoolArray] = []
    for key, members in groups.items():
        rows = np.array([r for r, _ in members], dtype=np.int64)
        bounds = np.array([b for _, b in members], dtype=np.float64)
        present = vectors.present[rows]
        any_present = _any_rows(present, grid.steps)
        values = bucket_quantiles(q, bounds, vectors.values[rows], present)
        out_labels.append(tuple(p for p in key if p[0] != METRIC_NAME))
        out_values.append(values)
        out_present.append(any_present)
    if not out_labels:
        return Vectors.empty(grid.steps)
    return merge_same_labels(Vectors(out_labels, np.vstack(out_values), np.vstack(out_present)))


def _parse_go_float(text: str | None) -> float | None:
    """Go's ``strconv.ParseFloat`` for ``le`` values; Python's ``float`` is laxer
    (spaces, ``1_000``), so those are refused first."""
    if text is None or text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _sgn(values: Float64Array) -> Float64Array:
    return np.where(np.isnan(values), values, np.sign(values))


_MATH: dict[str, Callable[[Float64Array], Float64Array]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": _sgn,
    "deg": np.degrees,
    "rad": np.radians,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
}


def _seconds(values: Float64Array) -> tuple[np.ndarray, BoolArray]:
    finite = np.isfinite(values)
    secs = np.trunc(np.where(finite, values, 0.0)).astype(np.int64)
    return secs.astype("datetime64[s]"), finite


def _date_part(part: str) -> Callable[[Float64Array], Float64Array]:
    def compute(values: Float64Array) -> Float64Array:
        moment, finite = _seconds(values)
        days = moment.astype("datetime64[D]")
        months = moment.astype("datetime64[M]")
        if part == "year":
            out = moment.astype("datetime64[Y]").astype(np.int64) + 1970
        elif part == "month":
            out = months.astype(np.int64) % 12 + 1
        elif part == "day_of_month":
            out = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
        elif part == "day_of_week":
            out = (days.astype(np.int64) + 4) % 7
        elif part == "day_of_year":
            out = (days - moment.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
        elif part == "days_in_month":
            out = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
        elif part == "hour":
            out = (moment.astype(np.int64) // 3600) % 24
        else:
            out = (moment.astype(np.int64) // 60) % 60
        result: Float64Array = np.where(finite, out.astype(np.float64), math.nan)
        return result

    return compute


_DATE_PARTS = {
    name: _date_part(name)
    for name in ("year", "month", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute")
}

_INSTANT_FUNCTIONS = {
    "time": _fn_time,
    "pi": _fn_pi,
    "vector": _fn_vector,
    "scalar": _fn_scalar,
    "timestamp": _fn_timestamp,
    "round": _fn_round,
    "clamp": _fn_clamp,
    "clamp_min": _fn_clamp,
    "clamp_max": _fn_clamp,
    "absent": _fn_absent,
    "sort": _fn_sort,
    "sort_desc": _fn_sort,
    "label_replace": _fn_label_replace,
    "label_join": _fn_label_join,
    "histogram_quantile": _fn_histogram_quantile,
}


def _subquery_times(first_end: int, last_end: int, range_ms: int, step_ms: int) -> Int64Array:
    """A subquery's evaluation times: absolute multiples of its step, from the first one
    after ``first_end - range`` up to ``last_end`` (Prometheus's alignment)."""
    low = first_end - range_ms
    start = (low // step_ms + 1) * step_ms
    if start > last_end:
        return np.empty(0, dtype=np.int64)
    return np.arange(start, last_end + 1, step_ms, dtype=np.int64)


__all__ = ("Engine", "bucket_quantile", "bucket_quantiles")
