"""A request-rate trace, its resampling to the simulation step, and synthetic traces.

A trace is what a service was asked to do: ``rps[i]`` is the mean request rate from
``timestamps[i]`` to ``timestamps[i + 1]`` (the last sample lasts as long as the one
before it). Traces come at any resolution (5-minute buckets, per-minute counts, per-second
logs); the simulator works on a fixed step, so :meth:`Trace.resample` converts by the
*time-weighted* mean: the requests in each step are conserved, which is what capacity and
the overload count depend on.

Reading files is I/O and lives in ``scalepilot.service.traces``; here the data is plain
numpy arrays, so the synthetic generators and the loaders produce the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DAY = 86_400.0
WEEK = 7 * DAY
DEFAULT_START = 1_700_000_000.0
"""2023-11-14T22:13:20Z: an arbitrary fixed epoch for synthetic traces, so they are
reproducible (a Tuesday, which the weekly shape does not depend on)."""


class TraceValueError(ValueError):
    """The arrays cannot form a trace (lengths, order, negative or non-finite rates)."""


@dataclass(frozen=True, slots=True, eq=False)
class Trace:
    """Request rate over time: ``rps[i]`` holds from ``timestamps[i]`` to the next one."""

    timestamps: FloatArray
    """Unix seconds, strictly increasing."""
    rps: FloatArray
    """Mean requests per second over each interval; finite, not negative."""

    def __post_init__(self) -> None:
        ts, rps = self.timestamps, self.rps
        if ts.ndim != 1 or rps.ndim != 1 or ts.shape != rps.shape:
            raise TraceValueError("timestamps and rps must be one-dimensional arrays of the same length")
        if ts.size == 0:
            raise TraceValueError("a trace needs at least one sample")
        if not (np.all(np.isfinite(ts)) and np.all(np.isfinite(rps))):
            raise TraceValueError("timestamps and rates must be finite numbers")
        if np.any(rps < 0):
            raise TraceValueError(f"rates must not be negative (first at index {int(np.argmax(rps < 0))})")
        if ts.size > 1 and np.any(np.diff(ts) <= 0):
            bad = int(np.argmax(np.diff(ts) <= 0)) + 1
            raise TraceValueError(f"timestamps must increase strictly (index {bad})")

    @classmethod
    def of(cls, timestamps: npt.ArrayLike, rps: npt.ArrayLike) -> Trace:
        return cls(np.asarray(timestamps, dtype=np.float64), np.asarray(rps, dtype=np.float64))

    @property
    def start(self) -> float:
        return float(self.timestamps[0])

    def durations(self, last: float | None = None) -> FloatArray:
        """How long each sample holds; the last one as long as the one before it (a
        single sample holds ``last`` seconds)."""
        if self.timestamps.size > 1:
            gaps = np.diff(self.timestamps)
            return np.append(gaps, gaps[-1])
        if last is None:
            raise TraceValueError("a single-sample trace needs an explicit duration")
        return np.array([last], dtype=np.float64)

    @property
    def end(self) -> float:
        """When the last sample stops holding."""
        return self.start + float(self.durations(60.0).sum())

    @property
    def span(self) -> float:
        return self.end - self.start

    @property
    def peak(self) -> float:
        return float(self.rps.max())

    def resample(self, step: float) -> Trace:
        """The time-weighted mean rate over consecutive ``step``-second intervals from the
        start. A trailing part shorter than a step is dropped (its mean would describe
        less time than the others), unless the whole trace is shorter than one step."""
        if not step > 0:
            raise TraceValueError("the step must be greater than 0")
        durations = self.durations(step)
        edges = np.concatenate(([self.start], self.start + np.cumsum(durations)))
        # Cumulative requests at each edge; requests up to any time follow by linear
        # interpolation because the rate is constant within a sample.
        requests = np.concatenate(([0.0], np.cumsum(self.rps * durations)))
        span = float(edges[-1] - edges[0])
        n = max(1, math.floor(span / step + 1e-9))
        grid = self.start + step * np.arange(n + 1, dtype=np.float64)
        cumulative = np.interp(grid, edges, requests)
        covered = np.minimum(grid[1:], edges[-1]) - grid[:-1]
        rates = np.diff(cumulative) / np.where(covered > 0, covered, step)
        return Trace(grid[:-1].copy(), rates)

    def scaled(self, factor: float) -> Trace:
        if not (factor >= 0 and math.isfinite(factor)):
            raise TraceValueError("the scale factor must be a finite number, not negative")
        return Trace(self.timestamps, self.rps * factor)

    def scaled_to_peak(self, replicas: float, replica_rps: float) -> Trace:
        """This trace scaled so its peak rate needs ``replicas`` replicas of
        ``replica_rps`` each (on the trace's own resolution: resample first)."""
        peak = self.peak
        if peak <= 0:
            raise TraceValueError("the trace is all zeros: it cannot be scaled to a peak")
        return self.scaled(replicas * replica_rps / peak)


# --- synthetic traces -----------------------------------------------------------------


def _grid(days: float, step: float, start: float) -> FloatArray:
    n = max(1, round(days * DAY / step))
    return start + step * np.arange(n, dtype=np.float64)


def diurnal(
    days: float = 7.0,
    *,
    step: float = 60.0,
    base: float = 100.0,
    amplitude: float = 0.6,
    peak_hour: float = 14.0,
    start: float = DEFAULT_START,
) -> Trace:
    """A daily sine: ``base`` on average, ``base × (1 ± amplitude)`` at the extremes,
    highest at ``peak_hour`` UTC."""
    ts = _grid(days, step, start)
    phase = 2 * math.pi * ((ts % DAY) / DAY - peak_hour / 24.0)
    return Trace(ts, base * (1.0 + amplitude * np.cos(phase)))


def weekly(trace: Trace, *, weekend_factor: float = 0.6) -> Trace:
    """``trace`` with Saturdays and Sundays (UTC) at ``weekend_factor`` of their rate."""
    weekday = ((trace.timestamps // DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return Trace(trace.timestamps, np.where(weekday >= 5, trace.rps * weekend_factor, trace.rps))


def spikes(trace: Trace, *, count: int = 5, height: float = 3.0, duration: float = 600.0, seed: int = 0) -> Trace:
    """``trace`` with ``count`` bursts at random times, each multiplying the rate by
    ``height`` for ``duration`` seconds."""
    rng = np.random.default_rng(seed)
    factor = np.ones_like(trace.rps)
    ts = trace.timestamps
    for at in rng.uniform(trace.start, trace.end, size=count):
        factor[(ts >= at) & (ts < at + duration)] *= height
    return Trace(ts, trace.rps * factor)


def ramp(trace: Trace, *, to_factor: float = 2.0) -> Trace:
    """``trace`` with a linear growth from ×1 at the start to ×``to_factor`` at the end."""
    position = (trace.timestamps - trace.start) / max(trace.span, 1e-9)
    return Trace(trace.timestamps, trace.rps * (1.0 + (to_factor - 1.0) * position))


def noise(trace: Trace, *, sigma: float = 0.1, seed: int = 0) -> Trace:
    """``trace`` times log-normal noise with mean 1 (``sigma`` of the log)."""
    rng = np.random.default_rng(seed)
    factor = rng.lognormal(-(sigma**2) / 2.0, sigma, size=trace.rps.size)
    return Trace(trace.timestamps, trace.rps * factor)


def synthetic(
    days: float = 7.0,
    *,
    step: float = 60.0,
    base: float = 100.0,
    amplitude: float = 0.6,
    weekend_factor: float = 0.6,
    spike_count: int = 3,
    spike_height: float = 2.5,
    growth: float = 1.2,
    sigma: float = 0.1,
    seed: int = 0,
) -> Trace:
    """A realistic composite: daily shape, quiet weekends, bursts, growth and noise."""
    trace = weekly(diurnal(days, step=step, base=base, amplitude=amplitude), weekend_factor=weekend_factor)
    trace = spikes(trace, count=spike_count, height=spike_height, seed=seed)
    return noise(ramp(trace, to_factor=growth), sigma=sigma, seed=seed + 1)
