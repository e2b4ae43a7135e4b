"""Anomaly rules: fire when a value leaves its seasonal baseline band.

Traffic, latency and error rates follow the clock: Monday 09:00 is busy, Sunday 04:00
is quiet. A fixed threshold is either too tight at the peak or too loose at night. An
anomaly rule compares each series with *itself at the same time of day (or week)* in
recent history, and fires when it leaves the band that history says is normal.

Written as an alerting rule with ``anomaly:`` instead of ``expr:`` (scalepilot's own
syntax; a file using it is not a Prometheus rule file)::

    - alert: CheckoutTrafficAnomaly
      anomaly:
        expr: sum by (service) (rate(scalepilot_lb_requests_total{service="checkout"}[5m]))
        seasonality: auto      # daily | weekly | auto (weekly once there is enough history)
        k: 3                   # band half-width in robust standard deviations
        window: 30m            # width of the slot around the same time of day
        history: 28d           # how far back seasons are taken from
        min_seasons: 3         # fewer seasons with data: no verdict (never fires)
        direction: both        # both | above | below
        min_deviation: 0       # absolute floor of the half-width (units of the expression)
        min_deviation_ratio: 0.05   # floor of the half-width relative to the baseline
      for: 15m
      labels: {severity: warning}
      annotations:
        summary: "{{ $labels.service }}: traffic {{ humanize $value }}/s is unusual for this time"

Everything after the expression is the ordinary alerting machinery: ``for``,
``keep_firing_for``, templated labels and annotations, ``ALERTS``, notifications.

**The maths.** At evaluation time *t*, for each series the expression returns now (value
*v*):

1. The period *P* is one day (``daily``) or one week (``weekly``). ``auto`` takes a week
   when the history holds at least ``min_seasons`` weeks, else a day.
2. For each season *j = 1 … ⌊history / P⌋*, the series' values in the slot
   ``[t − jP − window/2, t − jP + window/2]`` are taken (the expression evaluated over
   that slot). Their union is the baseline sample *B*; a season with no value does not
   count. With fewer than ``min_seasons`` seasons counted the series gets no verdict:
   a new service, or one with a gap in its history, does not page anyone.
3. The centre is the median *m* of *B*; the spread is the median absolute deviation
   *MAD = median(|b − m|)*, scaled by 1.4826 so that for normally distributed data it
   estimates the standard deviation: *σ̂ = 1.4826 · MAD*. Median and MAD, unlike mean and
   standard deviation, are not dragged by the very outliers (past incidents) the rule is
   meant to find: up to half of the baseline can be wild without moving them much.
4. The band's half-width is *h = max(k · σ̂, min_deviation, min_deviation_ratio · |m|)*:
   the floors keep a perfectly flat history (MAD = 0) from turning every wobble into an
   alert.
5. The series is anomalous when *v − m > h* (``above``), *m − v > h* (``below``) or
   *|v − m| > h* (``both``). An anomalous series is a sample of the rule's result with
   value *v*, so ``$value`` in templates is the observed value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scalepilot.control.alerting.rules.model import AnomalyParams
from scalepilot.domain.labels import Labels
from scalepilot.domain.query import InstantSample

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
MAD_SCALE = 1.4826
"""1 / Φ⁻¹(3/4): makes the MAD a consistent estimator of σ for normal data."""
MAX_POINTS_PER_SLOT = 60


@dataclass(frozen=True, slots=True)
class Slot:
    """One season's window to evaluate the expression over."""

    season: int
    start_ms: int
    end_ms: int
    step_ms: int


def period_ms(params: AnomalyParams) -> int:
    if params.seasonality == "weekly":
        return WEEK_MS
    if params.seasonality == "daily":
        return DAY_MS
    return WEEK_MS if params.history_ms >= params.min_seasons * WEEK_MS else DAY_MS


def slots(params: AnomalyParams, ts_ms: int, interval_ms: int) -> list[Slot]:
    """The windows of history to query for an evaluation at ``ts_ms``."""
    period = period_ms(params)
    half = params.window_ms // 2
    step = max(interval_ms, params.window_ms // MAX_POINTS_PER_SLOT, 1)
    seasons = params.history_ms // period
    return [Slot(j, ts_ms - j * period - half, ts_ms - j * period + half, step) for j in range(1, seasons + 1)]


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float
    sigma: float
    half_width: float
    seasons: int


def baseline(params: AnomalyParams, seasons: Sequence[Sequence[float]]) -> Baseline | None:
    """Median, robust spread and band half-width of one series' history, or None when
    fewer than ``min_seasons`` seasons have data."""
    usable = [[v for v in s if math.isfinite(v)] for s in seasons]
    usable = [s for s in usable if s]
    if len(usable) < params.min_seasons:
        return None
    values = np.fromiter((v for s in usable for v in s), dtype=np.float64)
    m = float(np.median(values))
    sigma = MAD_SCALE * float(np.median(np.abs(values - m)))
    half = max(params.k * sigma, params.min_deviation, params.min_deviation_ratio * abs(m))
    return Baseline(m, sigma, half, len(usable))


def is_anomalous(params: AnomalyParams, value: float, base: Baseline) -> bool:
    if not math.isfinite(value):
        return False
    delta = value - base.median
    if params.direction == "above":
        return delta > base.half_width
    if params.direction == "below":
        return -delta > base.half_width
    return abs(delta) > base.half_width


def detect(
    params: AnomalyParams,
    current: Sequence[InstantSample],
    history: Mapping[Labels, Sequence[Sequence[float]]],
) -> list[InstantSample]:
    """The samples of ``current`` outside their band (``history``: per series, the
    values of each season's slot)."""
    out = []
    for sample in current:
        base = baseline(params, history.get(sample.labels, ()))
        if base is not None and is_anomalous(params, sample.value, base):
            out.append(sample)
    return out
