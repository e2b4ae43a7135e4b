"""Parse speed: scalepilot's exposition parser against prometheus_client's, same run.

The page is what a busy service exposes: request counters by route, method, code and
backend instance (4 labels), latency histograms (12 buckets) by route, method and
instance (3 labels plus le), and connection gauges by instance, zone and pool (3
labels); about 55% of the lines are histogram lines, 30% counters, 15% gauges. It is
generated with a fixed seed, 10,000 series by default.

Both parsers get the page as ``str`` and are fully consumed (every sample of every
family is visited). Rounds alternate between the two parsers so machine noise hits
both alike, and the best round of each is reported. Nothing is cached across calls.

    .venv/bin/python bench/bench_parser.py            # 10,000 series, 9 rounds
    .venv/bin/python bench/bench_parser.py --quick    # 2,000 series, 3 rounds
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as pc_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as pc_text

from scalepilot.adapters.scrape.parser import ExpositionFormat, parse

ROUTES = [
    "/",
    "/login",
    "/logout",
    "/api/v1/users",
    "/api/v1/users/{id}",
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/items",
    "/api/v1/search",
    "/api/v2/cart",
    "/healthz",
    "/static/*",
]
METHODS = ["GET", "POST", "PUT", "DELETE"]
CODES = ["200", "201", "204", "304", "400", "401", "404", "429", "500", "503"]
INSTANCES = [f"10.0.{k // 4}.{10 + k}:8080" for k in range(8)]
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"]
SUBSYSTEMS = ["http", "grpc", "db", "cache", "queue", "auth", "search", "billing"]


Block = tuple[str, list[str]]
"""A family's kind (histogram, counter, gauge) and its lines."""


def generate(series: int, *, openmetrics: bool, seed: int = 42) -> str:
    """A page with exactly ``series`` sample lines."""
    return render(blocks(series, openmetrics=openmetrics, seed=seed), openmetrics=openmetrics)


def render(families: list[Block], *, openmetrics: bool) -> str:
    lines = [line for _, block in families for line in block]
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def blocks(series: int, *, openmetrics: bool, seed: int = 42) -> list[Block]:
    rnd = random.Random(seed)
    families: list[Block] = []
    left = series
    family = 0
    while left > 0:
        out: list[str] = []
        sub = SUBSYSTEMS[family % len(SUBSYSTEMS)]
        kind = "HCHGCG"[family % 6]  # histogram, counter or gauge families, in turn
        prefix = f"app_{sub}_{family}"
        if kind == "H":
            name = f"{prefix}_request_duration_seconds"
            out += [f"# HELP {name} Time spent serving requests.", f"# TYPE {name} histogram"]
            used: set[str] = set()
            for _ in range(15):
                if len(used) == 12 or left < len(BUCKETS) + 3:
                    break
                labels = (
                    f'route="{rnd.choice(ROUTES)}",method="{rnd.choice(METHODS)}",instance="{rnd.choice(INSTANCES)}"'
                )
                if labels in used:
                    continue  # each series once
                used.add(labels)
                count = 0
                for le in [*BUCKETS, "+Inf"]:
                    count += rnd.randint(0, 500)
                    out.append(f'{name}_bucket{{{labels},le="{le}"}} {count}')
                out.append(f"{name}_sum{{{labels}}} {rnd.uniform(0, count):.6f}")
                out.append(f"{name}_count{{{labels}}} {count}")
                left -= len(BUCKETS) + 3
        elif kind == "C":
            name = f"{prefix}_requests"
            total = f"{name}_total"
            declared = name if openmetrics else total  # OpenMetrics names the family sans _total
            out += [f"# HELP {declared} Requests served.", f"# TYPE {declared} counter"]
            combos = {
                (rnd.choice(ROUTES), rnd.choice(METHODS), rnd.choice(CODES), rnd.choice(INSTANCES)) for _ in range(120)
            }
            for route, method, code, instance in sorted(combos)[: min(left, 100)]:
                out.append(
                    f'{total}{{route="{route}",method="{method}",code="{code}",'
                    f'instance="{instance}"}} {rnd.randint(0, 10**7)}'
                )
                left -= 1
        else:
            name = f"{prefix}_connections"
            out += [f"# HELP {name} Open connections.", f"# TYPE {name} gauge"]
            for instance in INSTANCES:
                for zone in ("eu-1", "eu-2"):
                    for pool in ("primary", "replica", "batch"):
                        if left <= 0:
                            break
                        value = rnd.uniform(0, 64)
                        out.append(f'{name}{{instance="{instance}",zone="{zone}",pool="{pool}"}} {value!r}')
                        left -= 1
        families.append(({"H": "histogram", "C": "counter", "G": "gauge"}[kind], out))
        family += 1
        if 0 < left < len(BUCKETS) + 3:
            name = f"app_up_{family}"
            families.append(("gauge", [f"# TYPE {name} gauge", *(f'{name}{{n="{k}"}} 1' for k in range(left))]))
            left = 0
    return families


def scalepilot_parser(fmt: ExpositionFormat) -> Callable[[str], int]:
    def run(page: str) -> int:
        return sum(1 for _ in parse(page, fmt).samples())

    return run


def prometheus_client_parser(openmetrics: bool) -> Callable[[str], int]:
    families = pc_openmetrics if openmetrics else pc_text

    def run(page: str) -> int:
        return sum(len(family.samples) for family in families(page))

    return run


def best_rates(page: str, contenders: dict[str, Callable[[str], int]], rounds: int) -> dict[str, float]:
    best = dict.fromkeys(contenders, float("inf"))
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, run in contenders.items():
            gc.collect()
            started = time.perf_counter()
            counts[name] = run(page)
            best[name] = min(best[name], time.perf_counter() - started)
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the parsers disagree on the number of samples: {counts}")
    return {name: counts[name] / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 series and 3 rounds")
    parser.add_argument("--series", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--by-kind", action="store_true", help="also time each kind of family on its own")
    args = parser.parse_args()
    series = args.series or (2_000 if args.quick else 10_000)
    rounds = args.rounds or (3 if args.quick else 9)

    print(f"page: {series:,} series, best of {rounds} rounds, Python {sys.version.split()[0]}")
    print(f"{'format':<12} {'scalepilot':>22} | {'prometheus_client':>22} | ratio")
    for fmt, openmetrics in ((ExpositionFormat.TEXT, False), (ExpositionFormat.OPENMETRICS, True)):
        page = generate(series, openmetrics=openmetrics)
        rates = best_rates(
            page,
            {
                "scalepilot": scalepilot_parser(fmt),
                "prometheus_client": prometheus_client_parser(openmetrics),
            },
            rounds,
        )
        report(fmt.value, rates)
        if args.by_kind:
            families = blocks(series, openmetrics=openmetrics)
            for kind in ("histogram", "counter", "gauge"):
                part = render([b for b in families if b[0] == kind], openmetrics=openmetrics)
                contenders = {
                    "scalepilot": scalepilot_parser(fmt),
                    "prometheus_client": prometheus_client_parser(openmetrics),
                }
                report(f"  {kind}s", best_rates(part, contenders, rounds))


def report(label: str, rates: dict[str, float]) -> None:
    ours, theirs = rates["scalepilot"], rates["prometheus_client"]
    print(f"{label:<12} {ours:>12,.0f} samples/s | {theirs:>12,.0f} samples/s | {ours / theirs:5.1f}")


if __name__ == "__main__":
    main()
