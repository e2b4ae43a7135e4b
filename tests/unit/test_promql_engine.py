"""The PromQL engine's public interface: result shapes of instant and range queries,
range-query validation, errors with their kind, reading each selector once per query,
agreement between a range query and the instant queries at its steps, and the JSON
``data`` object of Prometheus's HTTP API (``prometheus_json``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scalepilot.control.query.engine import Engine
from scalepilot.control.query.formatting import format_go_float, format_sample_value
from scalepilot.control.query.histograms import bucket_quantile, bucket_quantiles
from scalepilot.control.query.prometheus_json import to_prometheus_data
from scalepilot.control.query.range_functions import quantile, quantile_over_time
from scalepilot.control.query.values import Samples, Windows
from scalepilot.control.query.windows import window_bounds
from scalepilot.domain.labels import make_labels
from scalepilot.domain.query import QueryError, QueryResult, ResultType
from scalepilot.domain.samples import STALE_NAN
from tests.unit.test_promql_support import MemorySource

T0 = 1_700_000_000_000


def counters() -> MemorySource:
    """Two counters scraped every 15 s for an hour; ``b`` resets half-way."""
    source = MemorySource()
    for instance, per_scrape in (("a", 15.0), ("b", 30.0)):
        points = []
        value = 0.0
        for k in range(241):
            if instance == "b" and k == 120:
                value = 0.0
            points.append((T0 + k * 15_000, value))
            value += per_scrape
        source.add(make_labels("requests_total", {"instance": instance, "job": "api"}), points)
    return source


def test_instant_vector_result() -> None:
    result = Engine(counters()).instant("rate(requests_total[5m])", T0 + 1500_000)
    assert result.type is ResultType.VECTOR
    assert [dict(s.labels) for s in result.vector] == [{"instance": "a", "job": "api"}, {"instance": "b", "job": "api"}]
    assert all(s.timestamp_ms == T0 + 1500_000 for s in result.vector)
    assert [s.value for s in result.vector] == pytest.approx([1.0, 2.0])


def test_range_result_matches_instant_queries_at_each_step() -> None:
    engine = Engine(counters())
    expr = "sum by (job) (increase(requests_total[2m])) / on(job) group_left count by (job) (requests_total)"
    start, end, step = T0 + 600_000, T0 + 3000_000, 60_000
    ranged = engine.range(expr, start, end, step)
    assert ranged.type is ResultType.MATRIX and len(ranged.matrix) == 1
    series = ranged.matrix[0]
    assert dict(series.labels) == {"job": "api"}
    assert series.timestamps.tolist() == list(range(start, end + 1, step))
    for t, v in zip(series.timestamps.tolist(), series.values.tolist(), strict=True):
        single = engine.instant(expr, t)
        assert len(single.vector) == 1
        assert single.vector[0].value == pytest.approx(v, rel=1e-12)


def test_each_selector_is_read_once_per_query() -> None:
    source = counters()
    Engine(source).range("rate(requests_total[5m]) + rate(requests_total[5m])", T0, T0 + 3600_000, 15_000)
    assert source.selects == 1


def test_scalar_and_string_results() -> None:
    engine = Engine(MemorySource())
    scalar = engine.instant("1 + 2 * 3", T0)
    assert scalar.type is ResultType.SCALAR and scalar.scalar == (T0, 7.0)
    string = engine.instant('"hello"', T0)
    assert string.type is ResultType.STRING and string.string == (T0, "hello")
    ranged = engine.range("time()", T0, T0 + 30_000, 15_000)
    assert ranged.type is ResultType.MATRIX and ranged.matrix[0].labels == ()
    assert ranged.matrix[0].values.tolist() == [T0 / 1000, T0 / 1000 + 15, T0 / 1000 + 30]


def test_instant_range_selector_returns_raw_samples() -> None:
    result = Engine(counters()).instant('requests_total{instance="a"}[1m]', T0 + 60_000)
    assert result.type is ResultType.MATRIX
    (series,) = result.matrix
    # Left-open window: (T0, T0 + 60 s] holds the samples at 15, 30, 45 and 60 s.
    assert series.timestamps.tolist() == [T0 + 15_000, T0 + 30_000, T0 + 45_000, T0 + 60_000]
    assert series.values.tolist() == [15.0, 30.0, 45.0, 60.0]


def test_stale_marker_ends_a_series_at_once() -> None:
    source = MemorySource()
    source.add(make_labels("up", {"job": "x"}), [(T0, 1.0), (T0 + 15_000, 1.0), (T0 + 30_000, STALE_NAN)])
    engine = Engine(source)
    assert len(engine.instant("up", T0 + 29_000).vector) == 1
    assert engine.instant("up", T0 + 31_000).vector == ()
    # Range functions skip stale markers rather than treating them as NaN samples.
    assert engine.instant("count_over_time(up[1m])", T0 + 31_000).vector[0].value == 2.0


def test_sort_orders_instant_results_and_plain_results_are_sorted_by_labels() -> None:
    source = MemorySource()
    for name, value in (("c", 1.0), ("a", 3.0), ("b", math.nan), ("d", 2.0)):
        source.add(make_labels("m", {"x": name}), [(T0, value)])
    engine = Engine(source)
    assert [dict(s.labels)["x"] for s in engine.instant("sort(m)", T0).vector] == ["c", "d", "a", "b"]
    assert [dict(s.labels)["x"] for s in engine.instant("sort_desc(m)", T0).vector] == ["a", "d", "c", "b"]
    assert [dict(s.labels)["x"] for s in engine.instant("m", T0).vector] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.range("up", T0, T0 + 60_000, 0), "zero or negative query resolution step"),
        (lambda e: e.range("up", T0 + 60_000, T0, 15_000), "end timestamp must not be before start time"),
        (lambda e: e.range("up[5m]", T0, T0 + 60_000, 15_000), 'invalid expression type "range vector"'),
        (lambda e: e.range('"s"', T0, T0 + 60_000, 15_000), 'invalid expression type "string"'),
        (lambda e: e.range("up", T0, T0 + 86_400_000, 1), "exceeded maximum resolution of 11,000 points"),
    ],
)
def test_range_query_validation(call: object, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        call(Engine(counters()))  # type: ignore[operator]
    assert caught.value.kind == "bad_data"
    assert message in str(caught.value)


def test_evaluation_errors_are_execution_errors() -> None:
    engine = Engine(counters())
    with pytest.raises(QueryError) as caught:
        engine.instant("requests_total * on(job) requests_total", T0 + 60_000)
    assert caught.value.kind == "execution"
    assert "many-to-many matching not allowed" in str(caught.value)
    with pytest.raises(QueryError) as dup:
        engine.instant('label_replace(requests_total, "instance", "", "", "")', T0 + 60_000)
    assert dup.value.kind == "execution"
    assert "vector cannot contain metrics with the same labelset" in str(dup.value)


def test_offset_and_at_modifiers() -> None:
    engine = Engine(counters())
    at = T0 + 600_000
    now = engine.instant('requests_total{instance="a"}', at).vector[0].value
    before = engine.instant('requests_total{instance="a"} offset 5m', at).vector[0].value
    pinned = engine.instant(f'requests_total{{instance="a"}} @ {(at - 300_000) / 1000}', T0 + 3000_000)
    assert now - before == 15.0 * 20
    assert pinned.vector[0].value == before
    ranged = engine.range('requests_total{instance="a"} @ end()', T0, T0 + 60_000, 30_000)
    assert ranged.matrix[0].values.tolist() == [60.0, 60.0, 60.0]


def test_bucket_quantile_monotonicity_and_edges() -> None:
    bounds = np.array([0.1, 1.0, math.inf])
    assert bucket_quantile(0.5, bounds, np.array([2.0, 1.0, 4.0])) == pytest.approx(0.1 + 0.9 * (2 - 2) / 2)
    assert math.isnan(bucket_quantile(0.5, np.array([0.1, 1.0]), np.array([1.0, 2.0])))  # no +Inf bucket
    assert math.isnan(bucket_quantile(0.5, bounds, np.zeros(3)))  # no observations
    assert bucket_quantile(0.99, bounds, np.array([1.0, 2.0, 10.0])) == 1.0  # rank in the +Inf bucket
    assert bucket_quantile(-1, bounds, np.ones(3)) == -math.inf
    assert bucket_quantile(2, bounds, np.ones(3)) == math.inf


# --- the HTTP API's data object ----------------------------------------------------------------


def test_json_vector_shape() -> None:
    result = Engine(counters()).instant('requests_total{instance="a"} / 15', T0 + 1800_500)
    data = to_prometheus_data(result)
    assert data == {
        "resultType": "vector",
        "result": [{"metric": {"instance": "a", "job": "api"}, "value": [1700001800.5, "120"]}],
    }
    assert json.dumps(data) == (
        '{"resultType": "vector", "result": [{"metric": {"instance": "a", "job": "api"}, '
        '"value": [1700001800.5, "120"]}]}'
    )


def test_json_matrix_scalar_and_string_shapes() -> None:
    engine = Engine(counters())
    matrix = to_prometheus_data(engine.range('requests_total{instance="b"} / 30', T0, T0 + 30_000, 15_000))
    assert matrix == {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"instance": "b", "job": "api"},
                "values": [[1700000000, "0"], [1700000015, "1"], [1700000030, "2"]],
            }
        ],
    }
    assert to_prometheus_data(engine.instant("1/0", T0)) == {"resultType": "scalar", "result": [1700000000, "+Inf"]}
    assert to_prometheus_data(engine.instant('"x"', T0 + 1)) == {
        "resultType": "string",
        "result": [1700000000.001, "x"],
    }
    empty = to_prometheus_data(QueryResult(ResultType.VECTOR))
    assert empty == {"resultType": "vector", "result": []}


@pytest.mark.parametrize(
    ("value", "api", "go_f"),
    [
        (0.0, "0", "0"),
        (-0.0, "-0", "-0"),
        (100.0, "100", "100"),
        (0.1, "0.1", "0.1"),
        (1 / 3, "0.3333333333333333", "0.3333333333333333"),
        (1e-6, "0.000001", "0.000001"),
        (1.5e-7, "1.5e-07", "0.00000015"),
        (1e20, "100000000000000000000", "100000000000000000000"),
        (1e21, "1e+21", "1000000000000000000000"),
        (math.inf, "+Inf", "+Inf"),
        (-math.inf, "-Inf", "-Inf"),
        (math.nan, "NaN", "NaN"),
    ],
)
def test_float_formatting_like_go(value: float, api: str, go_f: str) -> None:
    assert format_sample_value(value) == api  # jsonutil.MarshalFloat
    assert format_go_float(value) == go_f  # strconv.FormatFloat(v, 'f', -1, 64)


def test_bucket_quantiles_at_all_steps_match_the_single_step_algorithm() -> None:
    # Random bucket layouts: missing buckets, equal bounds written twice, no +Inf bucket,
    # non-monotonic and NaN counts, all zero, q outside [0, 1] and NaN.
    rng = np.random.default_rng(7)
    choices = np.array([-1.0, 0.0, 0.1, 0.1, 0.5, 1.0, 2.5, math.inf, math.inf])
    for _ in range(300):
        rows = int(rng.integers(1, 8))
        bounds = rng.choice(choices, size=rows)
        steps = 12
        counts = np.round(rng.uniform(0, 20, size=(rows, steps))) * rng.choice([1.0, 0.0], p=[0.9, 0.1])
        counts[rng.random((rows, steps)) < 0.05] = math.nan
        present = rng.random((rows, steps)) < 0.8
        q = rng.choice([0.0, 0.25, 0.5, 0.9, 0.99, 1.0, -0.5, 1.5, math.nan], size=steps)
        got = bucket_quantiles(q, bounds, counts, present)
        for step in range(steps):
            mask = present[:, step]
            if not mask.any():
                continue
            want = bucket_quantile(float(q[step]), bounds[mask], counts[mask, step])
            assert got[step] == want or (math.isnan(got[step]) and math.isnan(want)), (bounds, counts[:, step], mask)


def test_quantile_over_time_of_all_windows_matches_the_single_window_quantile() -> None:
    rng = np.random.default_rng(3)
    for _ in range(100):
        n, per = int(rng.integers(1, 6)), int(rng.integers(1, 30))
        ts = np.tile(np.arange(per, dtype=np.int64) * 10 + 1, n)
        values = rng.choice([1.0, 2.0, 3.5, -1.0, math.nan, math.inf, -math.inf, 0.0], size=n * per)
        samples = Samples([(("a", str(i)),) for i in range(n)], ts, values, np.arange(0, n * per + 1, per))
        ends = np.arange(0, per * 10 + 20, 7, dtype=np.int64)
        range_ms = int(rng.integers(5, 80))
        lo, hi = window_bounds(samples, ends, range_ms)
        q = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0, -1.0, 2.0, math.nan], size=ends.shape[0])
        with np.errstate(all="ignore"):
            got, ok = quantile_over_time(Windows(samples, lo, hi, ends, ends, range_ms), q)
            for i in range(n):
                for j in np.flatnonzero(ok[i]):
                    want = quantile(float(q[j]), values[lo[i, j] : hi[i, j]])
                    assert got[i, j] == want or (math.isnan(got[i, j]) and math.isnan(want))


def test_points_limit_is_inclusive_like_prometheus() -> None:
    engine = Engine(MemorySource())
    assert len(engine.range("1", 0, 11_000_000, 1_000).matrix[0].timestamps) == 11_001
    with pytest.raises(QueryError, match="exceeded maximum resolution"):
        engine.range("1", 0, 11_001_000, 1_000)
