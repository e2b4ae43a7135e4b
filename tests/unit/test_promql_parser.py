"""The PromQL parser: operator precedence and associativity, durations, strings and
escapes, modifiers, and errors that name the column (1-based) and, for features we do
not evaluate, the feature."""

from __future__ import annotations

import math

import pytest

from scalepilot.control.query.parser import parse
from scalepilot.control.query.syntax import (
    AggregateExpr,
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
    VectorSelector,
)
from scalepilot.domain.matchers import MatchOp
from scalepilot.domain.query import QueryError


def shape(node: Expr) -> str:
    """A compact, fully parenthesised rendering, so precedence shows in one string."""
    if isinstance(node, NumberLiteral):
        return format(node.value, "g")
    if isinstance(node, StringLiteral):
        return repr(node.value)
    if isinstance(node, VectorSelector):
        return node.name or "{}"
    if isinstance(node, ParenExpr):
        return shape(node.expr)
    if isinstance(node, UnaryExpr):
        return f"(-{shape(node.expr)})"
    if isinstance(node, BinaryExpr):
        return f"({shape(node.lhs)} {node.op} {shape(node.rhs)})"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(shape(a) for a in node.args)})"
    if isinstance(node, AggregateExpr):
        return f"{node.op}({shape(node.expr)})"
    if isinstance(node, MatrixSelector):
        return f"{shape(node.selector)}[{node.range_ms}]"
    if isinstance(node, SubqueryExpr):
        return f"{shape(node.expr)}[{node.range_ms}:{node.step_ms}]"
    raise AssertionError(node)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b % c", "((a / b) % c)"),
        ("a ^ b ^ c", "(a ^ (b ^ c))"),  # ^ is right-associative
        ("-a ^ b", "(-(a ^ b))"),  # unary minus binds looser than ^
        ("a + b > c", "((a + b) > c)"),
        ("a > b and c", "((a > b) and c)"),
        ("a and b or c and d", "((a and b) or (c and d))"),
        ("a or b unless c", "(a or (b unless c))"),
        ("a unless b and c", "((a unless b) and c)"),
        ("a atan2 b + c", "((a atan2 b) + c)"),
        ("(a + b) * c", "((a + b) * c)"),
        ("sum(a) by (x) / on() group_left count(b)", "(sum(a) / count(b))"),
        ("-2^2", "(-(2 ^ 2))"),  # so it is -4, as in Prometheus
    ],
)
def test_precedence(text: str, expected: str) -> None:
    assert shape(parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("x[5m]", 300_000),
        ("x[1h30m]", 5_400_000),
        ("x[500ms]", 500),
        ("x[1d]", 86_400_000),
        ("x[1w]", 604_800_000),
        ("x[1y]", 31_536_000_000),
        ("x[90]", 90_000),  # Prometheus 3: a bare number is seconds
        ("x[1.5]", 1_500),
    ],
)
def test_durations(text: str, ms: int) -> None:
    node = parse(text)
    assert isinstance(node, MatrixSelector)
    assert node.range_ms == ms


def test_duration_in_number_position_is_seconds() -> None:
    node = parse("x + 5m")
    assert isinstance(node, BinaryExpr) and isinstance(node.rhs, NumberLiteral)
    assert node.rhs.value == 300.0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'"a\nb"', "a\nb"),
        (r'"tab\there"', "tab\there"),
        (r'"quote\"d"', 'quote"d'),
        (r"'single\'q'", "single'q"),
        (r'"\x41\u00e9\U0001F600"', "Aé\U0001f600"),
        (r'"\101"', "A"),
        (r"`raw\n`", r"raw\n"),
        (r'"back\\slash"', "back\\slash"),
    ],
)
def test_strings_and_escapes(text: str, value: str) -> None:
    node = parse(f'label_replace(x, "d", {text}, "s", ".*")')
    assert isinstance(node, Call)
    replacement = node.args[2]
    assert isinstance(replacement, StringLiteral)
    assert replacement.value == value


def test_numbers() -> None:
    for text, value in [("0x1F", 31.0), ("1e3", 1000.0), (".5", 0.5), ("Inf", math.inf), ("-Inf", -math.inf)]:
        node = parse(text)
        assert isinstance(node, NumberLiteral), text
        assert node.value == value
    nan = parse("NaN")
    assert isinstance(nan, NumberLiteral) and math.isnan(nan.value)


