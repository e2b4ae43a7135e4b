"""The request-rate forecast (``control.forecast``).

Covers: accuracy on a clean daily series (under 2 %, 1 % on average, once two days are
seen, and reported as such); a linear ramp extrapolated exactly by the trend with no seasonality;
an hourly burst predicted at its minute by the hourly season; the weekly season used only
with two weeks of history; the reported error (Σ|forecast − actual| ÷ Σ actual over the
last hour): unknown before any target has passed, large after a regime change and small
again once the model has caught up;
no peeking (changing the future leaves every forecast made before it unchanged);
determinism; ``forecast_latest`` agrees with the series.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalepilot.control.forecast import ForecastParams, Seasonality, forecast_latest, forecast_series
from scalepilot.control.forecast.model import HOUR, WEEK

STEP = 60.0
DAY_STEPS = 1440


def daily(days: float, *, base: float = 100.0, amplitude: float = 60.0) -> np.ndarray:
    k = np.arange(int(days * DAY_STEPS))
    return base + amplitude * np.sin(2 * np.pi * k / DAY_STEPS)


def targets(ahead: int, n: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Made-at indices from ``start`` whose target is inside the series, and the targets."""
    made = np.arange(start, n - ahead + 1)
    return made, made - 1 + ahead


def test_clean_daily_series_is_forecast_within_two_percent() -> None:
    x = daily(4)
    fs = forecast_series(x, STEP, ForecastParams(horizon=180))
    assert fs.ahead == 4
    made, tgt = targets(fs.ahead, x.size, 2 * DAY_STEPS)
    rel = np.abs(fs.predicted[made] - x[tgt]) / x[tgt]
    assert rel.max() < 0.02 and rel.mean() < 0.01
    assert np.nanmax(fs.error[made]) < 0.02


def test_a_ramp_is_extrapolated_by_the_trend() -> None:
    x = np.asarray(10.0 + 0.5 * np.arange(300), dtype=np.float64)
    fs = forecast_series(x, STEP, ForecastParams(horizon=300, seasonality=Seasonality.NONE))
    made, tgt = targets(fs.ahead, x.size, 30)
    np.testing.assert_allclose(fs.predicted[made], x[tgt], rtol=1e-9)
    # the trend alone would lag a flat forecast by ahead × slope: not so here
    assert fs.predicted[100] == pytest.approx(10.0 + 0.5 * (99 + fs.ahead))


def test_an_hourly_burst_is_predicted_at_its_minute() -> None:
    x = np.full(6 * 60, 50.0)
    x[24::60] = 150.0  # a timer-triggered burst at minute 24 of every hour
    fs = forecast_series(x, STEP, ForecastParams(horizon=120))
    s = 4 * 60 + 24 - fs.ahead + 1  # made three minutes before the burst at 04:24
    assert fs.predicted[s] > 100.0
    assert fs.predicted[s + 5] < 60.0


def test_weekly_season_needs_two_weeks() -> None:
    week = int(WEEK / STEP)
    k = np.arange(3 * week)
    weekend = ((k // DAY_STEPS) % 7) >= 5
    x = np.where(weekend, 40.0, 100.0) + 20 * np.sin(2 * np.pi * k / DAY_STEPS)
    fs = forecast_series(x, STEP, ForecastParams(horizon=180))
    only_daily = forecast_series(x, STEP, ForecastParams(horizon=180, seasonality=Seasonality.DAILY))
    weekly = forecast_series(x, STEP, ForecastParams(horizon=180, seasonality=Seasonality.WEEKLY))

    def mae(series: np.ndarray, first: int, last: int) -> float:
        made = np.arange(first, last)
        return float(np.mean(np.abs(series[made] - x[made - 1 + fs.ahead])))

    # Week three: around the weekday/weekend switches the weekly season knows better.
    assert mae(weekly.predicted, 2 * week, 3 * week - 10) < mae(only_daily.predicted, 2 * week, 3 * week - 10)
    # Week two: one week back is a single sample; auto does not use it yet, WEEKLY does.
    np.testing.assert_array_equal(np.isnan(weekly.predicted[week + 100 : 2 * week]), np.zeros(week - 100, dtype=bool))
    assert mae(fs.predicted, 2 * week, 3 * week - 10) < mae(fs.predicted, week, 2 * week)


def test_error_is_unknown_at_first_then_measures_a_regime_change() -> None:
    x = daily(2)
    fs = forecast_series(x, STEP, ForecastParams(horizon=180))
    assert math.isnan(fs.error[0]) and math.isnan(fs.error[fs.ahead - 1])
    assert not math.isnan(fs.error[60])
    changed = x.copy()
    changed[DAY_STEPS + 600 :] *= 3.0  # traffic triples at once
    fc = forecast_series(changed, STEP, ForecastParams(horizon=180))
    assert fc.error[DAY_STEPS + 600 + 30] > 0.15
    assert fs.error[DAY_STEPS + 600 + 30] < 0.02
    assert fc.error[DAY_STEPS + 600 + 240] < 0.1  # the model has caught up


def test_no_peeking_the_future_does_not_change_past_forecasts() -> None:
    rng = np.random.default_rng(7)
    x = daily(3) * rng.uniform(0.9, 1.1, size=3 * DAY_STEPS)
    cut = 2 * DAY_STEPS + 123
    future = x.copy()
    future[cut:] = rng.uniform(0, 1000, size=x.size - cut)
    a = forecast_series(x, STEP, ForecastParams(horizon=240))
    b = forecast_series(future, STEP, ForecastParams(horizon=240))
    # made at s uses x[:s]: every forecast made at or before the cut is the same
    np.testing.assert_array_equal(a.predicted[: cut + 1], b.predicted[: cut + 1])
    np.testing.assert_array_equal(a.error[: cut + 1], b.error[: cut + 1])
    assert not np.array_equal(a.predicted[cut + 1 :], b.predicted[cut + 1 :])


def test_deterministic_and_latest_agrees_with_the_series() -> None:
    rng = np.random.default_rng(3)
    x = daily(2) + rng.normal(0, 5, size=2 * DAY_STEPS)
    p = ForecastParams(horizon=HOUR / 20)
    a, b = forecast_series(x, STEP, p), forecast_series(x.copy(), STEP, p)
    np.testing.assert_array_equal(a.predicted, b.predicted)
    latest = forecast_latest(x[:2000], STEP, p)
    assert latest.rps == a.predicted[2000] and latest.error == a.error[2000]
    assert latest.history == 2000 * STEP
    assert forecast_latest(np.zeros(0), STEP, p).rps is None
