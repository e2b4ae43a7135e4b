"""Which PromQL functions and aggregations exist, their argument types, and which of them
this engine evaluates.

Signatures are Prometheus 3's (``promql/parser/functions.go``). A function Prometheus
has but we do not evaluate (native-histogram functions, experimental ones) is parsed and
then rejected with a message naming it, so a user can tell "unsupported here" from
"misspelt".
"""

from __future__ import annotations

from dataclasses import dataclass

from scalepilot.control.query.syntax import ValueType

S, V, M, STR = ValueType.SCALAR, ValueType.VECTOR, ValueType.MATRIX, ValueType.STRING


@dataclass(frozen=True, slots=True)
class Signature:
    """``variadic``: 0 = exactly ``args``; n > 0 = up to n more of the last type; -1 = any."""

    args: tuple[ValueType, ...]
    returns: ValueType
    variadic: int = 0


_MATH = ("abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "deg", "rad")
_TRIG = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh")
_DATE = ("day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year")
_OVER_TIME = (
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "present_over_time",
    "absent_over_time",
)
_RANGE = ("rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes")

FUNCTIONS: dict[str, Signature] = {
    **{name: Signature((V,), V) for name in _MATH + _TRIG},
    **{name: Signature((V,), V, variadic=1) for name in _DATE},
    **{name: Signature((M,), V) for name in _OVER_TIME + _RANGE},
    "quantile_over_time": Signature((S, M), V),
    "predict_linear": Signature((M, S), V),
    "histogram_quantile": Signature((S, V), V),
    "clamp": Signature((V, S, S), V),
    "clamp_min": Signature((V, S), V),
    "clamp_max": Signature((V, S), V),
    "round": Signature((V, S), V, variadic=1),
    "absent": Signature((V,), V),
    "time": Signature((), S),
    "pi": Signature((), S),
    "timestamp": Signature((V,), V),
    "vector": Signature((S,), V),
    "scalar": Signature((V,), S),
    "sort": Signature((V,), V),
    "sort_desc": Signature((V,), V),
    "label_replace": Signature((V, STR, STR, STR, STR), V),
    "label_join": Signature((V, STR, STR, STR), V, variadic=-1),
}

_NATIVE = "native histograms are not supported"
_EXPERIMENTAL = "experimental functions are not supported"

UNSUPPORTED_FUNCTIONS: dict[str, tuple[Signature, str]] = {
    **{
        name: (Signature((V,), V), _NATIVE)
        for name in ("histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar")
    },
    "histogram_fraction": (Signature((S, S, V), V), _NATIVE),
    "info": (Signature((V, V), V, variadic=1), _EXPERIMENTAL),
    "sort_by_label": (Signature((V, STR), V, variadic=-1), _EXPERIMENTAL),
    "sort_by_label_desc": (Signature((V, STR), V, variadic=-1), _EXPERIMENTAL),
    "double_exponential_smoothing": (Signature((M, S, S), V), _EXPERIMENTAL),
    "mad_over_time": (Signature((M,), V), _EXPERIMENTAL),
    "first_over_time": (Signature((M,), V), _EXPERIMENTAL),
    "ts_of_min_over_time": (Signature((M,), V), _EXPERIMENTAL),
    "ts_of_max_over_time": (Signature((M,), V), _EXPERIMENTAL),
    "ts_of_first_over_time": (Signature((M,), V), _EXPERIMENTAL),
    "ts_of_last_over_time": (Signature((M,), V), _EXPERIMENTAL),
}

AGGREGATIONS = frozenset(
    {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values"}
)
UNSUPPORTED_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})
PARAM_TYPES: dict[str, ValueType] = {
    "topk": S,
    "bottomk": S,
    "quantile": S,
    "count_values": STR,
    "limitk": S,
    "limit_ratio": S,
}

#: Functions whose result depends on the evaluation time even when their arguments do
#: not (Prometheus's ``AtModifierUnsafeFunctions``).
AT_UNSAFE = frozenset((*_DATE, "predict_linear", "time", "timestamp"))
