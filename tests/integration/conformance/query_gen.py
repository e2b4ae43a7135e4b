"""The query corpus: PromQL scalepilot's engine supports, against the data set of
:mod:`.series_gen`.

Written out by family rather than drawn at random, so that every feature is covered on
purpose and a failing case reads like a unit test: selectors with the four matcher
operators, counter and gauge range functions, the ``*_over_time`` family, classic
``histogram_quantile``, math and clamping, ``absent``/``absent_over_time``, time
functions, sorting, ``label_replace``/``label_join``, every aggregation (``by`` and
``without``, ``topk``/``bottomk``/``quantile``/``count_values``), binary operators with
``on``/``ignoring``/``group_left``/``group_right``, comparisons with and without
``bool``, ``and``/``or``/``unless``, ``offset`` (also negative), ``@`` and subqueries, and
a few queries both sides must reject. Then :data:`RANDOM_QUERIES` seeded random
compositions of the same parts (``random_seed``; the report script takes others), to find
what nobody thought of writing down.

Every range, offset and step is a whole number of seconds, and every ``@`` time ends in
``.500``: see :mod:`.series_gen` for why (the window edges of Prometheus 2 and 3).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from tests.integration.conformance.series_gen import BASE_MS


@dataclass(frozen=True, slots=True)
class QueryCase:
    expr: str
    group: str
    ordered: bool = False
    """Prometheus guarantees the order of the result (``sort``, ``sort_desc``, and
    ``topk``/``bottomk`` without grouping at the top of an instant query)."""
    range_query: bool = False
    """Also evaluated as a range query."""


AT_MS = BASE_MS + 5_400_500
"""An ``@`` time in the middle of the data (90 minutes in, plus 500 ms)."""
AT = f"{AT_MS // 1000}.{AT_MS % 1000:03d}"

COUNTERS = ['http_requests_total{job="api"}', "process_cpu_seconds_total"]
GAUGES = ["temperature_celsius", "queue_depth", "memory_usage_bytes"]
RATE = "rate(http_requests_total[5m])"
BUCKETS = "http_request_duration_seconds_bucket"


def corpus(random_seed: int | None = None) -> list[QueryCase]:
    """The hand-written cases, then :data:`RANDOM_QUERIES` random ones drawn with
    ``random_seed`` (default :data:`RANDOM_SEED`, what the test runs)."""
    cases: list[QueryCase] = []
    groups: list[tuple[str, list[Item]]] = [(group, builder()) for group, builder in _GROUPS.items()]
    groups.append(("random", _random(RANDOM_SEED if random_seed is None else random_seed)))
    for group, items in groups:
        for item in items:
            case = item if isinstance(item, QueryCase) else QueryCase(item, group)
            cases.append(QueryCase(case.expr, group, case.ordered, case.range_query))
    seen: set[str] = set()
    unique = []
    for case in cases:
        if case.expr not in seen:
            seen.add(case.expr)
            unique.append(case)
    # Every fourth query (and every one that asks for it) also runs as a range query.
    return [
        QueryCase(c.expr, c.group, c.ordered, c.range_query or (i % 4 == 0 and not _is_matrix(c.expr)))
        for i, c in enumerate(unique)
    ]


def _is_matrix(expr: str) -> bool:
    """A range selector or subquery at the top: an instant query only."""
    return bool(re.search(r"\]( offset -?\d+[smh]| @ [^)]+)*$", expr))


Item = str | QueryCase


def _selectors() -> list[Item]:
    return [
        "http_requests_total",
        'http_requests_total{job="api"}',
        'http_requests_total{job!="api"}',
        'http_requests_total{route=~"/users|/orders"}',
        'http_requests_total{code!~"5.."}',
        'http_requests_total{job="api",code=~"2..",route!="/health"}',
        r'http_requests_total{instance=~"10\\.0\\.1\\.[12]:8080"}',
        'http_requests_total{route=~"/us.*"}',
        'http_requests_total{route=~"us.*"}',
        'http_requests_total{route=""}',
        'http_requests_total{zone=""}',
        'http_requests_total{zone!=""}',
        'http_requests_total{job="nope"}',
        '{__name__=~"http_requests_total|temperature_celsius",job="web"}',
        '{__name__="queue_depth",route="/users"}',
        '{__name__=~".+_total"}',
        '{job="web"}',
        '{job=~"a.*",__name__!~"http_.*|queue.*"}',
        "temperature_celsius",
        "queue_depth",
        'memory_usage_bytes{instance="10.0.2.1:80"}',
        "build_info",
        "up",
        "nonexistent_metric",
        "up{}",
        'queue_depth{route!~"/users|/orders"}',
        'temperature_celsius{instance="10.0.1.3:8080"}',
        'temperature_celsius{instance="10.0.1.4:8080"}',
    ]


def _range_selectors() -> list[Item]:
    return [
        "temperature_celsius[1m]",
        'temperature_celsius{instance="10.0.1.1:8080"}[5m]',
        'http_requests_total{job="web",code="503"}[2m]',
        'queue_depth{job="api",route="/health"}[3m]',
        "temperature_celsius[2m] offset 10m",
        f"temperature_celsius[1m] @ {AT}",
    ]


def _offset_at() -> list[Item]:
    return [
        "temperature_celsius offset 5m",
        "temperature_celsius offset 1h",
        "temperature_celsius offset -5m",
        'http_requests_total{job="web"} offset 30m',
        f"temperature_celsius @ {AT}",
        QueryCase("temperature_celsius @ start()", "", range_query=True),
        QueryCase("temperature_celsius @ end()", "", range_query=True),
        f'rate(http_requests_total{{job="web"}}[5m] @ {AT})',
        'rate(http_requests_total{job="web"}[5m] offset 10m)',
        "sum(rate(http_requests_total[5m] offset 1h))",
        f"temperature_celsius @ {AT} offset 10m",
        f'increase(http_requests_total{{job="api",route="/users"}}[10m] @ {AT} offset -10m)',
        f"sum by (job) (memory_usage_bytes @ {AT}) - sum by (job) (memory_usage_bytes)",
    ]


def _counter_functions() -> list[Item]:
    out: list[Item] = []
    for fn in ("rate", "irate", "increase", "resets", "changes"):
        for sel in COUNTERS:
            for rng in ("1m", "5m", "10m", "1h"):
                out.append(f"{fn}({sel}[{rng}])")
    out += [
        'rate(http_requests_total{job="web",code="503"}[30s])',
        "sum by (route) (increase(http_requests_total[15m]))",
        "rate(up[5m])",
    ]
    return out


def _gauge_functions() -> list[Item]:
    out: list[Item] = []
    for fn in ("delta", "idelta", "deriv"):
        for sel in ("temperature_celsius", "memory_usage_bytes"):
            for rng in ("1m", "5m", "30m"):
                out.append(f"{fn}({sel}[{rng}])")
    out += [
        "predict_linear(temperature_celsius[10m], 600)",
        "predict_linear(memory_usage_bytes[30m], 3600)",
        "predict_linear(temperature_celsius[5m], -300)",
        "predict_linear(queue_depth[10m], 60)",
        "deriv(queue_depth[5m])",
        "delta(queue_depth[10m])",
        "idelta(queue_depth[2m])",
        "changes(queue_depth[10m])",
        "resets(queue_depth[10m])",
        "changes(up[1h])",
        "resets(temperature_celsius[30m])",
        "changes(temperature_celsius[5m])",
    ]
    return out


def _over_time() -> list[Item]:
    out: list[Item] = []
    for fn in ("avg", "min", "max", "sum", "count", "stddev", "stdvar", "last", "present"):
        for sel in ("temperature_celsius", "queue_depth"):
            for rng in ("5m", "30m"):
                out.append(f"{fn}_over_time({sel}[{rng}])")
    for q in ("0", "0.25", "0.5", "0.9", "1"):
        out.append(f"quantile_over_time({q}, temperature_celsius[10m])")
        out.append(f"quantile_over_time({q}, queue_depth[10m])")
    out += [
        "quantile_over_time(-0.5, temperature_celsius[10m])",
        "quantile_over_time(1.5, temperature_celsius[10m])",
        "avg_over_time(memory_usage_bytes[1h])",
        "sum_over_time(up[1h])",
        "count_over_time(http_requests_total[1m])",
        "max_over_time(process_cpu_seconds_total[10m])",
    ]
    return out


def _histograms() -> list[Item]:
    by_le = f"sum by (le) (rate({BUCKETS}[5m]))"
    return [
        f"histogram_quantile(0.5, {by_le})",
        f"histogram_quantile(0.9, sum by (le, route) (rate({BUCKETS}[5m])))",
        f"histogram_quantile(0.99, sum by (le, job) (rate({BUCKETS}[10m])))",
        f"histogram_quantile(0.95, sum by (le, job, instance) (rate({BUCKETS}[5m])))",
        f"histogram_quantile(0, {by_le})",
        f"histogram_quantile(1, {by_le})",
        f"histogram_quantile(-0.1, {by_le})",
        f"histogram_quantile(1.1, {by_le})",
        f'histogram_quantile(0.5, rate({BUCKETS}{{job="api"}}[5m]))',
        f"histogram_quantile(0.75, {BUCKETS})",
        f"histogram_quantile(0.9, sum without (instance) (rate({BUCKETS}[1h])))",
        f"histogram_quantile(0.5, sum by (le) (increase({BUCKETS}[30m])))",
        f'histogram_quantile(0.9, sum by (le) (rate({BUCKETS}{{route="/users"}}[5m])))',
        f'histogram_quantile(0.5, {BUCKETS}{{le!="+Inf"}})',
        f'histogram_quantile(0.5, sum by (le) (rate({BUCKETS}{{le=~"0.1|0.5|\\\\+Inf"}}[5m])))',
        f"histogram_quantile(0.8, sum by (le, job) (rate({BUCKETS}[2m])))",
        "sum by (route) (rate(http_request_duration_seconds_sum[5m])) / "
        "sum by (route) (rate(http_request_duration_seconds_count[5m]))",
        "rate(http_request_duration_seconds_count[5m])",
        f"histogram_quantile(scalar(vector(0.3)), {by_le})",
    ]


def _math() -> list[Item]:
    out: list[Item] = [
        f"{fn}(temperature_celsius)"
        for fn in (
            "abs",
            "ceil",
            "floor",
            "exp",
            "sqrt",
            "ln",
            "log2",
            "log10",
            "round",
            "sgn",
            "deg",
            "rad",
            "sin",
            "cos",
            "tan",
            "asin",
            "acos",
            "atan",
            "sinh",
            "cosh",
            "tanh",
            "asinh",
            "acosh",
            "atanh",
        )
    ]
    out += [
        "round(temperature_celsius, 0.5)",
        "round(temperature_celsius, 5)",
        "round(memory_usage_bytes, 1e6)",
        "clamp(temperature_celsius, -2, 2)",
        "clamp(temperature_celsius, 2, -2)",
        "clamp_min(temperature_celsius, 0)",
        "clamp_max(temperature_celsius, 0)",
        "clamp_max(queue_depth, 10)",
        "exp(memory_usage_bytes)",
        "ln(queue_depth)",
        "sqrt(rate(http_requests_total[5m]))",
        "abs(delta(temperature_celsius[10m]))",
        "pi()",
        "-temperature_celsius",
        "floor(rate(process_cpu_seconds_total[5m]) * 10)",
        "log2(memory_usage_bytes)",
    ]
    return out


def _absent() -> list[Item]:
    return [
        "absent(nonexistent_metric)",
        'absent(nonexistent_metric{job="api",instance="x"})',
        'absent(nonexistent_metric{job=~"api"})',
        "absent(http_requests_total)",
        'absent(http_requests_total{job="nope"})',
        "absent(sum(nonexistent_metric))",
        'absent(rate(nonexistent_metric{job="x"}[5m]))',
        'absent_over_time(nonexistent_metric{job="x"}[5m])',
        "absent_over_time(temperature_celsius[5m])",
        'absent_over_time(temperature_celsius{instance="10.0.1.3:8080"}[10m])',
        'absent(temperature_celsius{instance="10.0.1.4:8080"})',
        'absent(nonexistent_metric{job="a",job="b"})',
    ]


def _time() -> list[Item]:
    return [
        "time()",
        "time() - 3600",
        "timestamp(temperature_celsius)",
        "timestamp(temperature_celsius offset 5m)",
        "time() - timestamp(temperature_celsius)",
        'timestamp(rate(http_requests_total{job="web"}[5m]))',
        "vector(1)",
        "vector(time())",
        "scalar(sum(up))",
        "scalar(temperature_celsius)",
        'scalar(temperature_celsius{instance="10.0.1.1:8080"})',
        'vector(scalar(sum(up{job="web"})))',
        "temperature_celsius - scalar(avg(temperature_celsius))",
        "42",
        "-1.5",
        "2 ^ 10",
        '"a string"',
        "time() > bool 1700003000",
        "hour()",
        "minute(timestamp(temperature_celsius))",
        "day_of_week()",
        "day_of_month(vector(1700000000))",
        "day_of_year()",
        "days_in_month(vector(1709164800))",
        "month()",
        "year(timestamp(up))",
    ]


def _sort() -> list[Item]:
    exprs = [
        "sort(temperature_celsius)",
        "sort_desc(temperature_celsius)",
        'sort(rate(http_requests_total{job="api"}[5m]))',
        "sort_desc(sum by (route) (rate(http_requests_total[5m])))",
        "sort(queue_depth)",
        "sort_desc(queue_depth)",
        "sort(memory_usage_bytes)",
        "sort_desc(-temperature_celsius)",
    ]
    return [QueryCase(e, "", ordered=True) for e in exprs]


def _labels() -> list[Item]:
    return [
        'label_replace(temperature_celsius, "host", "$1", "instance", "(.*):.*")',
        'label_replace(temperature_celsius, "host", "$1", "instance", "nomatch(.*)")',
        'label_replace(temperature_celsius, "job", "", "job", ".*")',
        'label_replace(temperature_celsius, "instance", "x", "job", "api")',
        'label_replace(http_requests_total{job="web"}, "route_copy", "$0", "route", ".+")',
        'label_replace(rate(http_requests_total{job="web"}[5m]), "r", "$1-$2", "route", "/(s?)(.*)")',
        'label_replace(temperature_celsius, "__name__", "renamed_metric", "__name__", ".*")',
        'label_replace(up, "dst", "${1}x", "job", "(a)pi")',
        'label_replace(up, "dst", "$1", "nonexistent", "(.*)")',
        'label_join(temperature_celsius, "key", "/", "job", "instance")',
        'label_join(temperature_celsius, "key", "", "instance", "job")',
        'label_join(temperature_celsius, "job", "-", "job", "job")',
        'label_join(up, "empty", ",")',
        'label_join(sum by (job, route) (rate(http_requests_total[5m])), "jr", ":", "job", "route")',
    ]


def _aggregations() -> list[Item]:
    out: list[Item] = []
    for op in ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"):
        out += [
            f"{op}({RATE})",
            f"{op} by (job) ({RATE})",
            f"{op} without (instance, code) ({RATE})",
            f"{op} by (job) (queue_depth)",
            f"{op}(temperature_celsius)",
        ]
    out += [
        QueryCase(f"topk(3, {RATE})", "", ordered=True),
        QueryCase("bottomk(2, temperature_celsius)", "", ordered=True),
        f"topk by (job) (2, {RATE})",
        "bottomk without (instance) (1, http_requests_total)",
        "topk(0, temperature_celsius)",
        QueryCase("topk(100, up)", "", ordered=True),
        QueryCase("topk(2, queue_depth)", "", ordered=True),
        QueryCase("bottomk(3, queue_depth)", "", ordered=True),
        QueryCase("topk(scalar(count(up)) - 4, memory_usage_bytes)", "", ordered=True),
        "quantile(0.5, temperature_celsius)",
        f"quantile by (job) (0.9, {RATE})",
        "quantile(0, temperature_celsius)",
        "quantile(1, temperature_celsius)",
        "quantile(1.5, temperature_celsius)",
        "quantile(-1, temperature_celsius)",
        "quantile without (route) (0.25, queue_depth)",
        'count_values("value", up)',
        'count_values by (job) ("v", up)',
        'count_values("q", queue_depth)',
        'count_values without (instance) ("t", round(temperature_celsius))',
        'count_values("job", up)',
        "group by (version) (build_info)",
        "count by (job) (up == 1)",
        "sum(nonexistent_metric)",
        "count(nonexistent_metric)",
        "avg by (route) (queue_depth)",
        f"sum({RATE}) by (job)",
        "max without () (temperature_celsius)",
        "sum by () (memory_usage_bytes)",
        "count(count by (route) (http_requests_total))",
        "max by (job) (topk by (job) (1, memory_usage_bytes))",
        "avg(avg_over_time(temperature_celsius[10m]))",
        "stddev by (job, route) (queue_depth)",
    ]
    return out


def _binary() -> list[Item]:
    return [
        "temperature_celsius * 2",
        "2 - temperature_celsius",
        "temperature_celsius / 0",
        "temperature_celsius % 3",
        "temperature_celsius % -3",
        "temperature_celsius ^ 2",
        "2 ^ temperature_celsius",
        "queue_depth / 0",
        "memory_usage_bytes / 1024 / 1024",
        f"1 / {RATE}",
        "2 * 3 + 4 ^ 2 ^ 0.5",
        "-2 ^ 2",
        "temperature_celsius * -1 + 5",
        "(1 + 2) * 3 % 4",
        "rate(process_cpu_seconds_total[5m]) / memory_usage_bytes * 1e9",
        "http_requests_total / ignoring(code) group_left sum without (code) (http_requests_total)",
        f"sum by (job, instance) ({RATE}) / on(job, instance) group_left(version) build_info",
        f"build_info * on(job, instance) group_right(version) sum by (job, instance) ({RATE})",
        "temperature_celsius * on(instance) group_left(version) build_info",
        "http_requests_total * on(job, instance) group_left(version) build_info",
        'http_requests_total{job="api"} + on(route) queue_depth',
        "up + up",
        "up - ignoring(job) up",
        "temperature_celsius + queue_depth",
        "temperature_celsius - on(job, instance) group_left sum by (job, instance) (queue_depth)",
        "temperature_celsius atan2 on(job, instance) rate(process_cpu_seconds_total[5m])",
        f"{RATE} * 60 / ignoring(code) group_left sum without (code) ({RATE})",
        "queue_depth - on(job, instance, route) queue_depth offset 5m",
        "temperature_celsius > 0",
        "temperature_celsius > bool 0",
        "temperature_celsius == bool temperature_celsius",
        "queue_depth != 0",
        "queue_depth == bool queue_depth",
        "0 < temperature_celsius",
        "0 < bool temperature_celsius",
        "1 > bool 2",
        "up == 1",
        "memory_usage_bytes >= 5e8",
        "temperature_celsius <= -1",
        f"{RATE} > 1",
        f"sum by (job) ({RATE}) > bool 10",
        "temperature_celsius > on(job) group_left avg by (job) (temperature_celsius)",
        "temperature_celsius != bool on(job, instance) temperature_celsius offset 1m",
        "up and temperature_celsius",
        'up and on(job) temperature_celsius{instance="10.0.2.1:80"}',
        "temperature_celsius or queue_depth",
        "temperature_celsius unless on(instance) (up == 0)",
        "queue_depth unless queue_depth > 10",
        'http_requests_total{code="500"} or ignoring(code) http_requests_total{code="200"}',
        "up or vector(0)",
        'sum(up{job="nope"}) or vector(0)',
        "temperature_celsius and ignoring(job) up",
        "(temperature_celsius > 0) or (temperature_celsius < -5)",
        "up unless ignoring(job, instance) vector(1)",
        f"{RATE} and on(instance) (up == 1)",
    ]


def _subqueries() -> list[Item]:
    return [
        'max_over_time(rate(http_requests_total{job="web"}[5m])[30m:1m])',
        "avg_over_time(temperature_celsius[10m:])",
        "min_over_time(sum by (job) (rate(http_requests_total[5m]))[1h:5m])",
        'rate(http_requests_total{job="web",code="200"}[5m:30s])',
        "deriv(temperature_celsius[10m:15s])",
        "quantile_over_time(0.9, queue_depth[30m:1m])",
        "max_over_time(temperature_celsius[20m:2m] offset 10m)",
        f"sum_over_time(up[1h:10m] @ {AT})",
        "count_over_time(temperature_celsius[15m:1m])",
        "last_over_time(rate(process_cpu_seconds_total[1m])[5m:1m])",
        "stddev_over_time(memory_usage_bytes[30m:90s])",
        # Inner ranges keep their points off their windows' edges: see exclusions.py.
        "max_over_time(max_over_time(temperature_celsius[270s:1m])[20m:5m])",
        'min_over_time(rate(http_requests_total{job="web"}[290s:20s])[10m:1m])',
        "changes(up[1h:1m])",
        "absent_over_time(nonexistent_metric[5m:1m])",
        f"max_over_time(histogram_quantile(0.9, sum by (le) (rate({BUCKETS}[5m])))[30m:5m])",
        "temperature_celsius[5m:1m]",
        "increase(process_cpu_seconds_total[10m:1m])",
    ]


def _nested() -> list[Item]:
    return [
        'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))',
        "100 * (1 - avg by (instance) (rate(process_cpu_seconds_total[5m])))",
        f"round({RATE} * 100) / 100",
        f"clamp_max(sum by (route) ({RATE}), 10)",
        f"(sum by (job) ({RATE}) > 5) * 2",
        "abs(deriv(memory_usage_bytes[10m])) > 1000",
        f"sum by (job) ({RATE}) / scalar(sum({RATE}))",
        'avg by (job) (queue_depth{route!="/health"}) + on(job) group_left sum by (job) (up)',
        "sum(sum_over_time(up[10m])) / sum(count_over_time(up[10m]))",
        'label_replace(sum by (route) (rate(http_requests_total[5m])), "path", "$1", "route", "/(.*)")',
        "max(min_over_time(temperature_celsius[30m]) < -2) or vector(-100)",
    ]


def _errors() -> list[Item]:
    """Both sides must refuse these (the message may differ)."""
    return [
        "sum(",
        "rate(temperature_celsius)",
        'topk("a", up)',
        'label_replace(up, "", "x", "job", ".*")',
        'label_replace(up, "dst", "x", "job", "(")',
        "http_requests_total[5m] + 1",
        "nonexistent_function(up)",
        "sum(up) by (job) by (instance)",
        "1 < 2",
        "double_exponential_smoothing(temperature_celsius[10m], 0.5, 0.5)",
    ]


def _version_differences() -> list[Item]:
    """Queries whose answer depends on the Prometheus version: excluded from the
    agreement rate, still evaluated and listed (see :mod:`.exclusions`)."""
    return [
        "holt_winters(temperature_celsius[10m], 0.5, 0.5)",
        "temperature_celsius atan2 1",
        "memory_usage_bytes atan2 (2 * 1e8)",
        'label_replace(up, "1bad", "x", "job", ".*")',
    ]


RANDOM_SEED = 4242
RANDOM_QUERIES = 150

_COUNTER_SELECTORS = [
    "http_requests_total",
    'http_requests_total{job="api"}',
    'http_requests_total{code=~"2..|5.."}',
    'http_requests_total{route!="/health"}',
    "process_cpu_seconds_total",
    r'process_cpu_seconds_total{instance=~"10\\.0\\.1\\..*"}',
    "http_request_duration_seconds_count",
]
_GAUGE_SELECTORS = [
    "temperature_celsius",
    'temperature_celsius{job="web"}',
    "queue_depth",
    'queue_depth{route=~"/users|/"}',
    "memory_usage_bytes",
    "up",
]
_GAUGE_FUNCTIONS = [
    *("delta", "idelta", "deriv", "changes", "quantile_over_time"),
    *(f"{fn}_over_time" for fn in ("avg", "min", "max", "sum", "count", "stddev", "last")),
]
_RANGES = ["30s", "1m", "2m", "5m", "7m", "10m", "30m", "1h"]
_LABELS = ["job", "instance", "route", "code"]
_AGGREGATIONS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]


def _random(seed: int) -> list[Item]:
    """Seeded random compositions of the same building blocks, to find what the
    hand-written cases do not think of. Only single-level subqueries, whole-second
    ranges and offsets, ``@`` times ending in ``.500`` (the window edges, see
    exclusions.py), and no ``atan2``."""
    rng = random.Random(seed)
    return [_random_expr(rng, depth=0) for _ in range(RANDOM_QUERIES)]


_KINDS = ["counter", "counter", "gauge", "gauge", "aggregate", "aggregate", "binary", "math", "subquery"]
_KINDS += ["histogram", "rank", "labels", "misc"]
_LEAVES = ("counter", "gauge")


def _random_expr(rng: random.Random, depth: int) -> str:
    kind = rng.choice(_KINDS)
    if depth >= 2 and kind not in _LEAVES:
        kind = rng.choice(_LEAVES)
    if kind in ("histogram", "rank", "labels", "misc"):
        return _random_more(rng, kind, depth)
    if kind == "counter":
        fn = rng.choice(["rate", "irate", "increase", "resets", "changes"])
        offset = rng.choice(["", "", "", " offset 5m", " offset 1h"])
        return f"{fn}({rng.choice(_COUNTER_SELECTORS)}[{rng.choice(_RANGES)}]{offset})"
    if kind == "gauge":
        selector = rng.choice(_GAUGE_SELECTORS)
        if rng.random() < 0.3:
            return selector
        fn = rng.choice(_GAUGE_FUNCTIONS)
        window = f"{selector}[{rng.choice(_RANGES)}]"
        if fn == "quantile_over_time":
            return f"{fn}({rng.choice(['0.1', '0.5', '0.95'])}, {window})"
        return f"{fn}({window})"
    if kind == "aggregate":
        op = rng.choice(_AGGREGATIONS)
        inner = _random_expr(rng, depth + 1)
        labels = ", ".join(rng.sample(_LABELS, rng.randint(1, 2)))
        modifier = rng.choice(["", f" by ({labels})", f" without ({labels})"])
        return f"{op}{modifier} ({inner})"
    if kind == "binary":
        left = _random_expr(rng, depth + 1)
        op = rng.choice(["+", "-", "*", "/", "%", ">", "<", "> bool", "== bool", "and", "or", "unless"])
        if rng.random() < 0.5:
            return f"{left} {op} {rng.choice(['0', '1', '2.5', '-3', '100'])}"
        right = _random_expr(rng, depth + 1)
        matching = rng.choice(["", " on(job, instance)", " ignoring(code)", " on(job)"])
        if op in ("and", "or", "unless"):
            return f"({left}) {op}{matching} ({right})"
        return f"sum by (job, instance) ({left}) {op} on(job, instance) sum by (job, instance) ({right})"
    if kind == "math":
        fn = rng.choice(["abs", "ceil", "floor", "sqrt", "exp", "ln", "round", "sgn", "clamp_min", "clamp_max"])
        inner = _random_expr(rng, depth + 1)
        if fn in ("clamp_min", "clamp_max"):
            return f"{fn}({inner}, {rng.choice(['0', '1', '-2'])})"
        return f"{fn}({inner})"
    inner = rng.choice([f"rate({rng.choice(_COUNTER_SELECTORS)}[5m])", rng.choice(_GAUGE_SELECTORS)])
    fn = rng.choice(["max_over_time", "min_over_time", "avg_over_time", "count_over_time", "last_over_time"])
    return f"{fn}(({inner})[{rng.choice(['10m', '30m', '1h'])}:{rng.choice(['', '1m', '2m', '5m'])}])"


def _random_more(rng: random.Random, kind: str, depth: int) -> str:
    if kind == "histogram":
        by = rng.choice(["le", "le, job", "le, route", "le, instance"])
        q = rng.choice(["0", "0.25", "0.5", "0.9", "0.99", "1"])
        sel = rng.choice([BUCKETS, f'{BUCKETS}{{job="api"}}', f'{BUCKETS}{{route!="/"}}'])
        return f"histogram_quantile({q}, sum by ({by}) (rate({sel}[{rng.choice(_RANGES)}])))"
    if kind == "rank":
        op = rng.choice(["topk", "bottomk"])
        k = rng.choice(["1", "2", "3", "10"])
        grouping = rng.choice(["", " by (job)", " without (route)"])
        inner = _random_expr(rng, depth + 1)
        if rng.random() < 0.3:
            return f'count_values{grouping} ("value", round({inner}))'
        if rng.random() < 0.3:
            return f"quantile{grouping} ({rng.choice(['0.1', '0.5', '0.9'])}, {inner})"
        return f"{op}{grouping} ({k}, {inner})"
    if kind == "labels":
        inner = _random_expr(rng, depth + 1)
        if rng.random() < 0.5:
            src, regex = rng.choice([("instance", "(.*):(.*)"), ("route", "/(.*)"), ("job", "(a|w).*")])
            return f'label_replace({inner}, "{rng.choice(["dst", "job", "route"])}", "$1", "{src}", "{regex}")'
        return f'label_join({inner}, "{rng.choice(["joined", "instance"])}", "-", "job", "route")'
    # misc: time functions, absent, modifiers on selectors, predict_linear
    selector = rng.choice(_GAUGE_SELECTORS)
    return rng.choice(
        [
            f"timestamp({selector})",
            f"absent({selector})",
            f"absent_over_time({selector}[{rng.choice(_RANGES)}])",
            f"present_over_time({selector}[{rng.choice(_RANGES)}])",
            f"{selector} offset {rng.choice(['1m', '10m', '-5m', '1h'])}",
            f"{selector} @ {AT}",
            f"predict_linear({selector}[{rng.choice(_RANGES)}], {rng.choice(['60', '600', '-300'])})",
            f"{selector} - {selector} offset {rng.choice(['1m', '5m', '30m'])}",
            f"time() - timestamp({selector})",
        ]
    )


_GROUPS = {
    "selector": _selectors,
    "range-selector": _range_selectors,
    "offset-at": _offset_at,
    "counter-fn": _counter_functions,
    "gauge-fn": _gauge_functions,
    "over-time": _over_time,
    "histogram": _histograms,
    "math": _math,
    "absent": _absent,
    "time": _time,
    "sort": _sort,
    "labels": _labels,
    "aggregation": _aggregations,
    "binary": _binary,
    "subquery": _subqueries,
    "nested": _nested,
    "error": _errors,
    "version": _version_differences,
}
