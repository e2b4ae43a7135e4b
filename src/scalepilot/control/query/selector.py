"""Series selectors such as ``http_requests_total{code=~"5..",job="api"}``: Prometheus's
``ParseMetricSelector``, on the engine's own parser so the syntax, escapes and errors
(with their column) are exactly those of a query."""

from __future__ import annotations

from scalepilot.control.query.parser import parse
from scalepilot.control.query.syntax import VectorSelector
from scalepilot.domain.matchers import Matcher
from scalepilot.domain.query import QueryError


def parse_selector(text: str) -> list[Matcher]:
    """The matchers of a plain series selector; ``QueryError`` for anything else."""
    expr = parse(text)
    if not isinstance(expr, VectorSelector) or expr.has_offset or expr.at is not None:
        raise QueryError(f'parse error: expected a series selector such as up{{job="api"}}, got {text!r}')
    return list(expr.matchers)
