"""Vertical right-sizing: one replica's CPU and memory from its measured history.

The rule is robusta krr's default ``simple`` strategy, so a figure from
``scalepilot recommend`` means what the same figure from ``krr simple`` means:

* **CPU request** = the ``cpu_percentile`` (95) of each replica's CPU usage in cores
  (one rate per step), the highest of the replicas; **no CPU limit** (a limit only
  throttles a replica that could have used idle cores).
* **Memory request = memory limit** = the highest memory use of any replica over the
  window, plus ``memory_buffer`` (15 %): memory cannot be throttled, only killed, so
  the limit sits at the request with a margin over the peak.
* **Not enough data**: a resource with less than ``min_data_s`` of covered time gets no
  recommendation, only what was measured (krr asks for 100 points; see
  docs/rightsizing.md for why scalepilot counts time instead).

Figures are rounded *up* to units a person would write: CPU to 10 millicores (krr's
``cpu_min_value`` floor too), memory to whole MiB.

Pure: no I/O, no clock. The service layer (``service/recommend.py``) reads the store and
hands the per-replica series in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

MIB = 1024 * 1024
CPU_UNIT = 0.01
"""10 millicores: the rounding unit and the floor of a CPU request (krr's cpu_min_value)."""


class Status(StrEnum):
    OK = "ok"
    NOT_ENOUGH_DATA = "not_enough_data"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class RightsizingSettings:
    """krr ``simple``'s parameters, with its defaults."""

    cpu_percentile: float = 95.0
    """Percentile of CPU usage the request covers, 0 < p ≤ 100. 95: krr's default; the
    other 5 % of steps borrow idle cores, which an unset limit allows."""
    memory_buffer: float = 0.15
    """Fraction added to peak memory for request and limit. 0.15: krr's default."""
    min_data_s: float = 24 * 3600.0
    """Covered time a resource needs before it gets a recommendation, in seconds. 24 h:
    one full daily cycle, so a recommendation never comes from a quiet night alone."""

    def __post_init__(self) -> None:
        if not 0 < self.cpu_percentile <= 100:
            raise ValueError(f"cpu percentile must be in (0, 100], got {self.cpu_percentile}")
        if self.memory_buffer < 0:
            raise ValueError(f"memory buffer must not be negative, got {self.memory_buffer}")
        if self.min_data_s < 0:
            raise ValueError(f"minimum data must not be negative, got {self.min_data_s}")


@dataclass(frozen=True, slots=True)
class ReplicaSeries:
    """One replica's usage, one value per evaluation step (``timestamps_ms`` ascending)."""

    replica: str
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ResourceRecommendation:
    """One resource of one service. ``measured`` is the CPU percentile (cores) or the
    memory peak (bytes); ``request``/``limit`` are ``None`` when there is no
    recommendation (see ``status``) or, for the CPU limit, by rule."""

    status: Status
    points: int
    covered_s: float
    measured: float | None
    request: float | None
    limit: float | None
    first_ms: int | None = None
    last_ms: int | None = None
    replicas: tuple[str, ...] = field(default=())

    @property
    def reason(self) -> str:
        hours = self.covered_s / 3600
        if self.status is Status.NO_DATA:
            return "no data in the window"
        if self.status is Status.NOT_ENOUGH_DATA:
            return f"not enough data: {hours:.1f} h covered"
        return f"measured from {hours:.1f} h of data"


def percentile(values: npt.ArrayLike, q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between closest ranks,
    as Prometheus's ``quantile_over_time`` (rank = q/100 × (n − 1)). NaN when empty."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan
    return float(np.percentile(arr, q, method="linear"))


def with_buffer(peak: float, buffer: float) -> float:
    """``peak`` plus ``buffer`` (a fraction: 0.15 = 15 %)."""
    return peak * (1 + buffer)


def round_cpu(cores: float) -> float:
    """Up to the next 10 millicores, at least 10 m."""
    steps = math.ceil(round(cores / CPU_UNIT, 9))
    return max(steps, 1) * CPU_UNIT


def round_memory(nbytes: float) -> int:
    """Up to the next whole MiB, at least 1 MiB."""
    return max(math.ceil(round(nbytes / MIB, 9)), 1) * MIB


def covered_seconds(series: Sequence[ReplicaSeries], step_s: float) -> float:
    """Time with at least one replica measured: distinct steps × step."""
    if not series:
        return 0.0
    stamps = np.unique(np.concatenate([s.timestamps_ms for s in series]))
    return float(stamps.size) * step_s


def enough_data(covered_s: float, min_data_s: float) -> bool:
    return covered_s > 0 and covered_s >= min_data_s


def _measure(series: Sequence[ReplicaSeries], step_s: float) -> tuple[Status, int, float, int | None, int | None]:
    live = [s for s in series if s.values.size]
    points = int(sum(s.values.size for s in live))
    covered = covered_seconds(live, step_s)
    if not live:
        return Status.NO_DATA, 0, 0.0, None, None
    first = min(int(s.timestamps_ms[0]) for s in live)
    last = max(int(s.timestamps_ms[-1]) for s in live)
    return Status.OK, points, covered, first, last


def recommend_cpu(
    series: Sequence[ReplicaSeries], step_s: float, settings: RightsizingSettings
) -> ResourceRecommendation:
    """CPU request = the highest per-replica percentile of usage (cores); limit unset."""
    status, points, covered, first, last = _measure(series, step_s)
    names = tuple(s.replica for s in series if s.values.size)
    if status is Status.NO_DATA:
        return ResourceRecommendation(status, 0, 0.0, None, None, None)
    measured = max(percentile(s.values, settings.cpu_percentile) for s in series if s.values.size)
    if not enough_data(covered, settings.min_data_s):
        return ResourceRecommendation(Status.NOT_ENOUGH_DATA, points, covered, measured, None, None, first, last, names)
    return ResourceRecommendation(Status.OK, points, covered, measured, round_cpu(measured), None, first, last, names)


def recommend_memory(
    series: Sequence[ReplicaSeries], step_s: float, settings: RightsizingSettings
) -> ResourceRecommendation:
    """Memory request = limit = the peak of any replica plus the buffer."""
    status, points, covered, first, last = _measure(series, step_s)
    names = tuple(s.replica for s in series if s.values.size)
    if status is Status.NO_DATA:
        return ResourceRecommendation(status, 0, 0.0, None, None, None)
    peak = max(float(np.nanmax(s.values)) for s in series if s.values.size)
    if not enough_data(covered, settings.min_data_s):
        return ResourceRecommendation(Status.NOT_ENOUGH_DATA, points, covered, peak, None, None, first, last, names)
    request = float(round_memory(with_buffer(peak, settings.memory_buffer)))
    return ResourceRecommendation(Status.OK, points, covered, peak, request, request, first, last, names)


def change(current: float | None, recommended: float | None) -> float | None:
    """Relative change from ``current`` to ``recommended`` (−0.65 = 65 % less)."""
    if current is None or recommended is None or current <= 0:
        return None
    return recommended / current - 1
