"""Samples and series as the store hands them out.

Timestamps are int64 milliseconds since the Unix epoch, as in Prometheus, so values
round-trip through the Prometheus HTTP API and remote formats without loss. Values are
float64. A series that disappeared is marked with Prometheus's *stale marker*, one
particular NaN bit pattern, so "the target stopped reporting this" and "the target
reported NaN" stay distinguishable.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scalepilot.domain.labels import Labels

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


def is_stale(value: float) -> bool:
    return math.isnan(value) and struct.pack("<d", value) == struct.pack("<Q", STALE_NAN_BITS)


def stale_mask(values: Float64Array) -> npt.NDArray[np.bool_]:
    mask: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return mask


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series over a time range: ``timestamps`` ascending, no duplicates."""

    labels: Labels
    timestamps: Int64Array
    values: Float64Array


@dataclass(frozen=True, slots=True)
class RollupData:
    """One series downsampled: per bucket (start time) the min, max, sum, count and last
    raw value. ``resolution_ms`` is the bucket width (60_000 or 300_000)."""

    labels: Labels
    resolution_ms: int
    timestamps: Int64Array
    min: Float64Array
    max: Float64Array
    sum: Float64Array
    count: Float64Array
    last: Float64Array


@dataclass(frozen=True, slots=True)
class LatestSample:
    labels: Labels
    timestamp_ms: int
    value: float
    stale: bool = field(default=False)
