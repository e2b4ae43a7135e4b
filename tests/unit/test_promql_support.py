"""Helpers for the PromQL tests: an in-memory ``SeriesSource`` and a reader for
Prometheus's own ``promqltest`` script format (``load 5m`` / ``eval instant at 10m expr``
followed by the expected series), so cases ported from Prometheus's
``promql/promqltest/testdata`` run unchanged against our engine.

Supported script commands: ``load <interval>`` (with the ``a+bxn``, ``a-bxn``, ``axn``,
``_``, ``_xn`` and ``stale`` value notations), ``clear``, ``eval instant at <time>``,
``eval range from <t> to <t> step <d>``, ``eval_ordered``, ``eval_fail`` with optional
``expected_fail_message`` / ``expected_fail_regexp``; ``eval_warn`` / ``eval_info`` are
treated as ``eval`` (we do not produce annotations).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalepilot.control.query.engine import Engine
from scalepilot.control.query.lexer import parse_duration
from scalepilot.domain.labels import METRIC_NAME, Labels
from scalepilot.domain.matchers import Matcher, matches_all
from scalepilot.domain.query import QueryError, QueryResult, ResultType
from scalepilot.domain.samples import STALE_NAN, SeriesData

TESTDATA = Path(__file__).parent / "promql_testdata"


class MemorySource:
    """A ``SeriesSource`` over a dict of series: what the engine reads in unit tests."""

    def __init__(self) -> None:
        self.series: dict[Labels, list[tuple[int, float]]] = {}
        self.selects = 0

    def add(self, labels: Labels, points: Sequence[tuple[int, float]]) -> None:
        self.series.setdefault(labels, []).extend(points)
        self.series[labels].sort(key=lambda p: p[0])

    def copy(self) -> MemorySource:
        clone = MemorySource()
        clone.series = {labels: list(points) for labels, points in self.series.items()}
        return clone

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        self.selects += 1
        out: list[SeriesData] = []
        for labels, points in self.series.items():
            if not matches_all(list(matchers), labels):
                continue
            chosen = [(t, v) for t, v in points if start_ms <= t <= end_ms]
            if chosen:
                ts = np.array([t for t, _ in chosen], dtype=np.int64)
                vs = np.array([v for _, v in chosen], dtype=np.float64)
                out.append(SeriesData(labels, ts, vs))
        return out


# --- series notation -----------------------------------------------------------------------

_SERIES = re.compile(r"^\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?(?P<labels>\{[^}]*\})?\s*(?P<rest>.*)$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*|"(?:[^"\\]|\\.)*")\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _unquote(text: str) -> str:
    return bytes(text, "utf-8").decode("unicode_escape") if "\\" in text else text


def parse_series(line: str) -> tuple[Labels, str]:
    """``name{a="1"} rest`` → (labels, rest)."""
    m = _SERIES.match(line)
    assert m is not None, line
    pairs: dict[str, str] = {}
    if m.group("name"):
        pairs[METRIC_NAME] = m.group("name")
    body = (m.group("labels") or "{}")[1:-1]
    pos = 0
    while body[pos:].strip():
        lm = _LABEL.match(body, pos)
        assert lm is not None, f"bad labels in {line!r}"
        name = lm.group(1)
        if name.startswith('"'):
            name = _unquote(name[1:-1])
        pairs[name] = _unquote(lm.group(2))
        pos = lm.end()
    labels = tuple(sorted((k, v) for k, v in pairs.items() if v != ""))
    return labels, m.group("rest").strip()


_EXPAND = re.compile(r"^([-+]?[^x+\-]+|[-+]?(?:Inf|NaN))([+-])([^x]+)x(\d+)$")


def _number(text: str) -> float:
    lowered = text.lower()
    if lowered in ("inf", "+inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    return float(int(text, 16)) if text.lower().startswith("0x") else float(text)


def expand_values(text: str) -> list[float | None]:
    """``0+10x3`` → [0, 10, 20, 30]; ``_`` a gap; ``stale`` a stale marker."""
    out: list[float | None] = []
    for item in text.split():
        if item == "_":
            out.append(None)
        elif item == "stale":
            out.append(STALE_NAN)
        elif re.fullmatch(r"_x\d+", item):
            out.extend([None] * int(item[2:]))
        elif re.fullmatch(r"[^x]+x\d+", item) and not _EXPAND.match(item):
            value, repeat = item.rsplit("x", 1)
            out.extend([_number(value)] * (int(repeat) + 1))
        else:
            m = _EXPAND.match(item)
            if m is None:
                out.append(_number(item))
                continue
            start, sign, step, count = _number(m.group(1)), m.group(2), _number(m.group(3)), int(m.group(4))
            delta = step if sign == "+" else -step
            out.extend(start + delta * k for k in range(count + 1))
    return out


def parse_time(text: str) -> int:
    """A promqltest time: a duration (``10m``) or plain seconds."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return round(float(text) * 1000)
    if text.startswith("-"):
        return -parse_duration(text[1:])
    return parse_duration(text)


# --- scripts ---------------------------------------------------------------------------------


@dataclass
class Case:
    line: int
    command: str
    expr: str
    at_ms: int = 0
    range: tuple[int, int, int] | None = None
    ordered: bool = False
    fail: bool = False
    fail_message: str | None = None
    fail_regexp: str | None = None
    expected: list[tuple[Labels | None, list[float | None]]] = field(default_factory=list)
    expected_string: str | None = None
    source: MemorySource = field(default_factory=MemorySource)


_EVAL = re.compile(r"^eval(?:_(ordered|fail|warn|info))?\s+instant\s+at\s+(\S+)\s+(.*)$")
_EVAL_RANGE = re.compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.*)$")


