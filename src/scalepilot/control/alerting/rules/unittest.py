"""Rule unit tests in promtool's format (``promtool test rules``), run as promtool runs them.

A test file names rule files, an ``evaluation_interval`` (1m) and ``tests``: each test
loads ``input_series`` written in the expanding notation (``1+1x10``, ``_x3``,
``stale``), evaluates every group at ``0, interval, 2·interval, …`` up to the largest
``eval_time`` asked about, and compares:

- ``alert_rule_test``: the *firing* alerts of the named rule at the evaluation step
  ``ts ≤ eval_time < ts + interval`` with ``exp_alerts`` (labels without ``alertname``,
  which is added, and annotations);
- ``promql_expr_test``: an instant query at ``eval_time`` with ``exp_samples``.

Messages follow promtool 2.42's wording and layout, so a CI log reads the same; a rule
that fails to evaluate stops its test, as there. Everything here is pure: the caller
reads the files (:func:`parse_test_file` takes text).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import yaml

from scalepilot.config.rules import RuleIssue, format_prom_duration, parse_prom_duration_ms
from scalepilot.control.alerting.rules.gofmt import go_quote
from scalepilot.control.alerting.rules.group import GroupEvaluator, Querier, vector_of
from scalepilot.control.alerting.rules.model import RuleGroup
from scalepilot.control.query.parser import parse as parse_promql
from scalepilot.control.query.syntax import VectorSelector
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher, MatchOp, matches_all
from scalepilot.domain.query import QueryError, QueryResult
from scalepilot.domain.samples import STALE_NAN, SeriesData

DEFAULT_EVALUATION_INTERVAL_MS = 60_000


class RuleTestFileError(Exception):
    """The test file itself is unusable (promtool: the file FAILED before any test)."""


# --- the expanding notation -------------------------------------------------------------------
_NUMBER = r"[+-]?(?:Inf|inf|NaN|nan|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+)"
_TERM_RE = re.compile(rf"(?P<start>{_NUMBER})(?:(?P<op>[+-])(?P<step>{_NUMBER}))?x(?P<times>\d+)")
_BLANK_RE = re.compile(r"_x(?P<times>\d+)")


def _number(text: str) -> float:
    lowered = text.lower().lstrip("+-")
    return float(int(text, 16)) if lowered.startswith("0x") else float(text)


def expand_values(text: str) -> list[float | None]:
    """The values of one input series: ``None`` for a missing sample (``_``), a stale
    marker for ``stale``. ``a+bxn`` is n+1 values a, a+b, …, a+n·b; ``axn`` is n+1 a's."""
    out: list[float | None] = []
    for word in text.split():
        if word == "_":
            out.append(None)
        elif word == "stale":
            out.append(STALE_NAN)
        elif m := _BLANK_RE.fullmatch(word):
            out.extend([None] * int(m["times"]))
        elif m := _TERM_RE.fullmatch(word):
            start = _number(m["start"])
            step = _number(m["step"]) if m["step"] else 0.0
            if m["op"] == "-":
                step = -step
            # Prometheus adds the step repeatedly (float rounding included).
            value = start
            out.append(value)
            for _ in range(int(m["times"])):
                value += step
                out.append(value)
        else:
            try:
                out.append(_number(word))
            except ValueError:
                raise RuleTestFileError(f'invalid value "{word}" in series values {text!r}') from None
    return out


def parse_series_labels(text: str) -> Labels:
    """``metric{a="b"}`` or ``{__name__="metric", a="b"}`` as a label set."""
    try:
        expr = parse_promql(text)
    except QueryError as exc:
        raise RuleTestFileError(f"labels {text!r}: {exc}") from None
    if not isinstance(expr, VectorSelector) or any(m.op is not MatchOp.EQ for m in expr.matchers):
        raise RuleTestFileError(f'labels {text!r}: not a series (metric{{label="value", ...}})')
    return tuple(sorted((m.name, m.value) for m in expr.matchers if m.value != ""))


