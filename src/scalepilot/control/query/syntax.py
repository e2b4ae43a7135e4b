"""The PromQL syntax tree the evaluator walks.

Our own small tree rather than promql-parser's objects: the parser (``parser.py``) has to
report the column of every error, which needs positions on every node, and the evaluator
needs a few things the binding cannot give (negative ``@`` timestamps, Prometheus 3's
number-or-duration literals). Nodes are frozen dataclasses; ``pos`` is the 0-based
offset of the node's first character in the query text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scalepilot.domain.matchers import Matcher


class ValueType(StrEnum):
    """What an expression evaluates to; the names are Prometheus's documented ones."""

    SCALAR = "scalar"
    VECTOR = "instant vector"
    MATRIX = "range vector"
    STRING = "string"


class AtKind(StrEnum):
    AT = "at"
    START = "start"
    END = "end"


@dataclass(frozen=True, slots=True)
class At:
    """An ``@`` modifier: a fixed time in ms, or the query's ``start()`` / ``end()``."""

    kind: AtKind
    ms: int = 0


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    value: float
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR


@dataclass(frozen=True, slots=True)
class StringLiteral:
    value: str
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return ValueType.STRING


@dataclass(frozen=True, slots=True)
class VectorSelector:
    """``name{matchers} offset o @ t``; ``matchers`` include the name matcher."""

    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at: At | None = None
    pos: int = 0
    has_offset: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True, slots=True)
class MatrixSelector:
    selector: VectorSelector
    range_ms: int
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True, slots=True)
class SubqueryExpr:
    """``expr[range:step] offset o @ t``; ``step_ms`` 0 means the default step."""

    expr: Expr
    range_ms: int
    step_ms: int
    offset_ms: int = 0
    at: At | None = None
    pos: int = 0
    has_offset: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    return_type: ValueType
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return self.return_type


@dataclass(frozen=True, slots=True)
class AggregateExpr:
    op: str
    expr: Expr
    param: Expr | None
    grouping: tuple[str, ...]
    without: bool
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


class Cardinality(StrEnum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    MANY_TO_MANY = "many-to-many"


@dataclass(frozen=True, slots=True)
class VectorMatching:
    """How two vectors are matched: ``on`` (True) or ``ignoring`` the listed labels, and
    for ``group_left`` / ``group_right`` the labels copied from the "one" side."""

    card: Cardinality = Cardinality.ONE_TO_ONE
    labels: tuple[str, ...] = ()
    on: bool = False
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinaryExpr:
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None
    pos: int = 0

    @property
    def type(self) -> ValueType:
        if self.lhs.type is ValueType.SCALAR and self.rhs.type is ValueType.SCALAR:
            return ValueType.SCALAR
        return ValueType.VECTOR


@dataclass(frozen=True, slots=True)
class UnaryExpr:
    op: str
    expr: Expr
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(frozen=True, slots=True)
class ParenExpr:
    expr: Expr
    pos: int = 0

    @property
    def type(self) -> ValueType:
        return self.expr.type


Expr = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | SubqueryExpr
    | Call
    | AggregateExpr
    | BinaryExpr
    | UnaryExpr
    | ParenExpr
)

COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})


def unwrap_parens(expr: Expr) -> Expr:
    while isinstance(expr, ParenExpr):
        expr = expr.expr
    return expr