def read_script(path: Path) -> Iterator[Case]:
    """The eval cases of a script, each with the data loaded before it."""
    source = MemorySource()
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "clear":
            source = MemorySource()
            continue
        if stripped.startswith("load"):
            # A fresh source, so the evals above keep seeing only what was loaded before them.
            source = source.copy()
            interval = parse_duration(stripped.split()[1])
            while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
                labels, rest = parse_series(lines[i])
                points = [(k * interval, v) for k, v in enumerate(expand_values(rest)) if v is not None]
                source.add(labels, points)
                i += 1
            continue
        m = _EVAL.match(stripped)
        mr = _EVAL_RANGE.match(stripped)
        if m is None and mr is None:
            raise AssertionError(f"{path.name}:{i}: cannot read {stripped!r}")
        if m is not None:
            case = Case(i, stripped, m.group(3), at_ms=parse_time(m.group(2)))
            case.ordered = m.group(1) == "ordered"
            case.fail = m.group(1) == "fail"
        else:
            assert mr is not None
            step = parse_duration(mr.group(4))
            case = Case(i, stripped, mr.group(5), range=(parse_time(mr.group(2)), parse_time(mr.group(3)), step))
            case.fail = mr.group(1) == "fail"
        case.source = source
        while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
            body = lines[i].strip()
            i += 1
            if body.startswith("expect "):
                raw_expect = lines[i - 1].lstrip()
                _expectation(case, raw_expect[len("expect ") :])
            elif body.startswith("expected_fail_message"):
                case.fail_message = body.split(" ", 1)[1]
            elif body.startswith("expected_fail_regexp"):
                case.fail_regexp = body.split(" ", 1)[1]
            elif re.fullmatch(r"[-+]?[0-9.eE+\-]+|[-+]?Inf|NaN", body):
                case.expected.append((None, [_number(body)]))
            else:
                labels, rest = parse_series(body)
                case.expected.append((labels, expand_values(rest)))
        yield case


def _expectation(case: Case, text: str) -> None:
    """The newer ``expect ...`` lines: ``ordered``, ``fail msg: ...`` / ``fail regex: ...``;
    annotation expectations (``no_warn``, ``info``...) are ignored."""
    if text == "ordered":
        case.ordered = True
    elif text == "string" or text.startswith("string "):
        case.expected_string = text[len("string ") :]
    elif text.startswith("fail"):
        case.fail = True
        rest = text[len("fail") :].strip()
        if rest.startswith("msg:"):
            case.fail_message = rest[len("msg:") :].strip()
        elif rest.startswith("regex:"):
            case.fail_regexp = rest[len("regex:") :].strip()


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def run_case(case: Case) -> None:
    """Evaluate one case and raise AssertionError describing any difference."""
    engine = Engine(case.source)
    try:
        if case.range is not None:
            result = engine.range(case.expr, *case.range)
        else:
            result = engine.instant(case.expr, case.at_ms)
    except QueryError as exc:
        if case.fail:
            if case.fail_message is not None:
                assert case.fail_message in str(exc), f"message {str(exc)!r} lacks {case.fail_message!r}"
            if case.fail_regexp is not None:
                assert re.search(case.fail_regexp, str(exc)), f"message {str(exc)!r} !~ {case.fail_regexp!r}"
            return
        raise
    assert not case.fail, f"expected an error, got {result}"
    _compare(case, result)


def _compare(case: Case, result: QueryResult) -> None:
    if case.expected_string is not None:
        assert result.type is ResultType.STRING and result.string is not None, f"expected a string, got {result}"
        assert result.string[1] == case.expected_string, f"{result.string[1]!r} != {case.expected_string!r}"
        return
    if result.type is ResultType.SCALAR:
        assert result.scalar is not None
        assert len(case.expected) == 1 and case.expected[0][0] is None, f"got scalar {result.scalar}"
        expected = case.expected[0][1][0]
        assert expected is not None and _close(result.scalar[1], expected), f"scalar {result.scalar[1]} != {expected}"
        return
    got: list[tuple[Labels, list[tuple[int, float]]]] = []
    if result.type is ResultType.VECTOR:
        got = [(s.labels, [(s.timestamp_ms, s.value)]) for s in result.vector]
    elif result.type is ResultType.MATRIX:
        got = [(s.labels, list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))) for s in result.matrix]
    else:
        raise AssertionError(f"unexpected result type {result.type}")
    want: dict[Labels, list[float | None]] = {}
    order: list[Labels] = []
    for labels, values in case.expected:
        assert labels is not None, "scalar expected, got a vector"
        want[labels] = values
        order.append(labels)
    got_labels = [labels for labels, _ in got]
    assert sorted(got_labels) == sorted(want), f"series differ:\n got  {sorted(got_labels)}\n want {sorted(want)}"
    if case.ordered:
        assert got_labels == order, f"order differs: {got_labels} != {order}"
    for labels, points in got:
        expected_values = want[labels]
        if case.range is not None:
            start, _, step = case.range
            expected_points = [(start + k * step, v) for k, v in enumerate(expected_values) if v is not None]
        elif result.type is ResultType.MATRIX:
            assert len(points) == len(expected_values), f"{labels}: {points} != {expected_values}"
            expected_points = [(t, v) for (t, _), v in zip(points, expected_values, strict=True) if v is not None]
        else:
            value = expected_values[0]
            assert value is not None
            expected_points = [(case.at_ms, value)]
        assert len(points) == len(expected_points), f"{labels}: {points} != {expected_points}"
        for (t, v), (et, ev) in zip(points, expected_points, strict=True):
            assert t == et and _close(v, ev), f"{labels}: {points} != {expected_points}"
