"""Prometheus's HTTP API ``data`` object → :class:`QueryResult`.

The inverse of what ``/api/v1/query`` writes: timestamps are float seconds with at
most millisecond precision (rounded back to int milliseconds), values are strings so
``NaN`` and ``±Inf`` survive JSON. Native-histogram samples (``histogram`` /
``histograms``, an experimental feature of Prometheus 2.40+) have no float value to
scale on; they are left out with a warning rather than failing the whole answer.
Anything else unexpected raises :class:`DecodeError` (a ``ValueError``), which the client reports as a source
that does not speak the Prometheus API.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.query import InstantSample, QueryResult, RangeSeries, ResultType


class DecodeError(ValueError):
    """The JSON is not a query result of the Prometheus API."""


_HISTOGRAMS_SKIPPED = "native histogram samples were left out: scalepilot reads float samples only"


def _ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DecodeError(f"bad timestamp {value!r}")
    return round(value * 1000)


def _float(value: Any) -> float:
    if not isinstance(value, str):
        raise DecodeError(f"bad sample value {value!r} (Prometheus sends values as strings)")
    try:
        return float(value)
    except ValueError:
        raise DecodeError(f"bad sample value {value!r}") from None


def _point(pair: Any) -> tuple[int, float]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise DecodeError(f"bad sample {pair!r}")
    return _ms(pair[0]), _float(pair[1])


def _labels(metric: Any) -> Labels:
    if not isinstance(metric, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metric.items()):
        raise DecodeError(f"bad label set {metric!r}")
    return make_labels(None, metric)


def decode_data(data: Any) -> QueryResult:
    """Raises :class:`DecodeError` when ``data`` is not a query result of the Prometheus API."""
    if not isinstance(data, Mapping):
        raise DecodeError("data is not an object")
    kind, result = data.get("resultType"), data.get("result")
    warnings: list[str] = []
    if kind == "vector":
        if not isinstance(result, list):
            raise DecodeError("vector result is not a list")
        samples = []
        for row in result:
            if not isinstance(row, Mapping):
                raise DecodeError(f"bad vector element {row!r}")
            if "value" not in row and "histogram" in row:
                warnings.append(_HISTOGRAMS_SKIPPED)
                continue
            t, v = _point(row.get("value"))
            samples.append(InstantSample(_labels(row.get("metric", {})), t, v))
        return QueryResult(ResultType.VECTOR, vector=tuple(samples), warnings=tuple(dict.fromkeys(warnings)))
    if kind == "matrix":
        if not isinstance(result, list):
            raise DecodeError("matrix result is not a list")
        series = []
        for row in result:
            if not isinstance(row, Mapping):
                raise DecodeError(f"bad matrix element {row!r}")
            if row.get("histograms"):
                warnings.append(_HISTOGRAMS_SKIPPED)
            values = row.get("values", [])
            if not isinstance(values, list):
                raise DecodeError(f"bad values {values!r}")
            if not values:
                continue
            points = [_point(p) for p in values]
            series.append(
                RangeSeries(
                    _labels(row.get("metric", {})),
                    np.array([t for t, _ in points], dtype=np.int64),
                    np.array([v for _, v in points], dtype=np.float64),
                )
            )
        return QueryResult(ResultType.MATRIX, matrix=tuple(series), warnings=tuple(dict.fromkeys(warnings)))
    if kind == "scalar":
        return QueryResult(ResultType.SCALAR, scalar=_point(result))
    if kind == "string":
        if not isinstance(result, list) or len(result) != 2 or not isinstance(result[1], str):
            raise DecodeError(f"bad string result {result!r}")
        return QueryResult(ResultType.STRING, string=(_ms(result[0]), result[1]))
    raise DecodeError(f"unknown resultType {kind!r}")