# --- an in-memory store -------------------------------------------------------------------------
class MemorySeries:
    """A :class:`~scalepilot.domain.query.SeriesSource` in memory, written by the test
    loader and by the rules under test."""

    def __init__(self) -> None:
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}

    def add(self, labels: Labels, ts_ms: int, value: float) -> None:
        ts, vs = self._series.setdefault(labels, ([], []))
        if ts and ts[-1] >= ts_ms:
            if ts[-1] == ts_ms:
                vs[-1] = value
            return
        ts.append(ts_ms)
        vs.append(value)

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        out = []
        for labels, (ts, vs) in sorted(self._series.items()):
            if not matches_all(list(matchers), labels):
                continue
            t = np.asarray(ts, dtype=np.int64)
            mask = (t >= start_ms) & (t <= end_ms)
            if mask.any():
                out.append(SeriesData(labels, t[mask], np.asarray(vs, dtype=np.float64)[mask]))
        return out


# --- the test file ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExpAlert:
    labels: Labels
    annotations: Labels


@dataclass(frozen=True, slots=True)
class AlertTest:
    eval_time_ms: int
    eval_time_text: str
    alertname: str
    exp_alerts: tuple[ExpAlert, ...]


@dataclass(frozen=True, slots=True)
class ExpSample:
    labels: str
    value: float


@dataclass(frozen=True, slots=True)
class PromqlTest:
    expr: str
    eval_time_ms: int
    eval_time_text: str
    exp_samples: tuple[ExpSample, ...]


@dataclass(frozen=True, slots=True)
class TestGroup:
    interval_ms: int
    input_series: tuple[tuple[str, str], ...]
    alert_tests: tuple[AlertTest, ...]
    promql_tests: tuple[PromqlTest, ...]
    external_labels: tuple[tuple[str, str], ...] = ()
    external_url: str | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class TestFile:
    rule_files: tuple[str, ...]
    evaluation_interval_ms: int
    group_eval_order: tuple[str, ...]
    tests: tuple[TestGroup, ...]


_FILE_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
_GROUP_KEYS = {
    "interval",
    "input_series",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
    "name",
}


