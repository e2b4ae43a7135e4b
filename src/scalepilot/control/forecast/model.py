"""Forecast a request rate ``horizon`` ahead from its own history: pure numpy.

The series is a request rate at a regular ``step`` (``x[k]`` is the mean rate over
``[k·step, (k+1)·step)``). A forecast *made at* index ``s`` uses ``x[:s]`` only (the
steps already complete at time ``s·step``) and predicts ``x[s - 1 + a]``, the step that
holds the time ``s·step + horizon`` (``a = floor(horizon / step) + 1`` steps ahead of
the last one seen).

The model blends two kinds of component (see docs/predictive.md for the maths):

* **seasonal naive**, per season P (a day, and a week with two weeks of history): the
  value one season before the target (smoothed over ± ``smooth`` steps), scaled by the
  ratio of the recent level (mean of the last ``level`` steps) to the level one season
  earlier, the ratio clipped to [1/4, 4] so one odd day cannot explode it;
* **recent trend**: a least-squares line through the last ``trend`` steps, extrapolated
  to the target (not below 0).

Each component's weight is the inverse of its own mean absolute error over the last
day (``weight_window``, the forecasts whose targets fell in it; errors below
``error_floor`` of the recent level count as equal), so the blend leans on whichever has
been right over a whole daily cycle. The blend's recent error is reported as a weighted
absolute percentage error: Σ|forecast − actual| ÷ Σ actual over the last hour
(``error_window``; robust to near-zero rates, where a plain MAPE explodes).

Everything is computed for every index at once with cumulative sums, so one call gives
the whole forecast series of a simulated month; each entry depends on ``x[:s]`` only
(a test changes the future and checks the past stays put).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

HOUR = 3600.0
DAY = 86_400.0
WEEK = 7 * DAY
_RATIO_CLIP = 4.0
_EPS = 1e-9


class Seasonality(StrEnum):
    AUTO = "auto"
    """Hourly, daily and weekly, each once there is history enough for it (two hours,
    a day and an hour, two weeks); the recent trend always."""
    DAILY = "daily"
    WEEKLY = "weekly"
    NONE = "none"
    """Trend only."""


@dataclass(frozen=True, slots=True)
class ForecastParams:
    """The model's settings, in seconds."""

    horizon: float = 180.0
    seasonality: Seasonality = Seasonality.AUTO
    trend: float = 900.0
    """Window of the linear trend fit: 15 min, long enough to average out minute noise,
    short enough to follow a ramp within minutes."""
    level: float = 3600.0
    """Window of the recent level compared with the level one season ago: 1 h."""
    smooth: float = 0.0
    """Half-width of a smoothing around the value one season ago (daily, weekly). 0:
    the very value; a wider window blurs a sharp daily ramp into the minutes before
    it, which then reads as error just before the ramp, when the seasonal part matters."""
    error_floor: float = 0.05
    """Mean absolute errors below this share of the recent level count as equal when
    weighting the components, so a component that was exact by luck on flat traffic
    does not silence the others."""
    error_window: float = 3600.0
    """The reported forecast error is measured over the targets of the last hour."""
    weight_window: float = DAY
    """Each component's weight comes from its error over the last day: a whole daily
    cycle, so a season that predicts the morning ramp keeps its say through the quiet
    hours before it, when every component looks equally right."""


@dataclass(frozen=True, slots=True)
class ForecastSeries:
    """Forecasts made at every index of a series (index ``s``: made with ``x[:s]``)."""

    ahead: int
    """Steps from the last step seen to the target step."""
    predicted: FloatArray
    """The blended forecast of ``x[s - 1 + ahead]``; NaN with no usable component."""
    error: FloatArray
    """Weighted absolute percentage error of the forecasts whose targets are the
    ``error_window`` of steps before ``s``; NaN until one such target exists."""


def _steps(seconds: float, step: float) -> int:
    return max(1, round(seconds / step))


def _prefix(x: FloatArray) -> FloatArray:
    out = np.zeros(x.size + 1)
    np.cumsum(x, out=out[1:])
    return out


def _window_mean(c: FloatArray, end: npt.NDArray[np.int64], width: int) -> FloatArray:
    """Mean of ``x[end - width + 1 .. end]`` for each ``end`` (all valid)."""
    return (c[end + 1] - c[end - width + 1]) / width


def _made_at(n: int, component: FloatArray, first: int) -> FloatArray:
    """Shift component values indexed by last-seen index ``i`` to made-at ``s = i + 1``."""
    out = np.full(n, np.nan)
    if first < n - 1:
        out[first + 1 :] = component[first : n - 1]
    return out


def _trend(x: FloatArray, c: FloatArray, m: int, ahead: int) -> FloatArray:
    """Least-squares line over ``x[i-m+1..i]`` evaluated at ``i + ahead``, for each ``i``."""
    n = x.size
    out = np.full(n, np.nan)
    if n < m:
        return out
    k = np.arange(n, dtype=np.float64)
    ck = _prefix(k * x)
    i = np.arange(m - 1, n)
    sx = c[i + 1] - c[i - m + 1]
    skx = ck[i + 1] - ck[i - m + 1]
    # Centre the abscissa on the window: u = k - (i - (m-1)/2), Σu = 0, Σu² = m(m²-1)/12.
    centre = i - (m - 1) / 2.0
    suu = m * (m * m - 1) / 12.0
    mean = sx / m
    slope = (skx - centre * sx) / suu if m > 1 else np.zeros_like(sx)
    out[i] = np.maximum(0.0, mean + slope * (i + ahead - centre))
    return out


