"""Query speed of scalepilot's PromQL engine against a real Prometheus, same data, same run.

``sum by (route) (rate(http_requests_total[5m]))`` over 1,000 counter series (20 routes
x 50 instances, a 15 s scrape interval, 3 hours, counter resets now and then), as an
instant query and as a 1-hour range query at a 15 s step (241 steps):

* **scalepilot**: ``Engine`` over a real ``SQLiteStore`` holding the samples, imported
  with ``scalepilot import``'s importer and compacted into chunks; timed in process,
  the engine alone and the engine plus ``to_prometheus_data`` and ``json.dumps`` (what
  the HTTP API adds before the socket; the ratio uses this one);
* **reference**: Debian's Prometheus (2.42) over blocks made from the same OpenMetrics
  file by ``promtool tsdb create-blocks-from openmetrics``, timed through its HTTP API
  on loopback (request to last byte, keep-alive, the JSON not decoded).

One warm-up each, then ``--repeat`` rounds that run the three timings in turns (so that
load from elsewhere on the machine hits them alike) and the median of each; the ratio is
scalepilot (with JSON) / Prometheus (the goal: within 3x). Both answers are compared as in the conformance test
(label sets exact, values to 1e-9) and any difference is printed.

    .venv/bin/python bench/bench_query.py                 # 1,000 series, 3 h, 7 runs
    .venv/bin/python bench/bench_query.py --quick         # 200 series, 2 h, 3 runs
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.integration.conformance

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tests.integration.conformance.compare import compare
from tests.integration.conformance.harness import PrometheusSide, ScalepilotSide, seconds

QUERY = "sum by (route) (rate(http_requests_total[5m]))"
BASE_MS = 1_700_000_000_000
SCRAPE_MS = 15_000
console = Console(stderr=True)


def write_data(path: Path, routes: int, instances: int, hours: float, seed: int = 1) -> tuple[int, int]:
    """The counters as OpenMetrics; returns (samples, end of data in ms)."""
    rng = random.Random(seed)
    steps = int(hours * 3600_000 / SCRAPE_MS)
    samples = 0
    with path.open("w") as f:
        f.write("# HELP http_requests Requests served.\n# TYPE http_requests counter\n")
        for r in range(routes):
            for i in range(instances):
                labels = f'job="bench",instance="10.0.{i // 250}.{i % 250}:8080",route="/r{r:02d}"'
                prefix = f"http_requests_total{{{labels}}}"
                rate = rng.uniform(0.5, 30)
                phase = rng.randrange(1, SCRAPE_MS)
                value = rng.randrange(0, 10_000)
                lines = []
                for k in range(steps):
                    if rng.random() < 0.0005:
                        value = 0
                    value += int(rate * 15 + rng.uniform(-rate, rate) * 3)
                    ms = BASE_MS + k * SCRAPE_MS + phase
                    if ms % 500 == 0:  # off the window edges of .000/.500 evaluation times
                        ms += 1
                    lines.append(f"{prefix} {max(value, 0)} {ms // 1000}.{ms % 1000:03d}\n")
                f.writelines(lines)
                samples += steps
        f.write("# EOF\n")
    return samples, BASE_MS + steps * SCRAPE_MS


def timed(fns: list[Callable[[], object]], repeat: int, progress: Progress, description: str) -> list[list[float]]:
    """The times of each function, run in turns (one of each per round, after a
    warm-up of each) so that load from elsewhere on the machine hits all alike."""
    task = progress.add_task(description, total=repeat)
    for fn in fns:
        fn()
    runs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, runs, strict=True):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        progress.advance(task)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 series, 2 hours, 3 runs")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    parser.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    args = parser.parse_args()
    routes, instances, hours = (20, 10, 2.0) if args.quick else (20, 50, 3.0)
    repeat = args.repeat or (3 if args.quick else 7)

    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        work = Path(tmp)
        om_file = work / "data.om"
        with console.status("writing the data set"):
            samples, end_ms = write_data(om_file, routes, instances, hours)
        console.print(
            f"{routes * instances:,} series, {samples:,} samples, {om_file.stat().st_size / 1e6:.0f} MB of OpenMetrics",
            highlight=False,
        )
        prom = PrometheusSide(args.prometheus, args.promtool, work)
        ours: ScalepilotSide | None = None
        try:
            with console.status("promtool: creating blocks; starting Prometheus"):
                t0 = time.perf_counter()
                prom.load(om_file)
                prom.start()
                prom_load = time.perf_counter() - t0
            with console.status("scalepilot: importing into a SQLiteStore"):
                t0 = time.perf_counter()
                ours = ScalepilotSide(work / "scalepilot-data")
                ours.load(om_file)
                our_load = time.perf_counter() - t0
            console.print(f"loaded: Prometheus {prom_load:.1f}s, scalepilot {our_load:.1f}s", highlight=False)
            return run(prom, ours, end_ms, repeat)
        finally:
            prom.stop()
            if ours is not None:
                ours.stop()


def run(prom: PrometheusSide, ours: ScalepilotSide, end_ms: int, repeat: int) -> int:
    at = end_ms - 10 * 60_000 + 500  # ten minutes before the end, at .500
    start = at - 3600_000
    step = 15_000
    client = httpx.Client(timeout=120)

    def prom_instant() -> None:
        client.get(f"{prom.base}/api/v1/query", params={"query": QUERY, "time": seconds(at)}).raise_for_status()

    def prom_range() -> None:
        params = {"query": QUERY, "start": seconds(start), "end": seconds(at), "step": seconds(step)}
        client.get(f"{prom.base}/api/v1/query_range", params=params).raise_for_status()

    def our_instant() -> object:
        return ours.engine.instant(QUERY, at)

    def our_range() -> object:
        return ours.engine.range(QUERY, start, at, step)

    def our_instant_json() -> object:
        return json.dumps(ours.to_data(ours.engine.instant(QUERY, at)))

    def our_range_json() -> object:
        return json.dumps(ours.to_data(ours.engine.range(QUERY, start, at, step)))

    problems = [
        ("instant", compare(prom.instant(QUERY, at), ours.instant(QUERY, at))),
        ("range", compare(prom.range(QUERY, start, at, step), ours.range(QUERY, start, at, step))),
    ]
    rows = []
    best: list[tuple[str, float, float]] = []
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        cases: list[tuple[str, Callable[[], object], Callable[[], object], Callable[[], None]]] = [
            ("instant", our_instant, our_instant_json, prom_instant),
            ("range 1h / 15s", our_range, our_range_json, prom_range),
        ]
        for name, ours_fn, ours_json_fn, prom_fn in cases:
            runs = timed([ours_fn, ours_json_fn, prom_fn], repeat, progress, name)
            engine, mine, theirs = (statistics.median(r) for r in runs)
            rows.append((name, engine, mine, theirs))
            best.append((name, min(runs[1]), min(runs[2])))
    client.close()

    table = Table(title=f"{QUERY}\nmedian of {repeat} rounds, timings in turns, after a warm-up; same data, same run")
    table.add_column("query")
    table.add_column("scalepilot engine", justify="right")
    table.add_column("scalepilot + JSON", justify="right")
    table.add_column(f"Prometheus {prom.version}", justify="right")
    table.add_column("ratio", justify="right")
    for name, engine, mine, theirs in rows:
        table.add_row(
            name, f"{engine * 1000:.2f} ms", f"{mine * 1000:.2f} ms", f"{theirs * 1000:.2f} ms", f"{mine / theirs:.2f}x"
        )
    Console().print(table)
    print(
        "scalepilot: Engine.instant/range in process, then to_prometheus_data + json.dumps; "
        "Prometheus: its HTTP API on loopback, request to last byte (evaluation + JSON + HTTP)"
    )
    print("ratio = (scalepilot + JSON) / Prometheus; goal: within 3x")
    for name, mine, theirs in best:
        print(
            f"best of {repeat}, {name}: scalepilot + JSON {mine * 1000:.2f} ms, "
            f"Prometheus {theirs * 1000:.2f} ms, ratio {mine / theirs:.2f}x"
        )
    ok = True
    for name, problem in problems:
        if problem is None:
            print(f"{name}: both answers agree")
        else:
            ok = False
            print(f"{name}: ANSWERS DIFFER: {problem}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
