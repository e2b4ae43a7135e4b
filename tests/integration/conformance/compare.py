"""Comparing two answers in the shape of Prometheus's HTTP API ``data`` object.

The rules:

* scalepilot raising anything but ``QueryError`` is a crash, never an agreement;
* both sides refusing a query (a parse or execution error) agree, whatever the
  messages say; one refusing and the other answering do not;
* the result type must be the same;
* label sets must be exactly the same, as sets of series;
* timestamps must be exactly the same; values must agree to ``rel_tol`` (1e-9)
  relative, NaN equals NaN, infinities equal only the same infinity;
* order matters only where Prometheus guarantees it (``ordered``): then the sequence
  of values must be the same, while series with equal values may come in any order
  (Go's sorts are not stable, and neither version promises an order among ties);
* where a query selects series by value (``ties``: ``topk``/``bottomk``), which of
  several equal values is picked is not specified either: series only one side has
  must carry the same values as those only the other side has, time by time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Answer:
    data: dict[str, Any] | None = None
    """Prometheus's ``data`` object, or None when the query was refused."""
    error: str | None = None
    error_type: str | None = None

    def short(self, limit: int = 600) -> str:
        text = f"error ({self.error_type}): {self.error}" if self.error is not None else json.dumps(self.data)
        return text if len(text) <= limit else text[: limit - 3] + "..."


def number(text: Any) -> float:
    """A value as Prometheus writes it: a string (``"1.5"``, ``"NaN"``, ``"+Inf"``)."""
    if isinstance(text, int | float):
        return float(text)
    return float(str(text).replace("Inf", "inf"))


def same_value(a: float, b: float, rel_tol: float = REL_TOL) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == b or math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0)


def compare(
    expected: Answer, actual: Answer, *, ordered: bool = False, ties: bool = False, rel_tol: float = REL_TOL
) -> str | None:
    """None when the answers agree, else what differs first (one line). ``ties``: the
    query selects series by value (``topk``/``bottomk``), so among equal values either
    side may have picked other series: series present on one side only must then
    have the same values as those present on the other side only, at each time."""
    if actual.error_type == "crash":
        return f"scalepilot crashed: {actual.error}"
    if expected.data is None or actual.data is None:
        if expected.data is None and actual.data is None:
            return None
        if expected.data is None:
            return f"Prometheus refused the query ({expected.error}), scalepilot answered"
        return f"scalepilot refused the query ({actual.error}), Prometheus answered"
    kind, other = expected.data.get("resultType"), actual.data.get("resultType")
    if kind != other:
        return f"result type {other!r}, Prometheus says {kind!r}"
    want, got = expected.data.get("result"), actual.data.get("result")
    if kind in ("scalar", "string"):
        return _point(want, got, kind == "string", rel_tol, "the result")
    if kind == "vector":
        return _vector(want or [], got or [], ordered, ties, rel_tol)
    if kind == "matrix":
        if ties:
            return _matrix_with_ties(want or [], got or [], rel_tol)
        return _matrix(want or [], got or [], rel_tol)
    return f"unknown result type {kind!r}"


def _point(want: Any, got: Any, is_string: bool, rel_tol: float, what: str) -> str | None:
    if not isinstance(got, list) or len(got) != 2:
        return f"{what} is {got!r}, not a [time, value] pair"
    if number(want[0]) != number(got[0]):
        return f"{what} has time {got[0]}, Prometheus {want[0]}"
    if is_string:
        return None if want[1] == got[1] else f"{what} is {got[1]!r}, Prometheus {want[1]!r}"
    if not same_value(number(want[1]), number(got[1]), rel_tol):
        return f"{what} is {got[1]}, Prometheus {want[1]}"
    return None


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(metric.items()))


def _show(key: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"


def _index(rows: list[dict[str, Any]], side: str) -> tuple[dict[tuple[tuple[str, str], ...], Any], str | None]:
    out: dict[tuple[tuple[str, str], ...], Any] = {}
    for row in rows:
        key = _key(row.get("metric", {}))
        if key in out:
            return out, f"{side} returns the series {_show(key)} twice"
        out[key] = row
    return out, None


def _series_sets(want: dict[Any, Any], got: dict[Any, Any]) -> str | None:
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} series missing, e.g. {_show(missing[0])}")
    if extra:
        parts.append(f"{len(extra)} series extra, e.g. {_show(extra[0])}")
    return "; ".join(parts)


