"""Rule evaluation cost: 1,000 rules over 10,000 series, evaluated every 15 s.

The data: 100 metric names x 100 series (50 gauges, 50 counters; labels ``job``,
``instance``), a 15 s scrape interval, ``--minutes`` of history (2 h), in a real
``SQLiteStore`` after a maintenance round (closed head windows compacted into chunks,
as in a long-running scalepilot). The rules, in 10 groups of 100 with ``interval: 15s``:

* 400 alerting rules on a gauge threshold (``g_k{job="jN"} > 90``, some firing),
* 300 recording rules ``sum by (job) (rate(c_k[5m]))``,
* 300 alerting rules on a rate (``rate(c_k{job="jN"}[5m]) > 0.5`` with ``for: 1m``).

**scalepilot**: what one cycle of ``scalepilot run`` does — every group evaluated through
``service.rule_evaluation`` (queries on the engine over the store, ``ALERTS`` and recorded
series written back, alert state saved in the store) — timed with ``time.process_time``
(CPU seconds of this process). Reported: CPU seconds per cycle and that divided by
the 15 s interval, the fraction of one core rules take (goal ≤ 0.2).

**reference, same run**: Debian's Prometheus (2.42) evaluating the same rule files over
the same series (scraped every 15 s from a loopback exporter serving them), its
``prometheus_rule_group_last_duration_seconds`` summed over the groups, once every group
has run at least ``--cycles`` times.

    .venv/bin/python bench/bench_rules.py                  # full size
    .venv/bin/python bench/bench_rules.py --quick          # 1/10 of the rules and series
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx
import yaml

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import Config, StorageSettings
from scalepilot.control.query.engine import Engine
from scalepilot.domain.labels import make_labels
from scalepilot.service.rule_evaluation import RuleEvaluation
from scalepilot.service.selfmetrics import SelfMetrics

INTERVAL_S = 15
STEP_MS = INTERVAL_S * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def shape(quick: bool) -> tuple[int, int, int]:
    """(metric names, series per name, jobs)."""
    return (10, 100, 10) if quick else (100, 100, 10)


def gauge_value(name: int, series: int, t_s: float) -> float:
    return float(((name * 31 + series * 17) * 2654435761) % 100)


def counter_value(name: int, series: int, t_s: float) -> float:
    return (series % 3) * 0.3 * t_s + name


def rule_files(out: Path, names: int, quick: bool) -> list[Path]:
    half = names // 2
    rules_total = 100 if quick else 1000
    per_group = rules_total // 10
    rules: list[dict[str, Any]] = []
    for i in range(rules_total):
        job = f"j{i % 10}"
        if i % 10 < 4:
            rules.append(
                {"alert": f"GaugeHigh{i}", "expr": f'g_{i % half}{{job="{job}"}} > 90', "labels": {"sev": "warn"}}
            )
        elif i % 10 < 7:
            rules.append(
                {"record": f"job:c_{i % half}:rate5m_{i}", "expr": f"sum by (job) (rate(c_{i % half}_total[5m]))"}
            )
        else:
            rules.append(
                {
                    "alert": f"RateHigh{i}",
                    "expr": f'rate(c_{i % half}_total{{job="{job}"}}[5m]) > 0.5',
                    "for": "1m",
                    "annotations": {"summary": "{{ $labels.instance }} at {{ humanize $value }}/s"},
                }
            )
    paths = []
    for g in range(10):
        p = out / f"rules_{g}.yml"
        group = {"name": f"bench{g}", "interval": f"{INTERVAL_S}s", "rules": rules[g * per_group : (g + 1) * per_group]}
        p.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
        paths.append(p)
    return paths


def series_labels(names: int, per: int, jobs: int) -> list[tuple[str, int, int, tuple[tuple[str, str], ...]]]:
    half = names // 2
    out = []
    for n in range(names):
        metric = f"g_{n}" if n < half else f"c_{n - half}_total"
        for s in range(per):
            labels = make_labels(metric, {"job": f"j{s % jobs}", "instance": f"host{s}:9100"})
            out.append((metric, n, s, labels))
    return out


# --- scalepilot ---------------------------------------------------------------------------------
def bench_scalepilot(
    tmp: Path, paths: list[Path], names: int, per: int, jobs: int, minutes: int, cycles: int
) -> list[float]:
    store = SQLiteStore.open(tmp / "data", StorageSettings())
    series = series_labels(names, per, jobs)
    half = names // 2
    ids = store.series_ids([labels for *_, labels in series])
    end_ms = 1_700_000_000_000
    start_ms = end_ms - minutes * 60_000
    for t in range(start_ms, end_ms + 1, STEP_MS):
        t_s = (t - start_ms) / 1000
        values = [gauge_value(n, s, t_s) if n < half else counter_value(n - half, s, t_s) for _, n, s, _ in series]
        store.append(ids, t, values)
    store.flush()
    # As the runtime's maintenance loop does: closed head windows become chunks, so the
    # head holds only the current window, as in a long-running scalepilot.
    store.maintain(end_ms)
    cfg = Config.model_validate(
        {
            "rule_files": [str(p) for p in paths],
            "evaluation_interval": INTERVAL_S,
            "alert_rules": {"builtin": {"enabled": False}},
        }
    )
    rules = RuleEvaluation(
        cfg,
        store=store,
        querier=Engine(store),
        clock=_FixedClock(end_ms / 1000),
        metrics=SelfMetrics(),
        base_dir=tmp,
    )
    rules.load()
    assert not rules.issues, rules.issues
    cpu: list[float] = []
    fired = 0
    for c in range(cycles + 1):
        ts = end_ms + c * STEP_MS
        t_s = (ts - start_ms) / 1000
        values = [gauge_value(n, s, t_s) if n < half else counter_value(n - half, s, t_s) for _, n, s, _ in series]
        store.append(ids, ts, values)  # the scrape that happened meanwhile
        before = time.process_time()
        for ev in rules.evaluators:
            outcome = rules.evaluate(ev, ts)
            fired += len(outcome.to_send)
            for rule, _ in outcome.rule_durations:
                del rule
            if outcome.failures:
                raise SystemExit(f"rule failures in {ev.group.name}: {[s.last_error for s in ev.status.values()][:3]}")
        spent = time.process_time() - before
        if c > 0:  # the first cycle warms caches
            cpu.append(spent)
    store.close()
    print(
        f"  scalepilot: {len(series)} series, {sum(len(e.group.rules) for e in rules.evaluators)} rules, "
        f"{fired} alerts sent over {cycles + 1} cycles",
        file=sys.stderr,
    )
    return cpu


class _FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - not used here
        self._now += seconds


# --- reference: Prometheus ------------------------------------------------------------------------------
def bench_prometheus(tmp: Path, paths: list[Path], names: int, per: int, jobs: int, cycles: int) -> float | None:
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    series = series_labels(names, per, jobs)
    half = names // 2
    started = time.time()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            t_s = time.time() - started
            lines = []
            for metric, n, s, labels in series:
                inner = ",".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
                v = gauge_value(n, s, t_s) if n < half else counter_value(n - half, s, t_s)
                lines.append(f"{metric}{{{inner}}} {v}")
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    exporter_port, prom_port = free_port(), free_port()
    server = ThreadingHTTPServer(("127.0.0.1", exporter_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conf = tmp / "prometheus.yml"
    conf.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": f"{INTERVAL_S}s", "evaluation_interval": f"{INTERVAL_S}s"},
                "rule_files": [str(p) for p in paths],
                "scrape_configs": [
                    {
                        "job_name": "bench",
                        "honor_labels": True,
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                    }
                ],
            }
        )
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={conf}",
            f"--storage.tsdb.path={tmp / 'prom'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60 + cycles * INTERVAL_S * 2
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                text = httpx.get(f"http://127.0.0.1:{prom_port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
            iterations = _metric(text, "prometheus_rule_group_iterations_total")
            if len(iterations) == 10 and min(iterations.values()) >= cycles + 1:
                durations = _metric(text, "prometheus_rule_group_last_duration_seconds")
                return sum(durations.values())
        return None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.shutdown()


def _metric(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            out[labels] = float(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of the rules and series")
    parser.add_argument("--minutes", type=int, default=120, help="history in the store before the first cycle")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    names, per, jobs = shape(args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as d:
        tmp = Path(d)
        paths = rule_files(tmp, names, args.quick)
        cpu = bench_scalepilot(tmp, paths, names, per, jobs, args.minutes, args.cycles)
        ref = None if args.no_reference else bench_prometheus(tmp, paths, names, per, jobs, 2)
    median = statistics.median(cpu)
    print(f"scalepilot: {median:.3f} CPU s per cycle (median of {len(cpu)}; min {min(cpu):.3f}, max {max(cpu):.3f})")
    print(f"scalepilot: {median / INTERVAL_S:.3f} of one core at a {INTERVAL_S} s interval (goal <= 0.2)")
    if ref is not None:
        print(
            f"reference:  Prometheus 2.42, same rules and series: {ref:.3f} s per cycle "
            f"({ref / INTERVAL_S:.4f} of one core); ratio scalepilot / Prometheus = {median / ref:.1f}x"
        )
    else:
        print("reference:  Prometheus not available or did not finish")


if __name__ == "__main__":
    main()