def _seasonal(x: FloatArray, c: FloatArray, period: int, ahead: int, level: int, smooth: int) -> FloatArray:
    """Seasonal naive with a level ratio, for each last-seen index ``i``."""
    n = x.size
    out = np.full(n, np.nan)
    half = min(smooth, period - ahead)  # the smoothing must not reach past i
    first = max(period + level - 1, period - ahead + half, level - 1)
    if first >= n:
        return out
    i = np.arange(first, n)
    centre = i + ahead - period
    lo = np.maximum(centre - half, 0)
    base = (c[centre + half + 1] - c[lo]) / (centre + half + 1 - lo)
    now_level = _window_mean(c, i, level)
    then_level = _window_mean(c, i - period, level)
    ratio = np.where(then_level > _EPS, now_level / np.maximum(then_level, _EPS), 1.0)
    ratio = np.clip(ratio, 1.0 / _RATIO_CLIP, _RATIO_CLIP)
    out[i] = base * ratio
    return out


def _recent_abs_error(pred: FloatArray, x: FloatArray, ahead: int, window: int) -> tuple[FloatArray, FloatArray]:
    """For each made-at ``s``: (Σ|pred − actual|, count) over the forecasts whose targets
    are within ``x[s - window .. s - 1]``. ``pred`` is indexed by made-at."""
    n = x.size
    # forecast made at s' targets index s' - 1 + ahead.
    err = np.zeros(n)
    ok = np.zeros(n)
    s_ = np.arange(n)
    tgt = s_ - 1 + ahead
    valid = (tgt >= 0) & (tgt < n) & np.isfinite(pred)
    err[tgt[valid]] = np.abs(pred[valid] - x[tgt[valid]])
    ok[tgt[valid]] = 1.0
    ce, co = _prefix(err), _prefix(ok)
    lo = np.maximum(s_ - window, 0)
    return ce[s_] - ce[lo], co[s_] - co[lo]


def forecast_series(x: FloatArray, step: float, params: ForecastParams) -> ForecastSeries:
    """Forecasts made at every index of ``x`` (a rate at ``step`` seconds); see the
    module's docstring."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    ahead = math.floor(params.horizon / step) + 1
    c = _prefix(x)
    comps: list[FloatArray] = []
    m = _steps(params.trend, step)
    comps.append(_made_at(n, _trend(x, c, m, ahead), 0))
    seasons: list[float] = []
    if params.seasonality is Seasonality.AUTO:
        seasons.append(HOUR)
    if params.seasonality in (Seasonality.AUTO, Seasonality.DAILY):
        seasons.append(DAY)
    if params.seasonality in (Seasonality.AUTO, Seasonality.WEEKLY):
        seasons.append(WEEK)
    level, smooth = _steps(params.level, step), round(params.smooth / step)
    for season in seasons:
        period = _steps(season, step)
        if period <= ahead:
            continue
        # An hour back: always the very value (cron-like bursts repeat to the minute).
        seasonal = _seasonal(x, c, period, ahead, min(level, period), 0 if season == HOUR else smooth)
        if season == WEEK and params.seasonality is Seasonality.AUTO:
            # Weekly only once two weeks are seen: one week back is a single sample of it.
            seasonal[: 2 * period - 1] = np.nan
        comps.append(_made_at(n, seasonal, 0))
    window = _steps(params.error_window, step)
    recent = np.full(n, np.nan)
    if n > level:
        recent[level:] = (c[level:n] - c[: n - level]) / level  # mean of x[s-level .. s-1]
    floor = np.where(np.isfinite(recent), params.error_floor * recent, 0.0) + 1e-9
    num = np.zeros(n)
    den = np.zeros(n)
    weight_window = _steps(params.weight_window, step)
    for comp in comps:
        e, k = _recent_abs_error(comp, x, ahead, weight_window)
        mae = np.where(k > 0, e / np.maximum(k, 1.0), np.nan)
        # Inverse mean absolute error; none measured yet: the best say.
        weight = np.where(np.isfinite(mae), 1.0 / np.maximum(mae, floor), 1.0 / floor)
        usable = np.isfinite(comp)
        num += np.where(usable, weight * np.where(usable, comp, 0.0), 0.0)
        den += np.where(usable, weight, 0.0)
    predicted = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    e, _ = _recent_abs_error(predicted, x, ahead, window)
    valid_t = np.zeros(n)
    s_ = np.arange(n)
    tgt = s_ - 1 + ahead
    ok = (tgt >= 0) & (tgt < n) & np.isfinite(predicted)
    valid_t[tgt[ok]] = x[tgt[ok]]
    ca = _prefix(valid_t)
    lo = np.maximum(s_ - window, 0)
    actual = ca[s_] - ca[lo]
    error = np.where(actual > _EPS, e / np.maximum(actual, _EPS), np.where(e > _EPS, np.inf, np.nan))
    # Before any forecast's target has passed there is nothing to measure.
    _, seen = _recent_abs_error(predicted, x, ahead, window)
    error = np.where(seen > 0, error, np.nan)
    return ForecastSeries(ahead, predicted, error)


@dataclass(frozen=True, slots=True)
class Latest:
    """The forecast made now, from a whole history."""

    rps: float | None
    error: float | None
    history: float
    """Seconds of history behind it."""


def forecast_latest(x: FloatArray, step: float, params: ForecastParams) -> Latest:
    """The forecast made after the last step of ``x`` (the live loop's call)."""
    x = np.asarray(x, dtype=np.float64)
    padded = np.append(x, 0.0)  # made-at index n uses x[:n] only; the pad is never read
    series = forecast_series(padded, step, params)
    rps = float(series.predicted[-1])
    err = float(series.error[-1])
    return Latest(
        rps if math.isfinite(rps) else None,
        err if not math.isnan(err) else None,
        x.size * step,
    )