def _vector(
    want: list[dict[str, Any]], got: list[dict[str, Any]], ordered: bool, ties: bool, rel_tol: float
) -> str | None:
    w, problem = _index(want, "Prometheus")
    g, problem2 = _index(got, "scalepilot")
    if problem or problem2:
        return problem or problem2
    if ties:
        problem = _tied_swaps(
            {k: number(r["value"][1]) for k, r in w.items()}, {k: number(r["value"][1]) for k, r in g.items()}, rel_tol
        )
        if problem:
            return problem
        w = {k: r for k, r in w.items() if k in g}
    problem = _series_sets(w, g) if not ties else None
    if problem:
        return problem
    for key, row in w.items():
        problem = _point(row["value"], g[key]["value"], False, rel_tol, _show(key))
        if problem:
            return problem
    if ordered:
        if len(want) != len(got):
            return f"{len(got)} series, Prometheus {len(want)}"
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            if not same_value(number(a["value"][1]), number(b["value"][1]), rel_tol):
                return (
                    f"order differs at position {i}: scalepilot has {_show(_key(b['metric']))} = {b['value'][1]}, "
                    f"Prometheus {_show(_key(a['metric']))} = {a['value'][1]}"
                )
    return None


def _matrix(want: list[dict[str, Any]], got: list[dict[str, Any]], rel_tol: float) -> str | None:
    w, problem = _index(want, "Prometheus")
    g, problem2 = _index(got, "scalepilot")
    if problem or problem2:
        return problem or problem2
    problem = _series_sets(w, g)
    if problem:
        return problem
    for key, row in w.items():
        a, b = row["values"], g[key]["values"]
        ta = [number(p[0]) for p in a]
        tb = [number(p[0]) for p in b]
        if ta != tb:
            only_a = sorted(set(ta) - set(tb))
            only_b = sorted(set(tb) - set(ta))
            return (
                f"{_show(key)}: {len(tb)} points, Prometheus {len(ta)}; "
                f"only in Prometheus at {only_a[:3]}, only in scalepilot at {only_b[:3]}"
            )
        for pa, pb in zip(a, b, strict=True):
            if not same_value(number(pa[1]), number(pb[1]), rel_tol):
                return f"{_show(key)} at {pa[0]}: {pb[1]}, Prometheus {pa[1]}"
    return None


def _tied_swaps(want: dict[Any, float], got: dict[Any, float], rel_tol: float) -> str | None:
    """None when the series only one side has carry the same values (a swap among
    ties), else what differs."""
    missing = sorted((want[k] for k in want if k not in got), key=_order)
    extra = sorted((got[k] for k in got if k not in want), key=_order)
    if len(missing) != len(extra) or not all(same_value(a, b, rel_tol) for a, b in zip(missing, extra, strict=True)):
        only_w = [k for k in want if k not in got]
        only_g = [k for k in got if k not in want]
        return (
            f"series differ beyond ties: only Prometheus has {[_show(k) for k in only_w[:3]]} = {missing[:3]}, "
            f"only scalepilot {[_show(k) for k in only_g[:3]]} = {extra[:3]}"
        )
    return None


def _order(v: float) -> tuple[int, float]:
    return (1, 0.0) if math.isnan(v) else (0, v)


def _matrix_with_ties(want: list[dict[str, Any]], got: list[dict[str, Any]], rel_tol: float) -> str | None:
    """Range results of a query that selects by value: compared time by time."""
    w = _by_time(want)
    g = _by_time(got)
    for t in sorted(set(w) | set(g)):
        a, b = w.get(t, {}), g.get(t, {})
        problem = _tied_swaps(a, b, rel_tol)
        if problem:
            return f"at {t}: {problem}"
        for key, value in a.items():
            if key in b and not same_value(value, b[key], rel_tol):
                return f"{_show(key)} at {t}: {b[key]}, Prometheus {value}"
    return None


def _by_time(rows: list[dict[str, Any]]) -> dict[float, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[float, dict[tuple[tuple[str, str], ...], float]] = {}
    for row in rows:
        key = _key(row.get("metric", {}))
        for t, v in row["values"]:
            out.setdefault(number(t), {})[key] = number(v)
    return out