def test_selector_matchers_and_modifiers() -> None:
    node = parse('http_requests_total{code=~"5..", job!="x", path!~"/a|/b"} offset -5m @ 1700000000.5')
    assert isinstance(node, VectorSelector)
    ops = [(m.name, m.op) for m in node.matchers]
    assert ops == [
        ("__name__", MatchOp.EQ),
        ("code", MatchOp.RE),
        ("job", MatchOp.NE),
        ("path", MatchOp.NRE),
    ]
    assert node.offset_ms == -300_000
    assert node.at is not None and node.at.kind is AtKind.AT and node.at.ms == 1_700_000_000_500


def test_quoted_metric_name_and_start_end() -> None:
    node = parse('{"my.metric", le="1"} @ start()')
    assert isinstance(node, VectorSelector)
    assert node.name == "my.metric"
    assert node.at is not None and node.at.kind is AtKind.START


def test_subquery_and_grouping() -> None:
    node = parse("max_over_time(rate(x[1m])[10m:30s] offset 1m)")
    assert isinstance(node, Call)
    sub = node.args[0]
    assert isinstance(sub, SubqueryExpr)
    assert (sub.range_ms, sub.step_ms, sub.offset_ms) == (600_000, 30_000, 60_000)
    binary = parse("a * on(instance) group_left(role) b")
    assert isinstance(binary, BinaryExpr) and binary.matching is not None
    assert binary.matching.card is Cardinality.MANY_TO_ONE
    assert binary.matching.labels == ("instance",) and binary.matching.include == ("role",)
    agg = parse("topk by (a, b) (3, x)")
    assert isinstance(agg, AggregateExpr)
    assert agg.grouping == ("a", "b") and not agg.without and isinstance(agg.param, NumberLiteral)


def test_keywords_can_be_metric_names() -> None:
    node = parse("sum + by")
    assert isinstance(node, BinaryExpr)
    assert shape(node) == "(sum + by)"


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("sum(rate(x[5m])", 4, "unclosed left parenthesis"),
        ('x{a="b"', 2, "unexpected end of input inside braces"),
        ("rate(x)", 6, 'expected type range vector in call to function "rate", got instant vector'),
        ("foo(x)", 1, 'unknown function with name "foo"'),
        ("1 +", 4, "unexpected end of input"),
        ("x[5m] + 1", 7, "binary expression must contain only scalar and instant vector types"),
        ('"abc', 1, "unterminated quoted string"),
        ("x offset 5m offset 1m", 13, "offset may not be set multiple times"),
        ("x and 1", 3, 'set operator "and" not allowed in binary scalar expression'),
        ("1 > 2", 3, "comparisons between scalars must use BOOL modifier"),
        ("x[1y2y]", 3, "not a valid duration string"),
        ("5mm", 1, "bad number or duration syntax"),
        ("a $ b", 3, "unexpected character"),
        ("x + on(a) group_left(a) y", 11, 'label "a" must not occur in ON and GROUP clause at once'),
        ("{}", 1, "vector selector must contain at least one non-empty matcher"),
        ('x{a=~"("}', 6, "invalid regular expression"),
        ("x[0s]", 3, "range duration must be greater than 0"),
        ("sum(x, y)", 1, "wrong number of arguments for aggregate expression"),
        ("rate(x[5m]) [1m]", 13, "ranges only allowed for vector selectors"),
        (r'"\q"', 2, "unknown escape sequence"),
        ("", 1, "no expression found in input"),
        # Names and numbers are ASCII, as in Prometheus's lexer: other letters and digits
        # are unexpected characters (they once tripped an assertion: a 500 from the API).
        ("Ãrx", 1, "unexpected character: 'Ã'"),
        ('up{ß="a"}', 4, "unexpected character: 'ß'"),
        ("x + ²", 5, "unexpected character: '²'"),
        ("x + ٣", 5, "unexpected character: '٣'"),
    ],
)
def test_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.kind == "bad_data"
    assert caught.value.column == column
    assert fragment in str(caught.value)
    assert f"(at column {column})" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("histogram_count(x)", 'function "histogram_count" is not supported: native histograms'),
        ("histogram_fraction(0, 1, x)", 'function "histogram_fraction" is not supported: native histograms'),
        ("limitk(2, x)", 'aggregation "limitk" is not supported'),
        ('sort_by_label(x, "a")', 'function "sort_by_label" is not supported'),
    ],
)
def test_unsupported_features_are_named(text: str, feature: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.kind == "bad_data"
    assert caught.value.column == 1
    assert feature in str(caught.value)
