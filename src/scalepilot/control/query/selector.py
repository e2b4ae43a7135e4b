"""Series selectors such as ``http_requests_total{code=~"5..",job="api"}``.

Parsing is delegated to promql-parser (a binding of a mature Rust PromQL parser) so the
syntax accepted is exactly PromQL's, escapes and all.
"""

from __future__ import annotations

import promql_parser

from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.matchers import Matcher, MatchOp, name_matcher

_OPS = {
    "MatchOp.Equal": MatchOp.EQ,
    "MatchOp.NotEqual": MatchOp.NE,
    "MatchOp.Re": MatchOp.RE,
    "MatchOp.NotRe": MatchOp.NRE,
}


class SelectorError(ScalepilotError):
    """Not a valid series selector."""


def parse_selector(text: str) -> list[Matcher]:
    try:
        expr = promql_parser.parse(text)
    except ValueError as exc:
        raise SelectorError(f"invalid selector {text!r}: {exc}") from exc
    if not isinstance(expr, promql_parser.VectorSelector) or expr.offset is not None or expr.at is not None:
        raise SelectorError(f'expected a series selector such as up{{job="api"}}, got {text!r}')
    matchers: list[Matcher] = []
    if expr.name:
        matchers.append(name_matcher(expr.name))
    if expr.matchers.or_matchers:
        raise SelectorError("'or' inside a selector is not supported")
    for m in expr.matchers.matchers:
        try:
            matchers.append(Matcher(m.name, _OPS[str(m.op)], m.value))
        except ValueError as exc:
            raise SelectorError(str(exc)) from exc
    if not any(not m.matches_empty() for m in matchers):
        raise SelectorError(f"selector {text!r} must contain at least one matcher that does not match the empty string")
    return matchers
