"""The PromQL evaluator (being written): see ``Engine``."""

from __future__ import annotations

from scalepilot.domain.query import QueryResult, SeriesSource


class Engine:
    """PromQL over a :class:`SeriesSource`, with Prometheus 3.x semantics."""

    def __init__(self, source: SeriesSource, *, lookback_ms: int = 300_000) -> None:
        self.source = source
        self.lookback_ms = lookback_ms

    def instant(self, expr: str, at_ms: int) -> QueryResult:
        raise NotImplementedError

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        raise NotImplementedError
