"""Where Prometheus 2.42 (the reference we can run: Debian's package) and Prometheus 3
(whose semantics scalepilot's engine implements) answer differently, and what the
conformance test does about each difference.

Only genuine version differences belong here — never a bug on either side. Each is
either **avoided by construction** (the data set and the corpus never meet the
condition; a guard test checks the data where it can) or **excluded**: the query is
still evaluated; where the answers agree it counts as an agreement, where they differ
exactly as its :class:`Exclusion` documents (:meth:`Exclusion.explains`, or 2.42's
answer to a rewrite that emulates 3.x, :attr:`Exclusion.emulate`) the evaluation is
listed apart with the reason and not counted, and any other difference counts.

Avoided by construction (see :mod:`.series_gen` and :mod:`.query_gen`):

* **Left edge of windows.** 2.x selects ``[t - range, t]`` for range selectors,
  subqueries and the 5m lookback; 3.x selects ``(t - range, t]``. They differ only for a
  sample exactly on the left edge: every evaluation and ``@`` time ends in ``.500``,
  every range, offset and step is whole seconds, and no sample's millisecond part is
  ``000`` or ``500``.
* **rate/increase's zero point** (prometheus/prometheus#13725, in 2.51): 2.42 limits the
  extrapolation to the counter's zero point *before* applying the "series starts inside
  the window: extrapolate half an interval" rule, 3.x after it. Counters in the data set
  start (and restart) at exactly zero or far above what they gain in any window, so the
  two orders give the same result (:func:`zero_point_differences`; a guard test checks
  every window, also over the points of the subqueries the corpus takes ``rate`` of).
* **Regular expressions**: in 3.x ``.`` matches a newline, in 2.x it does not; no label
  value in the data set holds a newline.
* **Nested subqueries**: an inner subquery ``[R:S]`` runs at multiples of the outer
  step ``O`` (``.000``) and its points are at multiples of ``S``, so a point lands on its
  window's left edge whenever ``R`` is a multiple of ``gcd(O, S)``. Nested subqueries in
  the corpus avoid that (a guard test checks).
* **Ties**: ``sort``, ``sort_desc``, ``topk``, ``bottomk`` order equal values
  arbitrarily (Go's unstable sort, in both versions), and which of several equal values
  ``topk``/``bottomk`` pick is not specified; :mod:`.compare` checks the order of values
  only, and lets series picked by one side only differ from those picked by the other
  only if they carry the same values.

Excluded: :data:`EXCLUSIONS` below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tests.integration.conformance.compare import Answer, compare

LOOKBACK_MS = 300_000

Shape = Literal[
    "only Prometheus answers",
    "only scalepilot answers",
    "Prometheus keeps __name__",
    "2.42 asked the emulating rewrite",
]


@dataclass(frozen=True, slots=True)
class Exclusion:
    pattern: str
    """A regular expression searched for in the query text."""
    reason: str
    shape: Shape
    """What the difference looks like; :meth:`explains` checks that nothing else differs."""
    emulate: Callable[[str], str] | None = None
    """A rewrite of the query whose 2.42 answer is what 3.x answers to the original: when
    given, scalepilot's answer must equal 2.42's answer to the rewrite, exactly."""

    def explains(self, expected: Answer, actual: Answer) -> bool:
        """Whether the two answers agree or differ only as documented: an exclusion
        must never hide another difference."""
        if actual.error_type == "crash":
            return False
        if compare(expected, actual) is None:
            return True
        if self.shape == "only Prometheus answers":
            return expected.data is not None and actual.data is None
        if self.shape == "only scalepilot answers":
            return expected.data is None and actual.data is not None
        if self.shape == "Prometheus keeps __name__":
            return expected.data is not None and compare(_without_name(expected), actual) is None
        return False  # the harness asks Prometheus the rewrite instead


def _without_name(answer: Answer) -> Answer:
    assert answer.data is not None
    rows = [
        {**row, "metric": {k: v for k, v in row["metric"].items() if k != "__name__"}}
        for row in answer.data.get("result") or []
    ]
    return Answer(data={**answer.data, "result": rows})


def zero_point_differences(
    timestamps: Sequence[int], values: Sequence[float], ranges_ms: Iterable[int], times_ms: Iterable[int]
) -> list[tuple[int, int]]:
    """The (range, evaluation time) pairs at which ``rate``/``increase`` of this counter
    series would extrapolate differently in 2.42 and in 3.x (the zero-point order
    above). Empty means the data keeps off that difference."""
    ts = np.asarray(timestamps, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    if len(ts) < 2:
        return []
    # Each reset adds the value before it, as rate's counter correction does.
    drops = np.concatenate(([0.0], np.where(vs[1:] < vs[:-1], vs[:-1], 0.0)))
    corrected = vs + np.cumsum(drops)
    at = np.fromiter(times_ms, dtype=np.int64)
    out: list[tuple[int, int]] = []
    for range_ms in ranges_ms:
        first = np.searchsorted(ts, at - range_ms, side="right")
        last = np.searchsorted(ts, at, side="right") - 1
        ok = last - first >= 1
        f, lo, t = first[ok], last[ok], at[ok]
        result = corrected[lo] - corrected[f]
        sampled = (ts[lo] - ts[f]) / 1000
        average = sampled / (lo - f)
        threshold = average * 1.1
        to_start = (ts[f] - (t - range_ms)) / 1000
        with np.errstate(divide="ignore", invalid="ignore"):
            to_zero = np.where((result > 0) & (vs[f] >= 0), sampled * vs[f] / result, np.inf)
        limited = np.minimum(to_start, to_zero)
        old = np.where(limited < threshold, limited, average / 2)  # 2.42
        new = np.minimum(np.where(to_start < threshold, to_start, average / 2), to_zero)  # 3.x
        differ = ~np.isclose(old, new, rtol=1e-12, atol=0.0)
        out += [(range_ms, int(x)) for x in t[differ]]
    return out


def subquery_points(
    timestamps: Sequence[int], values: Sequence[float], step_ms: int, start_ms: int, end_ms: int
) -> tuple[list[int], list[float]]:
    """The points a subquery with this step sees of a raw series between two times:
    at each multiple of the step, the latest sample of the 5m lookback ``(t - 5m, t]``."""
    ts = np.asarray(timestamps, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    at = np.arange(-(-start_ms // step_ms) * step_ms, end_ms + 1, step_ms, dtype=np.int64)
    latest = np.searchsorted(ts, at, side="right") - 1
    seen = (latest >= 0) & (ts[np.maximum(latest, 0)] > at - LOOKBACK_MS)
    return at[seen].tolist(), vs[latest[seen]].tolist()


_STDDEV = re.compile(r"\b(stddev|stdvar)\b(\s*(?:by|without)\s*\([^()]*\))?\s*\(")
_POSTFIX_GROUPING = re.compile(r"\s*(?:by|without)\s*\([^()]*\)")


def stddev_as_in_prometheus_3(expr: str) -> str:
    """Every ``stddev``/``stdvar`` aggregation ``op<grouping> (X)`` of ``expr`` as
    ``(op<grouping> (X) + 0 * sum<grouping> (X))``: for a group of one sample that is
    NaN or ±Inf, ``0 * sum`` is NaN, as 3.x's answer; for any other group it is 0 (or
    NaN where the stddev is NaN already), so 2.42 then answers as 3.x does."""
    out: list[str] = []
    pos = 0
    while (m := _STDDEV.search(expr, pos)) is not None:
        open_at = m.end() - 1
        close = _closing(expr, open_at)
        inner = stddev_as_in_prometheus_3(expr[open_at + 1 : close])
        grouping = m.group(2) or ""
        end = close + 1
        postfix = _POSTFIX_GROUPING.match(expr, end)
        if postfix is not None and not grouping:
            grouping, end = postfix.group(0), postfix.end()
        out += [expr[pos : m.start()], f"({m.group(1)}{grouping} ({inner}) + 0 * sum{grouping} ({inner}))"]
        pos = end
    out.append(expr[pos:])
    return "".join(out)


def _closing(expr: str, open_at: int) -> int:
    """The index of the parenthesis closing the one at ``open_at``, skipping strings."""
    depth, i, quote = 0, open_at, ""
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced parentheses in {expr!r}")


EXCLUSIONS: list[Exclusion] = [
    Exclusion(
        r"\bholt_winters\(",
        "holt_winters exists in 2.42; Prometheus 3 removed it (renamed double_exponential_smoothing, "
        "behind --enable-feature=promql-experimental-functions), so scalepilot refuses it as an "
        "unknown function while 2.42 answers",
        "only Prometheus answers",
    ),
    Exclusion(
        r" atan2 [\d(]",
        "2.42 keeps the metric name on `vector atan2 scalar`; since 2.46 (prometheus/prometheus#12595) "
        "atan2 drops it like every other arithmetic operator",
        "Prometheus keeps __name__",
    ),
    Exclusion(
        r'label_replace\([^"]*"\d',
        "a label name starting with a digit is valid since Prometheus 3 (UTF-8 label names: "
        "label_replace checks model.UTF8Validation); 2.42 refuses it as an invalid destination label",
        "only scalepilot answers",
    ),
    Exclusion(
        r"\b(stddev|stdvar)\b",
        "stddev/stdvar of a group whose only sample is NaN or ±Inf is 0 in 2.42 and NaN since "
        "Prometheus 3 (prometheus/prometheus#14941); scalepilot must equal 2.42's answer to "
        "`(stddev(X) + 0 * sum(X))`, which is 3.x's",
        "2.42 asked the emulating rewrite",
        emulate=stddev_as_in_prometheus_3,
    ),
]


def exclusion_for(expr: str) -> Exclusion | None:
    for exclusion in EXCLUSIONS:
        if re.search(exclusion.pattern, expr):
            return exclusion
    return None
