"""Prometheus's rate/increase extrapolation and histogram_quantile, on arrays.

Covers: a regular counter's rate; extrapolation capped at half an interval at a gap;
the counter's zero point limiting extrapolation; counter resets; fewer than two samples;
stale markers ignored; the left-open window; delta for gauges; histogram_quantile's
interpolation, its edge cases (+Inf bucket missing, rank in the last bucket, q outside
[0, 1], no observations) and non-monotonic buckets. Expected values are worked out by
hand from Prometheus's algorithm (promql/functions.go, promql/quantile.go).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalepilot.control.query.functions import bucket_quantile, extrapolated_rate, window
from scalepilot.domain.samples import STALE_NAN


def arrays(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([t for t, _ in points], dtype=np.int64), np.array([v for _, v in points], dtype=np.float64)


def test_rate_of_a_regular_counter() -> None:
    # 10/s, scraped every 15 s; the window (60 s, 120 s] holds samples at 75..120.
    ts, vs = arrays([(t * 1000, 100 + 10 * t) for t in range(0, 121, 15)])
    # sampled 45 s; to start 15 s < 1.1 × 15, so extrapolated all the way; to end 0:
    # 450 × (45 + 15) / 45 / 60 s = exactly the true rate.
    assert extrapolated_rate(ts, vs, 120_000, 60_000) == pytest.approx(10.0)


def test_increase_is_rate_times_range() -> None:
    ts, vs = arrays([(t * 1000, 10.0 * t) for t in range(1, 61)])
    inc = extrapolated_rate(ts, vs, 60_000, 60_000, is_rate=False)
    rate = extrapolated_rate(ts, vs, 60_000, 60_000)
    assert inc is not None and rate is not None
    assert inc == pytest.approx(rate * 60)


def test_zero_point_limits_extrapolation() -> None:
    # A counter that starts at 5 one second into the window cannot have been below 0.
    ts, vs = arrays([(31_000, 5.0), (46_000, 20.0), (61_000, 35.0)])
    # result 30, sampled 30 s, to start 1 s (< 16.5 threshold so kept); zero point
    # 30 * 5/30 = 5 s > 1 s; to end 59 s? no: end 90 s - 61 = 29 s >= 16.5 → 7.5 s.
    assert extrapolated_rate(ts, vs, 90_000, 60_000, is_rate=False) == pytest.approx(30 * (30 + 1 + 7.5) / 30)


def test_counter_reset_adds_the_value_before_it() -> None:
    ts, vs = arrays([(0, 0.0), (10_000, 50.0), (20_000, 5.0), (30_000, 15.0)])
    inc = extrapolated_rate(ts, vs, 30_000, 40_000, is_rate=False)
    # 15 - 0 + 50 = 65 over 30 s sampled; to start: 10 s > 11? no → 10 s, but zero
    # point 30 * 0/65 = 0 → 0; to end 0: factor 1.
    assert inc == pytest.approx(65.0)


def test_too_few_samples_and_stale_markers() -> None:
    ts, vs = arrays([(1_000, 1.0)])
    assert extrapolated_rate(ts, vs, 60_000, 60_000) is None
    ts, vs = arrays([(1_000, 1.0), (2_000, STALE_NAN), (3_000, 3.0)])
    assert extrapolated_rate(ts, vs, 3_000, 60_000, is_rate=False) == pytest.approx(2.0 * (2 + 1) / 2)


def test_window_is_left_open() -> None:
    ts, vs = arrays([(0, 0.0), (30_000, 30.0), (60_000, 60.0)])
    # (0, 60 s]: the sample at 0 is out; two samples remain, 30 s apart. The 30 s to
    # the window's start is under 1.1 intervals and the zero point is exactly there:
    # extrapolated to 30 × 60/30.
    inc = extrapolated_rate(ts, vs, 60_000, 60_000, is_rate=False)
    assert inc == pytest.approx(60.0)
    assert window(ts, vs, 60_000, 60_000)[0].tolist() == [30_000, 60_000]
    assert window(ts, vs, 60_000, 60_001)[0].tolist() == [0, 30_000, 60_000]


def test_delta_of_a_gauge_may_be_negative() -> None:
    ts, vs = arrays([(15_000, 10.0), (30_000, 4.0), (45_000, 1.0), (60_000, 7.0)])
    assert extrapolated_rate(ts, vs, 60_000, 60_000, is_counter=False, is_rate=False) == pytest.approx(-3 * 60 / 45)


BUCKETS = [(0.1, 10.0), (0.25, 60.0), (0.5, 90.0), (1.0, 98.0), (math.inf, 100.0)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.1 + 0.15 * (40 / 50)),  # rank 50 in (0.1, 0.25]: 40 of its 50
        (0.95, 0.5 + 0.5 * (5 / 8)),  # rank 95 in (0.5, 1]
        (0.99, 1.0),  # rank 99 in the +Inf bucket: the highest finite bound
        (0.05, 0.1 * 0.5),  # first bucket interpolates from 0
        (0.0, 0.0),
        (-0.1, -math.inf),
        (1.1, math.inf),
    ],
)
def test_histogram_quantile(q: float, expected: float) -> None:
    assert bucket_quantile(q, BUCKETS) == pytest.approx(expected)


def test_histogram_quantile_needs_an_inf_bucket_and_observations() -> None:
    assert math.isnan(bucket_quantile(0.5, BUCKETS[:-1]))
    assert math.isnan(bucket_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
    assert math.isnan(bucket_quantile(0.5, [(math.inf, 3.0)]))
    assert math.isnan(bucket_quantile(math.nan, BUCKETS))


def test_histogram_quantile_fixes_non_monotonic_counts() -> None:
    shuffled = [(math.inf, 100.0), (0.5, 89.0), (0.25, 90.0), (0.1, 10.0), (1.0, 98.0)]
    # 0.5's count is raised to 90 (its lower neighbour's), as Prometheus does.
    assert bucket_quantile(0.95, shuffled) == pytest.approx(bucket_quantile(0.95, BUCKETS))
