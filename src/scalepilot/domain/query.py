"""Query results and the two Protocols queries go through.

``SeriesSource`` is what the PromQL evaluator reads raw samples from (the store
satisfies it). ``MetricSource`` is what the rest of scalepilot asks PromQL questions of:
the embedded engine over the store, or an external Prometheus answering over HTTP —
both return the same :class:`QueryResult`, so scaling and alerting do not care which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher
from scalepilot.domain.samples import Float64Array, Int64Array, SeriesData


class ResultType(StrEnum):
    VECTOR = "vector"
    MATRIX = "matrix"
    SCALAR = "scalar"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class InstantSample:
    labels: Labels
    timestamp_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class RangeSeries:
    labels: Labels
    timestamps: Int64Array
    values: Float64Array


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What a query returned, in Prometheus's four shapes. Exactly one of the fields that
    matches ``type`` is meaningful: ``vector`` (instant query of a vector), ``matrix``
    (range query, or an instant query of a range selector), ``scalar`` / ``string``
    as ``(timestamp_ms, value)``."""

    type: ResultType
    vector: tuple[InstantSample, ...] = ()
    matrix: tuple[RangeSeries, ...] = ()
    scalar: tuple[int, float] | None = None
    string: tuple[int, str] | None = None
    warnings: tuple[str, ...] = field(default=())


class QueryError(ScalepilotError):
    """A query that cannot be evaluated. ``kind`` follows Prometheus's ``errorType``
    (``bad_data`` for a malformed query, ``execution`` for a failure while evaluating,
    ``timeout``, ``unavailable`` for a metric source that cannot be reached); ``column``
    is the 1-based position in the query text when the error has one."""

    def __init__(self, message: str, *, kind: str = "bad_data", column: int | None = None) -> None:
        self.kind = kind
        self.column = column
        where = f" (at column {column})" if column is not None else ""
        super().__init__(f"{message}{where}")
        self.transient = kind in ("timeout", "unavailable")


class SeriesSource(Protocol):
    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]: ...


class MetricSource(Protocol):
    """Where PromQL questions are answered (embedded engine or external Prometheus)."""

    name: str

    async def query(self, expr: str, at_ms: int) -> QueryResult: ...

    async def query_range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult: ...
