"""PromQL text to a syntax tree, with Prometheus 3's grammar and type checks.

A precedence-climbing parser over ``lexer.tokenize``. Every error is a
``QueryError(kind="bad_data")`` whose ``column`` is the 1-based position of the token
or node at fault, so a user sees where the query went wrong. Operator precedence, the
right-associativity of ``^`` and unary minus binding looser than ``^`` (``-2^2`` is -4)
follow Prometheus's yacc grammar; the type checks and their messages follow its
``checkAST``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from scalepilot.control.query import catalog
from scalepilot.control.query.lexer import Kind, Token, syntax_error, tokenize
from scalepilot.control.query.syntax import (
    COMPARISON_OPS,
    SET_OPS,
    AggregateExpr,
    At,
    AtKind,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    ValueType,
    VectorMatching,
    VectorSelector,
)
from scalepilot.domain.labels import METRIC_NAME
from scalepilot.domain.matchers import Matcher, MatchOp
from scalepilot.domain.query import QueryError

_PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6}
_PRECEDENCE |= dict.fromkeys(COMPARISON_OPS, 3)
_WORD_OPS = frozenset({"and", "or", "unless", "atan2"})
_MATCH_OPS = {"=": MatchOp.EQ, "!=": MatchOp.NE, "=~": MatchOp.RE, "!~": MatchOp.NRE}
_UNARY_PRECEDENCE = 6


def parse(text: str) -> Expr:
    """Parse a PromQL expression; raises ``QueryError(kind="bad_data", column=N)``."""
    tokens = tokenize(text)
    if tokens[0].kind is Kind.EOF:
        raise syntax_error("no expression found in input", 0)
    parser = _Parser(tokens)
    expr = parser.expression(0)
    tail = parser.peek()
    if tail.kind is not Kind.EOF:
        raise syntax_error(f"unexpected {tail.describe()}", tail.pos)
    return expr


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    # --- token helpers -------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind is Kind.OP and token.text in ops

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind is Kind.IDENT and token.text.lower() in words

    def expect_op(self, op: str, context: str) -> Token:
        token = self.peek()
        if token.kind is Kind.OP and token.text == op:
            return self.next()
        raise syntax_error(f'unexpected {token.describe()} in {context}, expected "{op}"', token.pos)

    # --- expressions ------------------------------------------------------------------

    def binary_op(self) -> str | None:
        token = self.peek()
        if token.kind is Kind.OP and token.text in _PRECEDENCE:
            return token.text
        if token.kind is Kind.IDENT and token.text.lower() in _WORD_OPS:
            return token.text.lower()
        return None

    def expression(self, min_precedence: int) -> Expr:
        lhs = self.unary()
        while True:
            op = self.binary_op()
            if op is None or _PRECEDENCE[op] < min_precedence:
                return lhs
            op_token = self.next()
            return_bool, matching = self.binary_modifiers(op)
            right_assoc = op == "^"
            rhs = self.expression(_PRECEDENCE[op] if right_assoc else _PRECEDENCE[op] + 1)
            lhs = _check_binary(BinaryExpr(op, lhs, rhs, return_bool, matching, op_token.pos))

    def binary_modifiers(self, op: str) -> tuple[bool, VectorMatching | None]:
        return_bool = False
        if self.at_word("bool"):
            token = self.next()
            if op not in COMPARISON_OPS:
                raise syntax_error("bool modifier can only be used on comparison operators", token.pos)
            return_bool = True
        if not self.at_word("on", "ignoring"):
            if self.at_word("group_left", "group_right"):
                token = self.peek()
                raise syntax_error(f"unexpected {token.text} without on or ignoring", token.pos)
            card = Cardinality.MANY_TO_MANY if op in SET_OPS else Cardinality.ONE_TO_ONE
            return return_bool, VectorMatching(card)
        on = self.next().text.lower() == "on"
        labels = self.label_list("on" if on else "ignoring")
        card = Cardinality.MANY_TO_MANY if op in SET_OPS else Cardinality.ONE_TO_ONE
        include: tuple[str, ...] = ()
        if self.at_word("group_left", "group_right"):
            token = self.next()
            if op in SET_OPS:
                raise syntax_error(f'no grouping allowed for "{op}" operation', token.pos)
            card = Cardinality.MANY_TO_ONE if token.text.lower() == "group_left" else Cardinality.ONE_TO_MANY
            if self.at_op("("):
                include = self.label_list(token.text.lower())
            if on:
                for name in include:
                    if name in labels:
                        raise syntax_error(f'label "{name}" must not occur in ON and GROUP clause at once', token.pos)
        return return_bool, VectorMatching(card, labels, on, include)

    def unary(self) -> Expr:
        if self.at_op("+", "-"):
            token = self.next()
            operand = self.expression(_UNARY_PRECEDENCE)
            if operand.type not in (ValueType.SCALAR, ValueType.VECTOR):
                wanted = "scalar or instant vector"
                raise syntax_error(
                    f'unary expression only allowed on expressions of type {wanted}, got "{operand.type}"', token.pos
                )
            if token.text == "+":
                return operand
            if isinstance(operand, NumberLiteral):
                return NumberLiteral(-operand.value, token.pos)
            return UnaryExpr("-", operand, token.pos)
        return self.postfix(self.primary())

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind in (Kind.NUMBER, Kind.DURATION):
            self.next()
            return NumberLiteral(token.number, token.pos)
        if token.kind is Kind.STRING:
            self.next()
            return StringLiteral(token.string, token.pos)
        if token.kind is Kind.OP and token.text == "(":
            self.next()
            inner = self.expression(0)
            if not self.at_op(")"):
                bad = self.peek()
                if bad.kind is Kind.EOF:
                    raise syntax_error("unclosed left parenthesis", token.pos)
                raise syntax_error(f'unexpected {bad.describe()}, expected ")"', bad.pos)
            self.next()
            return ParenExpr(inner, token.pos)
        if token.kind is Kind.OP and token.text == "{":
            return self.selector(None, token.pos)
        if token.kind is Kind.IDENT:
            word = token.text.lower()
            after = self.peek(1)
            is_agg = word in catalog.AGGREGATIONS or word in catalog.UNSUPPORTED_AGGREGATIONS
            if is_agg and (
                (after.kind is Kind.OP and after.text == "(")
                or (after.kind is Kind.IDENT and after.text.lower() in ("by", "without"))
            ):
                return self.aggregation()
            if after.kind is Kind.OP and after.text == "(":
                return self.call()
            self.next()
            return self.selector(token.text, token.pos)
        if token.kind is Kind.EOF:
            raise syntax_error("unexpected end of input", token.pos)
        raise syntax_error(f"unexpected {token.describe()}", token.pos)

    # --- selectors and their modifiers -----------------------------------------------------

    def selector(self, name: str | None, pos: int) -> VectorSelector:
        matchers: list[Matcher] = []
        if name is not None:
            matchers.append(Matcher(METRIC_NAME, MatchOp.EQ, name))
        if self.at_op("{"):
            brace = self.next()
            while not self.at_op("}"):
                token = self.peek()
                if token.kind is Kind.EOF:
                    raise syntax_error("unexpected end of input inside braces", brace.pos)
                matcher = self.matcher()
                if matcher.name == METRIC_NAME and name is not None:
                    raise syntax_error(f'metric name must not be set twice: "{name}" or "{matcher.value}"', token.pos)
                if matcher.name == METRIC_NAME and matcher.op is MatchOp.EQ and name is None:
                    name = matcher.value
                matchers.append(matcher)
                if self.at_op(","):
                    self.next()
                elif not self.at_op("}"):
                    bad = self.peek()
                    if bad.kind is Kind.EOF:
                        raise syntax_error("unexpected end of input inside braces", brace.pos)
                    raise syntax_error(f'unexpected {bad.describe()} in label matching, expected "," or "}}"', bad.pos)
            self.next()
        if not any(not m.matches_empty() for m in matchers):
            raise syntax_error("vector selector must contain at least one non-empty matcher", pos)
        return VectorSelector(name, tuple(matchers), pos=pos)

    def matcher(self) -> Matcher:
        token = self.next()
        if token.kind is Kind.STRING and self.at_op(",", "}"):
            # Prometheus 3: a lone quoted string is the metric name, {"my.metric"}.
            return Matcher(METRIC_NAME, MatchOp.EQ, token.string)
        if token.kind is Kind.STRING:
            label = token.string
        elif token.kind in (Kind.IDENT, Kind.NUMBER) and (token.text[:1].isalpha() or token.text[:1] == "_"):
            if ":" in token.text:
                raise syntax_error(f"invalid label name {token.text!r}", token.pos)
            label = token.text
        else:
            raise syntax_error(f"unexpected {token.describe()} in label matching, expected label name", token.pos)
        op_token = self.next()
        if op_token.kind is not Kind.OP or op_token.text not in _MATCH_OPS:
            raise syntax_error(
                f'unexpected {op_token.describe()} in label matching, expected one of "=", "!=", "=~", "!~"',
                op_token.pos,
            )
        value = self.next()
        if value.kind is not Kind.STRING:
            raise syntax_error(f"unexpected {value.describe()} in label matching, expected string", value.pos)
        try:
            return Matcher(label, _MATCH_OPS[op_token.text], value.string)
        except ValueError as exc:
            raise syntax_error(str(exc), value.pos) from exc

    def postfix(self, expr: Expr) -> Expr:
        while True:
            if self.at_op("["):
                expr = self.range_or_subquery(expr)
            elif self.at_word("offset"):
                expr = self.offset(expr)
            elif self.at_op("@"):
                expr = self.at(expr)
            else:
                return expr

    def duration(self, context: str, *, allow_zero: bool = False) -> int:
        token = self.next()
        if token.kind is Kind.DURATION:
            ms = token.duration_ms
        elif token.kind is Kind.NUMBER and math.isfinite(token.number):
            ms = int(token.number * 1000)
        else:
            raise syntax_error(f"unexpected {token.describe()} in {context}, expected duration", token.pos)
        if ms <= 0 and not allow_zero:
            raise syntax_error(f"{context} duration must be greater than 0", token.pos)
        return ms

    def range_or_subquery(self, expr: Expr) -> Expr:
        bracket = self.next()
        range_ms = self.duration("range")
        if self.at_op(":"):
            self.next()
            step_ms = 0 if self.at_op("]") else self.duration("subquery step")
            self.expect_op("]", "subquery")
            if expr.type is not ValueType.VECTOR:
                raise syntax_error(f"subquery is only allowed on instant vector, got {expr.type}", bracket.pos)
            return SubqueryExpr(expr, range_ms, step_ms, pos=_pos(expr))
        self.expect_op("]", "range selector")
        if not isinstance(expr, VectorSelector):
            raise syntax_error("ranges only allowed for vector selectors", bracket.pos)
        if expr.has_offset or expr.at is not None:
            raise syntax_error("no offset or @ modifiers allowed before range", bracket.pos)
        return MatrixSelector(expr, range_ms, expr.pos)

    def offset(self, expr: Expr) -> Expr:
        keyword = self.next()
        sign = 1
        if self.at_op("-", "+"):
            sign = -1 if self.next().text == "-" else 1
        ms = sign * self.duration("offset", allow_zero=True)
        return _modify(expr, keyword, offset_ms=ms)

    def at(self, expr: Expr) -> Expr:
        symbol = self.next()
        if self.at_word("start", "end") and self.peek(1).kind is Kind.OP and self.peek(1).text == "(":
            word = self.next().text.lower()
            self.expect_op("(", "@ modifier")
            self.expect_op(")", "@ modifier")
            return _modify(expr, symbol, at=At(AtKind.START if word == "start" else AtKind.END))
        sign = 1.0
        if self.at_op("-", "+"):
            sign = -1.0 if self.next().text == "-" else 1.0
        token = self.next()
        if token.kind not in (Kind.NUMBER, Kind.DURATION):
            raise syntax_error(f"unexpected {token.describe()} in @, expected timestamp", token.pos)
        seconds = sign * token.number
        if not math.isfinite(seconds) or abs(seconds) > 9.2e15:
            raise syntax_error("timestamp out of bounds for @ modifier", token.pos)
        return _modify(expr, symbol, at=At(AtKind.AT, round(seconds * 1000)))

    # --- calls and aggregations ---------------------------------------------------------

    def label_list(self, context: str) -> tuple[str, ...]:
        open_paren = self.expect_op("(", f"{context} clause")
        labels: list[str] = []
        while not self.at_op(")"):
            token = self.next()
            if token.kind is Kind.STRING:
                labels.append(token.string)
            elif token.kind in (Kind.IDENT, Kind.NUMBER) and (token.text[:1].isalpha() or token.text[:1] == "_"):
                if ":" in token.text:
                    raise syntax_error(f"invalid label name {token.text!r} in {context} clause", token.pos)
                labels.append(token.text)
            elif token.kind is Kind.EOF:
                raise syntax_error("unclosed left parenthesis", open_paren.pos)
            else:
                raise syntax_error(f"unexpected {token.describe()} in grouping opts, expected label", token.pos)
            if self.at_op(","):
                self.next()
            elif not self.at_op(")"):
                bad = self.peek()
                raise syntax_error(f'unexpected {bad.describe()} in grouping opts, expected "," or ")"', bad.pos)
        self.next()
        return tuple(labels)

    def arguments(self, context: str) -> list[Expr]:
        open_paren = self.expect_op("(", context)
        args: list[Expr] = []
        while not self.at_op(")"):
            if self.peek().kind is Kind.EOF:
                raise syntax_error("unclosed left parenthesis", open_paren.pos)
            args.append(self.expression(0))
            if self.at_op(","):
                self.next()
                if self.at_op(")"):
                    bad = self.peek()
                    raise syntax_error(f"unexpected {bad.describe()} in {context}, expected expression", bad.pos)
            elif not self.at_op(")"):
                bad = self.peek()
                if bad.kind is Kind.EOF:
                    raise syntax_error("unclosed left parenthesis", open_paren.pos)
                raise syntax_error(f'unexpected {bad.describe()} in {context}, expected "," or ")"', bad.pos)
        self.next()
        return args

    def call(self) -> Expr:
        token = self.next()
        name = token.text
        if name in catalog.FUNCTIONS:
            signature, unsupported = catalog.FUNCTIONS[name], None
        elif name in catalog.UNSUPPORTED_FUNCTIONS:
            signature, unsupported = catalog.UNSUPPORTED_FUNCTIONS[name]
        else:
            raise syntax_error(f'unknown function with name "{name}"', token.pos)
        args = self.arguments(f'call to function "{name}"')
        _check_call(name, signature, args, token.pos)
        if unsupported is not None:
            raise QueryError(f'function "{name}" is not supported: {unsupported}', column=token.pos + 1)
        return Call(name, tuple(args), signature.returns, token.pos)

    def aggregation(self) -> Expr:
        token = self.next()
        op = token.text.lower()
        grouping: tuple[str, ...] = ()
        without = False
        modified = False
        if self.at_word("by", "without"):
            without = self.next().text.lower() == "without"
            grouping = self.label_list("without" if without else "by")
            modified = True
        args = self.arguments(f"aggregation {op}")
        if self.at_word("by", "without"):
            keyword = self.peek()
            if modified:
                raise syntax_error(f"unexpected {keyword.text} after aggregation that already has one", keyword.pos)
            without = self.next().text.lower() == "without"
            grouping = self.label_list("without" if without else "by")
        wanted = 2 if op in catalog.PARAM_TYPES else 1
        if len(args) != wanted:
            raise syntax_error(
                f"wrong number of arguments for aggregate expression provided, expected {wanted}, got {len(args)}",
                token.pos,
            )
        param, expr = (args[0], args[1]) if wanted == 2 else (None, args[0])
        if expr.type is not ValueType.VECTOR:
            raise syntax_error(f"expected type instant vector in aggregation expression, got {expr.type}", _pos(expr))
        if param is not None and param.type is not catalog.PARAM_TYPES[op]:
            raise syntax_error(
                f"expected type {catalog.PARAM_TYPES[op]} in aggregation parameter, got {param.type}", _pos(param)
            )
        if op in catalog.UNSUPPORTED_AGGREGATIONS:
            raise QueryError(f'aggregation "{op}" is not supported: experimental', column=token.pos + 1)
        return AggregateExpr(op, expr, param, grouping, without, token.pos)


def _pos(expr: Expr) -> int:
    return expr.pos


def _modify(expr: Expr, token: Token, *, offset_ms: int | None = None, at: At | None = None) -> Expr:
    """Apply ``offset`` / ``@`` to the selector or subquery they follow."""
    what = "offset" if offset_ms is not None else "@"
    target: VectorSelector | SubqueryExpr
    if isinstance(expr, MatrixSelector):
        target = expr.selector
    elif isinstance(expr, VectorSelector | SubqueryExpr):
        target = expr
    else:
        raise syntax_error(
            f"{what} modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            token.pos,
        )
    if offset_ms is not None:
        if target.has_offset:
            raise syntax_error("offset may not be set multiple times", token.pos)
        updated = _replace(target, offset_ms=offset_ms, has_offset=True)
    else:
        if target.at is not None:
            raise syntax_error("@ <timestamp> may not be set multiple times", token.pos)
        updated = _replace(target, at=at)
    if isinstance(expr, MatrixSelector):
        assert isinstance(updated, VectorSelector)
        return MatrixSelector(updated, expr.range_ms, expr.pos)
    return updated


def _replace(target: VectorSelector | SubqueryExpr, **changes: object) -> VectorSelector | SubqueryExpr:
    return replace(target, **changes)  # type: ignore[arg-type]


def _check_call(name: str, signature: catalog.Signature, args: list[Expr], pos: int) -> None:
    declared = len(signature.args)
    if signature.variadic == 0:
        if declared != len(args):
            raise syntax_error(f'expected {declared} argument(s) in call to "{name}", got {len(args)}', pos)
    else:
        minimum = declared - 1
        if minimum > len(args):
            raise syntax_error(f'expected at least {minimum} argument(s) in call to "{name}", got {len(args)}', pos)
        maximum = minimum + signature.variadic
        if signature.variadic > 0 and maximum < len(args):
            raise syntax_error(f'expected at most {maximum} argument(s) in call to "{name}", got {len(args)}', pos)
    for i, arg in enumerate(args):
        wanted = signature.args[min(i, declared - 1)]
        if arg.type is not wanted:
            raise syntax_error(f'expected type {wanted} in call to function "{name}", got {arg.type}', _pos(arg))


def _check_binary(node: BinaryExpr) -> BinaryExpr:
    lt, rt = node.lhs.type, node.rhs.type
    if node.op in COMPARISON_OPS and not node.return_bool and lt is ValueType.SCALAR and rt is ValueType.SCALAR:
        raise syntax_error("comparisons between scalars must use BOOL modifier", node.pos)
    for side in (lt, rt):
        if side not in (ValueType.SCALAR, ValueType.VECTOR):
            raise syntax_error("binary expression must contain only scalar and instant vector types", node.pos)
    if (lt is not ValueType.VECTOR or rt is not ValueType.VECTOR) and node.matching is not None:
        if (
            node.matching.labels
            or node.matching.include
            or node.matching.card
            in (
                Cardinality.MANY_TO_ONE,
                Cardinality.ONE_TO_MANY,
            )
        ):
            raise syntax_error("vector matching only allowed between instant vectors", node.pos)
        node = BinaryExpr(node.op, node.lhs, node.rhs, node.return_bool, None, node.pos)
    if (lt is ValueType.SCALAR or rt is ValueType.SCALAR) and node.op in SET_OPS:
        raise syntax_error(f'set operator "{node.op}" not allowed in binary scalar expression', node.pos)
    return node
