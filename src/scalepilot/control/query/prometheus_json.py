"""A :class:`QueryResult` as the ``data`` object of Prometheus's HTTP API.

``{"resultType": ..., "result": [...]}`` with values as ``[unix_seconds, "string"]``,
the strings written as Prometheus writes them (``jsonutil.MarshalFloat``) so clients and
the conformance check compare byte for byte.
"""

from __future__ import annotations

from typing import Any

from scalepilot.control.query.formatting import format_sample_value
from scalepilot.domain.labels import Labels
from scalepilot.domain.query import QueryResult, ResultType


def _time(ms: int) -> float | int:
    """Prometheus writes ``1435781451.781`` (seconds, up to ms); whole seconds as ints
    would print ``1435781451`` in Go too, which is what json of an int gives."""
    if ms % 1000 == 0:
        return ms // 1000
    return ms / 1000


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


def to_prometheus_data(result: QueryResult) -> dict[str, Any]:
    """The ``data`` member of a ``/api/v1/query`` or ``/api/v1/query_range`` response."""
    kind = result.type
    payload: Any
    if kind is ResultType.VECTOR:
        payload = [
            {"metric": _metric(s.labels), "value": [_time(s.timestamp_ms), format_sample_value(s.value)]}
            for s in result.vector
        ]
    elif kind is ResultType.MATRIX:
        payload = [
            {
                "metric": _metric(series.labels),
                "values": [
                    [_time(int(t)), format_sample_value(float(v))]
                    for t, v in zip(series.timestamps.tolist(), series.values.tolist(), strict=True)
                ],
            }
            for series in result.matrix
        ]
    elif kind is ResultType.SCALAR:
        ms, value = result.scalar if result.scalar is not None else (0, float("nan"))
        payload = [_time(ms), format_sample_value(value)]
    else:
        ms, text = result.string if result.string is not None else (0, "")
        payload = [_time(ms), text]
    return {"resultType": kind.value, "result": payload}
