"""A seeded, reproducible data set that exercises PromQL's edge cases, and its
OpenMetrics file.

Three hours of 15-second scrapes from two jobs (``api``: 4 instances, ``web``: 2),
with ``route`` and ``code`` dimensions:

* counters ``http_requests_total`` (integer increments) and
  ``process_cpu_seconds_total`` (float increments), both with counter resets;
* a classic histogram ``http_request_duration_seconds`` (``_bucket`` with ``le``,
  ``_sum``, ``_count``), its buckets resetting together;
* gauges ``temperature_celsius`` (a random walk through negative values),
  ``queue_depth`` (integers with occasional NaN), ``memory_usage_bytes`` (around 1e9),
  ``up`` (mostly 1) and ``build_info`` (constant 1, a ``version`` label to join on);
* missing scrapes: short gaps, and a few longer than the 5-minute lookback;
* ``api`` instance 3 stops at 55 % of the range (its series go stale after the lookback)
  and instance 4 starts at 45 %.

**Timestamps avoid the window edges.** Prometheus 2.x selects ``[t - range, t]`` for a
range and ``[t - 5m, t]`` for the lookback; Prometheus 3 (and scalepilot's engine)
``(t - range, t]``. The two differ only for a sample exactly on the left edge. Every
evaluation time in the corpus is a whole second plus 500 ms, every range, offset,
lookback and subquery step a whole number of seconds, so window edges fall on
``.000`` or ``.500``; no sample timestamp here has a millisecond part of 0 or 500,
so no sample is ever on an edge and both versions must agree. (A subquery's points are
at multiples of its step, ``.000``; evaluation times at ``.500`` keep them off the outer
window's edge too.)

**rate's zero point.** ``rate``/``increase`` shorten the extrapolation towards the
window's start so that the counter does not go below zero. Prometheus 2.42 applies that
limit *before* deciding whether the series starts inside the window (first sample more
than 1.1 average intervals after the window's start: extrapolate half an interval);
Prometheus since 2.51 (prometheus/prometheus#13725), and so 3.x and scalepilot, apply it
*after*. The two differ only when a counter's series starts inside the window and its
extrapolated zero point lies between 0.5 and 1.1 average intervals before its first
sample, i.e. when the first value is about one interval's increase. Counters here start
either at exactly zero (the zero point is the first sample: both agree) or far above
what they gain in any window (5,000 to 1,000,000: the zero point lies far before the
window, both extrapolate half an interval), and a counter reset is scraped at exactly
zero; so no window meets the condition. The instance that starts late never starts at
zero: ``rate`` over a subquery sees its first points at whole minutes, after a few
increments, which would meet it. A guard test checks every window over the raw samples,
and over the points of every subquery the corpus takes ``rate``/``increase`` of from the
earliest time it does so (a counter that starts at zero with the data would meet the
condition in a subquery window reaching back before the data).

Timestamps are also chosen so that Prometheus's OpenMetrics parser, which computes
``int64(seconds * 1000)`` in float64, and scalepilot's exact decimal conversion give the
same millisecond (they do for every value here; the check guards the assumption).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_MS = 1_700_000_000_000
"""2023-11-14T22:13:20Z, a fixed origin so every run sees the same data."""
SCRAPE_MS = 15_000
DURATION_MS = 3 * 3600_000
DEFAULT_SEED = 20240601

Labels = tuple[tuple[str, str], ...]
_ValuesOf = Callable[[random.Random, int], list[float]]


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    """The sample name, e.g. ``http_requests_total``."""
    labels: Labels
    """Without ``__name__``, in the order written."""
    timestamps: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    type: str
    help: str
    metrics: list[list[Series]]
    """Each metric's series, which share timestamps (one series, or a histogram's
    buckets, count and sum)."""


@dataclass(frozen=True, slots=True)
class Dataset:
    seed: int
    start_ms: int
    end_ms: int
    families: list[Family]

    def series(self) -> Iterator[Series]:
        for family in self.families:
            for metric in family.metrics:
                yield from metric

    @property
    def sample_count(self) -> int:
        return sum(len(s.timestamps) for s in self.series())


API_INSTANCES = ["10.0.1.1:8080", "10.0.1.2:8080", "10.0.1.3:8080", "10.0.1.4:8080"]
WEB_INSTANCES = ["10.0.2.1:80", "10.0.2.2:80"]
ENDING_INSTANCE = "10.0.1.3:8080"
LATE_INSTANCE = "10.0.1.4:8080"
ROUTES = {"api": ["/users", "/orders", "/health"], "web": ["/", "/static"]}
CODES = {"api": ["200", "404", "500"], "web": ["200", "503"]}
HISTOGRAM_ROUTES = {"api": ["/users", "/orders"], "web": ["/"]}
BUCKETS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
VERSIONS = {"api": "1.4.2", "web": "2.0.0"}
STEPS = DURATION_MS // SCRAPE_MS


def instances() -> Iterator[tuple[str, str]]:
    for instance in API_INSTANCES:
        yield "api", instance
    for instance in WEB_INSTANCES:
        yield "web", instance


def generate(seed: int = DEFAULT_SEED) -> Dataset:
    rng = random.Random(seed)
    families = [
        _counter_family(rng),
        _cpu_family(rng),
        _histogram_family(rng),
        _gauge_family(rng, "temperature_celsius", "Temperature, negative in winter.", _temperature),
        _queue_family(rng),
        _gauge_family(rng, "memory_usage_bytes", "Resident memory.", _memory),
        _gauge_family(rng, "up", "Whether the last scrape succeeded.", _up),
        _build_info_family(rng),
    ]
    return Dataset(seed, BASE_MS, BASE_MS + DURATION_MS, families)


# --- time grids ------------------------------------------------------------------------


def _grid(rng: random.Random, instance: str) -> list[int]:
    """One metric's scrape times: a per-metric phase, jitter, gaps, a late start or an
    early end for the instances that have one."""
    phase = rng.randrange(1, SCRAPE_MS)
    first, last = 0, STEPS
    if instance == ENDING_INSTANCE:
        last = int(STEPS * 0.55)
    if instance == LATE_INSTANCE:
        first = int(STEPS * 0.45)
    missing: set[int] = set()
    for _ in range(rng.randrange(0, 4)):  # short gaps: 1-8 missed scrapes
        at = rng.randrange(first, last)
        missing.update(range(at, at + rng.randrange(1, 9)))
    if rng.random() < 0.3:  # a gap longer than the lookback: 6-12 minutes
        at = rng.randrange(first, last)
        missing.update(range(at, at + rng.randrange(24, 49)))
    stamps = []
    for k in range(first, last):
        if k in missing:
            continue
        stamps.append(_safe(BASE_MS + k * SCRAPE_MS + phase + rng.randrange(-300, 300)))
    return stamps


def _safe(ms: int) -> int:
    """The nearest timestamp at or after ``ms`` that is off every window edge (its
    millisecond part neither 0 nor 500) and that both parsers read alike."""
    while ms % 500 == 0 or int(float(f"{ms // 1000}.{ms % 1000:03d}") * 1000) != ms:
        ms += 1
    return ms


# --- families ----------------------------------------------------------------------------


def _counter_family(rng: random.Random) -> Family:
    metrics = []
    for job, instance in instances():
        for route in ROUTES[job]:
            for code in CODES[job]:
                per_second = {"200": rng.uniform(2, 20), "404": rng.uniform(0.1, 1.5)}.get(code, rng.uniform(0, 0.5))
                stamps = _grid(rng, instance)
                values = _counter(
                    rng, len(stamps), per_second * SCRAPE_MS / 1000, integer=True, late=instance == LATE_INSTANCE
                )
                labels = (("job", job), ("instance", instance), ("route", route), ("code", code))
                metrics.append([Series("http_requests_total", labels, stamps, values)])
    return Family("http_requests", "counter", "Requests served.", metrics)


def _cpu_family(rng: random.Random) -> Family:
    metrics = []
    for job, instance in instances():
        stamps = _grid(rng, instance)
        values = _counter(rng, len(stamps), rng.uniform(0.5, 6.0), integer=False, late=instance == LATE_INSTANCE)
        metrics.append([Series("process_cpu_seconds_total", (("job", job), ("instance", instance)), stamps, values)])
    return Family("process_cpu_seconds", "counter", "CPU time used.", metrics)


def _counter(rng: random.Random, n: int, mean_increment: float, *, integer: bool, late: bool) -> list[float]:
    values = []
    # Large or exactly zero at the start (never zero for a series that starts inside the
    # data): see "rate's zero point" in the module docstring.
    value = rng.uniform(5_000, 1_000_000) if rng.random() < 0.7 else 0.0
    if late and value == 0.0:
        value = 5_000.0
    if integer:
        value = float(round(value))
    for _ in range(n):
        if rng.random() < 0.004:  # a restart, scraped before its first request: exactly zero
            value = 0.0
        values.append(value)
        step = max(0.0, rng.gauss(mean_increment, math.sqrt(mean_increment + 0.01)))
        value += float(round(step)) if integer else round(step, 3)
    return values


def _histogram_family(rng: random.Random) -> Family:
    metrics = []
    for job, instance in instances():
        for route in HISTOGRAM_ROUTES[job]:
            stamps = _grid(rng, instance)
            per_scrape = rng.uniform(5, 60)
            median = rng.uniform(0.05, 0.6)
            counts = [0] * (len(BUCKETS) + 1)
            total = 0.0
            if instance == LATE_INSTANCE:  # it has served before: see "rate's zero point"
                for _ in range(500):
                    total += _observe(rng, counts, per_scrape, median)
            bucket_values: list[list[float]] = [[] for _ in counts]
            sums: list[float] = []
            for _ in stamps:
                if rng.random() < 0.004:  # a restart, scraped before its first request
                    counts = [0] * len(counts)
                    total = 0.0
                for i, count in enumerate(counts):
                    bucket_values[i].append(float(count))
                sums.append(round(total, 6))
                total += _observe(rng, counts, per_scrape, median)
            base: Labels = (("job", job), ("instance", instance), ("route", route))
            metric = [
                Series("http_request_duration_seconds_bucket", (*base, ("le", _le(bound))), stamps, bucket_values[i])
                for i, bound in enumerate([*BUCKETS, math.inf])
            ]
            metric.append(Series("http_request_duration_seconds_count", base, stamps, bucket_values[-1]))
            metric.append(Series("http_request_duration_seconds_sum", base, stamps, sums))
            metrics.append(metric)
    return Family("http_request_duration_seconds", "histogram", "Request latency.", metrics)


def _observe(rng: random.Random, counts: list[int], per_scrape: float, median: float) -> float:
    """One scrape interval's requests into the cumulative bucket ``counts``; returns the
    latency they add to the sum."""
    added = 0.0
    for _ in range(max(0, round(rng.gauss(per_scrape, math.sqrt(per_scrape))))):
        latency = rng.lognormvariate(math.log(median), 0.8)
        added += latency
        for i, bound in enumerate(BUCKETS):
            if latency <= bound:
                counts[i] += 1
        counts[-1] += 1
    return added


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def _gauge_family(rng: random.Random, name: str, text: str, values_of: _ValuesOf) -> Family:
    metrics = []
    for job, instance in instances():
        stamps = _grid(rng, instance)
        metrics.append([Series(name, (("job", job), ("instance", instance)), stamps, values_of(rng, len(stamps)))])
    return Family(name, "gauge", text, metrics)


def _temperature(rng: random.Random, n: int) -> list[float]:
    value, out = rng.uniform(-10, 10), []
    for _ in range(n):
        value += rng.gauss(0, 0.7)
        out.append(round(value, 2))
    return out


def _memory(rng: random.Random, n: int) -> list[float]:
    value, out = rng.uniform(2e8, 9e8), []
    for _ in range(n):
        value = max(1e8, value + rng.gauss(0, 5e6))
        out.append(float(round(value)))
    return out


def _up(rng: random.Random, n: int) -> list[float]:
    return [0.0 if rng.random() < 0.03 else 1.0 for _ in range(n)]


def _queue_family(rng: random.Random) -> Family:
    metrics = []
    for job, instance in instances():
        for route in ROUTES[job]:
            stamps = _grid(rng, instance)
            values = [math.nan if rng.random() < 0.02 else float(rng.randrange(0, 50)) for _ in stamps]
            labels = (("job", job), ("instance", instance), ("route", route))
            metrics.append([Series("queue_depth", labels, stamps, values)])
    return Family("queue_depth", "gauge", "Requests waiting; NaN when unknown.", metrics)


def _build_info_family(rng: random.Random) -> Family:
    metrics = []
    for job, instance in instances():
        stamps = _grid(rng, instance)
        labels = (("job", job), ("instance", instance), ("version", VERSIONS[job]))
        metrics.append([Series("build_info", labels, stamps, [1.0] * len(stamps))])
    return Family("build_info", "gauge", "Version of the running build.", metrics)


# --- OpenMetrics -------------------------------------------------------------------------


def write_openmetrics(dataset: Dataset, path: Path) -> int:
    """Write the data set as OpenMetrics with a timestamp on every sample (what promtool
    and ``scalepilot import`` read); returns the number of sample lines."""
    lines = 0
    with path.open("w", encoding="utf-8") as f:
        for family in dataset.families:
            f.write(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.type}\n")
            for metric in family.metrics:
                prefixes = [_prefix(s) for s in metric]
                for j, ts in enumerate(metric[0].timestamps):
                    stamp = f"{ts // 1000}.{ts % 1000:03d}"
                    for s, prefix in zip(metric, prefixes, strict=True):
                        f.write(f"{prefix} {format_value(s.values[j])} {stamp}\n")
                    lines += len(metric)
        f.write("# EOF\n")
    return lines


def _prefix(s: Series) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in s.labels)
    return f"{s.name}{{{inner}}}" if inner else s.name


def format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)
