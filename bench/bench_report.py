"""Scaling report speed: a month of one service's recorded life, against its own parts.

A real ``SQLiteStore`` holds 30 days (``--days``) of what scalepilot records for one
autoscaled local service at a 15 s interval: the balancer's request counters (two
codes) and latency histogram (8 buckets), ready and desired replicas, and the process
CPU and memory of two replicas, with a daily shape. Timed:

* **report (measured parts)**: ``service.report.build_report`` without projections —
  what the API's ``/api/v1/report`` and the dashboard's report page ask; reference: the
  queries it reads (one per minute column) alone over the same range at 1 m steps through the same engine
  (the ratio is what the replica integration, the event log, the statistics, the
  recommendations and the right-sizing queries add);
* **report with projections** ×1 and ×3, as ``scalepilot report --growth 3`` runs;
  reference: the same two simulations run alone on the trace the report projects (the
  ratio is the report's cost above the simulator's).

Best of ``--rounds`` each.

    .venv/bin/python bench/bench_report.py              # 30 days, 3 rounds
    .venv/bin/python bench/bench_report.py --quick      # 3 days, 2 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import Config, StorageSettings
from scalepilot.control.report import MINUTE_COLUMNS, Facts, factor_growth, traffic_trace
from scalepilot.control.simulation import ServiceModel, Trace, simulate
from scalepilot.domain.labels import make_labels
from scalepilot.service.metric_source import EmbeddedMetricSource
from scalepilot.service.report import STEP_S, Capacity, Options, build_report, read_minutes

STEP = 15
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, float("inf"))
REPLICA_RPS = 10.0


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def backfill(path: Path, days: int, now_s: int) -> int:
    store = SQLiteStore.open(path, StorageSettings())
    samples = 0
    try:
        times = np.arange(now_s - days * 86400, now_s - 59, STEP, dtype=np.int64)
        day = (times % 86400) / 86400
        rps = 20 + 60 * np.sin(np.pi * day) ** 2
        ready = np.ceil(rps / (REPLICA_RPS * 0.7))
        series: list[tuple[str, dict[str, str], np.ndarray]] = [
            ("scalepilot_lb_requests_total", {"code": "200"}, np.cumsum(rps * 0.99 * STEP)),
            ("scalepilot_lb_requests_total", {"code": "500"}, np.cumsum(rps * 0.01 * STEP)),
            ("scalepilot_service_replicas", {"state": "ready"}, ready),
            ("scalepilot_service_replicas", {"state": "desired"}, ready),
        ]
        for i, le in enumerate(BUCKETS):
            share = min(1.0, (i + 1) / (len(BUCKETS) - 1))
            label = "+Inf" if le == float("inf") else f"{le:g}"
            series.append(
                ("scalepilot_lb_request_duration_seconds_bucket", {"le": label}, np.cumsum(rps * share * STEP))
            )
        series.append(("scalepilot_lb_request_duration_seconds_count", {}, np.cumsum(rps * STEP)))
        series.append(("scalepilot_lb_request_duration_seconds_sum", {}, np.cumsum(rps * 0.05 * STEP)))
        for r in ("0", "1"):
            ids = {"replica": r, "pid": f"10{r}"}
            series.append(("scalepilot_process_cpu_seconds_total", ids, np.cumsum(rps / 40 * STEP)))
            series.append(("scalepilot_process_resident_memory_bytes", ids, np.full(times.size, 2.0e8)))
        ids = store.series_ids([make_labels(n, {"service": "api", **labels}) for n, labels, _ in series])
        chunk = 20_000
        for lo in range(0, times.size, chunk):
            ts = (times[lo : lo + chunk] * 1000).tolist()
            n = len(ts)
            store.append(
                [i for i in ids for _ in range(n)],
                ts * len(ids),
                np.concatenate([v[lo : lo + n] for _, _, v in series]).tolist(),
            )
            samples += n * len(ids)
    finally:
        store.close()
    return samples


CONFIG = {
    "services": [
        {
            "name": "api",
            "target": {"type": "local", "command": ["app"], "replicas": 2, "resources": {"cpu": 1.0}},
            "autoscaling": {"min_replicas": 1, "max_replicas": 20, "metrics": [{"type": "cpu", "target": 70}]},
        }
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 days, 2 rounds")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    days, rounds = (3, 2) if args.quick else (args.days, args.rounds)
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        now_s = int(time.time()) // 60 * 60
        t0 = time.perf_counter()
        samples = backfill(tmp / "data", days, now_s)
        print(f"{days} days, {samples:,} samples backfilled in {time.perf_counter() - t0:.1f} s; best of {rounds}")
        config = Config.model_validate(CONFIG)
        store = SQLiteStore.open(tmp / "data", StorageSettings(), read_only=True)
        source = EmbeddedMetricSource(store)
        now_ms = now_s * 1000
        range_s = days * 86400.0
        svc = config.services[0]
        measured = Options(range_s=range_s, project=False)
        projected = Options(range_s=range_s, capacity=Capacity(REPLICA_RPS, 60.0, "bench"), growths=factor_growth([3]))

        def report(options: Options) -> object:
            return asyncio.run(build_report(store, source, config, now_ms=now_ms, options=options))

        end_ms = now_ms // 60_000 * 60_000
        start_ms = end_ms - round(range_s * 1000)

        def queries() -> object:
            return asyncio.run(read_minutes(source, svc, config, start_ms, end_ms))

        minutes = asyncio.run(read_minutes(source, svc, config, start_ms, end_ms))
        traced = traffic_trace(minutes)
        assert traced is not None
        trace, _ = traced
        facts = Facts.of(svc)
        assert facts.autoscaling is not None
        model = ServiceModel(REPLICA_RPS, 60.0, 0.0, 15.0)

        def simulations() -> object:
            for k in (1.0, 3.0):
                grown = Trace(trace.timestamps, trace.rps * k)
                simulate("x", facts.autoscaling, grown, model, step=STEP_S)  # type: ignore[arg-type]
            return None

        n_queries = len(MINUTE_COLUMNS)
        rows = [
            (
                "report, measured parts",
                best_of(rounds, lambda: report(measured)),
                f"{n_queries} range queries",
                best_of(rounds, queries),
            ),
            (
                "report, projections ×1 ×3",
                best_of(rounds, lambda: report(projected)),
                "2 simulations",
                best_of(rounds, simulations),
            ),
        ]
        store.close()
        print(f"{'figure':<28} {'time':>8} | {'reference':<20} {'time':>8} | ratio")
        for name, t, ref_name, ref in rows:
            print(f"{name:<28} {t:>6.2f} s | {ref_name:<20} {ref:>6.2f} s | {t / ref:5.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