def _check_keys(data: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RuleTestFileError(f"{what} must be a mapping, not {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise RuleTestFileError(f"{what}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return data


def _duration(value: Any, what: str) -> tuple[int, str]:
    text = "0" if value is None else str(value)
    try:
        return parse_prom_duration_ms(text), text
    except ValueError as exc:
        raise RuleTestFileError(f"{what}: {exc}") from None


def _str_map(value: Any, what: str) -> Labels:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise RuleTestFileError(f"{what} must be a mapping of names to strings")
    return tuple(sorted((str(k), "" if v is None else str(v)) for k, v in value.items()))


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RuleTestFileError(f"{what} must be a list")
    return value


def parse_test_file(text: str) -> TestFile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleTestFileError(f"invalid YAML: {exc}") from None
    top = _check_keys(data, _FILE_KEYS, "test file")
    interval_ms, _ = _duration(top.get("evaluation_interval") or "1m", "evaluation_interval")
    if interval_ms <= 0:
        interval_ms = DEFAULT_EVALUATION_INTERVAL_MS
    order = tuple(str(g) for g in _list(top.get("group_eval_order"), "group_eval_order"))
    if len(set(order)) != len(order):
        dup = next(g for g in order if order.count(g) > 1)
        raise RuleTestFileError(f"group name repeated in evaluation order: {dup}")
    tests = []
    for i, raw in enumerate(_list(top.get("tests"), "tests")):
        g = _check_keys(raw, _GROUP_KEYS, f"tests[{i}]")
        series_interval, _ = _duration(g.get("interval") or "0", "interval")
        inputs = []
        for raw_s in _list(g.get("input_series"), "input_series"):
            s = _check_keys(raw_s, {"series", "values"}, "input_series item")
            inputs.append((str(s.get("series") or ""), "" if s.get("values") is None else str(s.get("values"))))
        alert_tests = []
        for raw_a in _list(g.get("alert_rule_test"), "alert_rule_test"):
            a = _check_keys(raw_a, {"eval_time", "alertname", "exp_alerts"}, "alert_rule_test item")
            ms, _ = _duration(a.get("eval_time"), "eval_time")
            exp = []
            for raw_e in _list(a.get("exp_alerts"), "exp_alerts"):
                e = _check_keys(raw_e, {"exp_labels", "exp_annotations"}, "exp_alerts item")
                exp.append(
                    ExpAlert(
                        _str_map(e.get("exp_labels"), "exp_labels"),
                        _str_map(e.get("exp_annotations"), "exp_annotations"),
                    )
                )
            name = str(a.get("alertname") or "")
            if not name:
                where = f" (in TestGroup {g['name']})" if g.get("name") else ""
                raise RuleTestFileError(
                    "an item under alert_rule_test misses required attribute alertname at eval_time "
                    f"{_go_duration(ms)}{where}"
                )
            alert_tests.append(AlertTest(ms, _go_duration(ms), name, tuple(exp)))
        promql_tests = []
        for raw_p in _list(g.get("promql_expr_test"), "promql_expr_test"):
            p = _check_keys(raw_p, {"expr", "eval_time", "exp_samples"}, "promql_expr_test item")
            ms, _ = _duration(p.get("eval_time"), "eval_time")
            samples = []
            for raw_s in _list(p.get("exp_samples"), "exp_samples"):
                s = _check_keys(raw_s, {"labels", "value"}, "exp_samples item")
                try:
                    value = float(s.get("value") or 0)
                except (TypeError, ValueError):
                    raise RuleTestFileError(f"exp_samples value {s.get('value')!r} is not a number") from None
                samples.append(ExpSample(str(s.get("labels") or ""), value))
            promql_tests.append(PromqlTest(str(p.get("expr") or ""), ms, _go_duration(ms), tuple(samples)))
        url = g.get("external_url")
        tests.append(
            TestGroup(
                series_interval or interval_ms,
                tuple(inputs),
                tuple(alert_tests),
                tuple(promql_tests),
                _str_map(g.get("external_labels"), "external_labels"),
                None if url is None else str(url),
                str(g.get("name") or ""),
            )
        )
    return TestFile(tuple(str(f) for f in _list(top.get("rule_files"), "rule_files")), interval_ms, order, tuple(tests))


# --- Go's spellings -----------------------------------------------------------------------------
def _go_duration(ms: int) -> str:
    """``model.Duration.String`` (what promtool prints for an eval_time)."""
    return format_prom_duration(ms)


def _time_duration(ms: int) -> str:
    """``time.Duration.String``: ``5m0s``, ``1h2m3s``, ``0s``."""
    if ms == 0:
        return "0s"
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s = rem / 1000
    s_text = f"{s:.3f}".rstrip("0").rstrip(".") + "s"
    if h:
        return f"{h}h{m}m{s_text}"
    if m:
        return f"{m}m{s_text}"
    if ms < 1000:
        return f"{ms}ms"
    return s_text


def go_labels(labels: Labels) -> str:
    """``labels.Labels.String``: ``{a="b", c="d"}``."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in labels) + "}"


def go_float_e(v: float) -> str:
    """``strconv.FormatFloat(v, 'E', -1, 64)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return ("-" if math.copysign(1, v) < 0 else "") + "0E+00"
    sign, digits, exp = Decimal(repr(v)).normalize().as_tuple()
    assert isinstance(exp, int)
    text = "".join(str(d) for d in digits)
    e = exp + len(text) - 1
    mant = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mant}E{'+' if e >= 0 else '-'}{abs(e):02d}"


def _alerts_string(items: Sequence[tuple[Labels, Labels]]) -> str:
    if not items:
        return "[]"

    def one(la: tuple[Labels, Labels]) -> str:
        return _indent("\nLabels:" + go_labels(la[0]) + "\nAnnotations:" + go_labels(la[1]), "  ")

    s = "[\n0:" + one(items[0])
    for i, la in enumerate(items[1:]):
        s += f",\n{i + 1}:" + one(la)
    return s + "\n]"


def _indent(text: str, prefix: str) -> str:
    return text.replace("\n", "\n" + prefix)


# --- running --------------------------------------------------------------------------------------
@dataclass
class TestOutcome:
    errors: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    """A line-by-line diff per failed comparison (scalepilot's addition to promtool's message)."""


QuerierFactory = Callable[[MemorySeries], Querier]


def run_test_group(
    tg: TestGroup,
    groups: Sequence[RuleGroup],
    evaluation_interval_ms: int,
    group_eval_order: Sequence[str],
    make_querier: QuerierFactory,
) -> TestOutcome:
    """One entry of ``tests:`` over freshly built groups (state is per test)."""
    out = TestOutcome()
    store = MemorySeries()
    try:
        for series_text, values_text in tg.input_series:
            labels = parse_series_labels(series_text)
            for i, v in enumerate(expand_values(values_text)):
                if v is not None:
                    store.add(labels, i * tg.interval_ms, v)
    except RuleTestFileError as exc:
        out.errors.append(str(exc))
        return out
    querier = make_querier(store)
    order = {name: i for i, name in enumerate(group_eval_order)}
    ordered = sorted(groups, key=lambda g: order.get(g.name, 0))
    evaluators = [
        GroupEvaluator(g, external_labels=dict(tg.external_labels), external_url=tg.external_url, for_grace_period_ms=0)
        for g in ordered
    ]

    def write(samples: Sequence[tuple[Labels, float]], ts_ms: int) -> None:
        for labels, value in samples:
            store.add(labels, ts_ms, value)

    max_t = max([t.eval_time_ms for t in tg.alert_tests] + [t.eval_time_ms for t in tg.promql_tests] + [0])
    alert_times = sorted({t.eval_time_ms for t in tg.alert_tests})
    curr = 0
    ts = 0
    while ts <= max_t:
        eval_errors = []
        for ev in evaluators:
            ev.evaluate(ts, querier, write)
            for i, rule in enumerate(ev.group.rules):
                if ev.status[i].health == "err":
                    eval_errors.append(
                        f"    rule: {rule.name}, time: {_time_duration(ts)}, err: {ev.status[i].last_error}"
                    )
        out.errors.extend(eval_errors)
        if eval_errors:
            return out
        while curr < len(alert_times) and ts <= alert_times[curr] < ts + evaluation_interval_ms:
            t = alert_times[curr]
            for alert_case in (c for c in tg.alert_tests if c.eval_time_ms == t):
                got = sorted(
                    (a.labels, tuple(sorted(a.annotations)))
                    for ev in evaluators
                    for a in ev.firing(alert_case.alertname)
                )
                exp = sorted(
                    (tuple(sorted({**dict(e.labels), "alertname": alert_case.alertname}.items())), e.annotations)
                    for e in alert_case.exp_alerts
                )
                if got != exp:
                    name = f"    name: {tg.name},\n" if tg.name else ""
                    exp_s = _indent(_alerts_string(exp), "            ")
                    got_s = _indent(_alerts_string(got), "            ")
                    out.errors.append(
                        f"{name}    alertname: {alert_case.alertname}, time: {alert_case.eval_time_text}, \n"
                        f"        exp:{exp_s}, \n        got:{got_s}"
                    )
                    out.diffs.append(_diff(exp_s, got_s))
            curr += 1
        ts += evaluation_interval_ms
    for case in tg.promql_tests:
        try:
            result: QueryResult = querier.instant(case.expr, case.eval_time_ms)
            got_samples = sorted((s.labels, s.value) for s in vector_of(result))
        except Exception as exc:
            out.errors.append(f"    expr: {go_quote(case.expr)}, time: {case.eval_time_text}, err: {exc}")
            continue
        try:
            exp_samples = sorted((parse_series_labels(s.labels), s.value) for s in case.exp_samples)
        except RuleTestFileError as exc:
            out.errors.append(f"    expr: {go_quote(case.expr)}, time: {case.eval_time_text}, err: {exc}")
            continue
        if not _same_samples(exp_samples, got_samples):
            exp_s = _samples_string(exp_samples)
            got_s = _samples_string(got_samples)
            out.errors.append(
                f"    expr: {go_quote(case.expr)}, time: {case.eval_time_text},\n"
                f"        exp: {exp_s}\n        got: {got_s}"
            )
            out.diffs.append(_diff(exp_s.replace(", {", ",\n{"), got_s.replace(", {", ",\n{")))
    return out


def _same_samples(a: Sequence[tuple[Labels, float]], b: Sequence[tuple[Labels, float]]) -> bool:
    # reflect.DeepEqual on float64: NaN never equals NaN, as in promtool.
    return len(a) == len(b) and all(x[0] == y[0] and x[1] == y[1] for x, y in zip(a, b, strict=True))


def _samples_string(samples: Sequence[tuple[Labels, float]]) -> str:
    if not samples:
        return "nil"
    return ", ".join(f"{go_labels(labels)} {go_float_e(v)}" for labels, v in samples)


def _diff(exp: str, got: str) -> str:
    lines = difflib.unified_diff(
        [line.strip() for line in exp.splitlines()],
        [line.strip() for line in got.splitlines()],
        "expected",
        "got",
        lineterm="",
        n=2,
    )
    return "\n".join(lines)


def issue_lines(issues: Sequence[RuleIssue]) -> list[str]:
    return [str(i) for i in issues]
