"""Reaction time: a load step, and how long scalepilot takes to act and to be ready.

Each trial runs ``scalepilot run`` (a real process) with the bundled shop service as a
local target behind the built-in balancer, holds a quiet load, then steps it up at a
random moment (so the step lands at a random phase of the scrape and evaluation
ticks) and measures, from the step:

* **action**: the first scale-up the autoscaler issues (its ``scaled`` event);
* **ready**: the first replica added by it passing its readiness probe.

Printed beside the references for the same settings: the goal (one scrape interval
plus one evaluation interval) and the Kubernetes HPA's structural delay (its sync period
plus its metric window: the HPA cannot see a change before the window holds it, nor act
before its next sync), as intervals computed from the settings, not measured.

    .venv/bin/python bench/bench_reaction.py            # 5 trials
    .venv/bin/python bench/bench_reaction.py --quick    # 2 trials
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scalepilot.adapters.loadgen import LoadGenerator

SCRAPE_S = 2.0
INTERVAL_S = 5.0
WINDOW_S = 10.0
QUIET_RPS = 15.0
STEP_RPS = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(port: int) -> str:
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data}}
scrape: {{interval: {SCRAPE_S:g}s, timeout: 1s}}
host_stats: {{interval: {SCRAPE_S:g}s}}
services:
  - name: shop
    target:
      type: local
      command: ["{sys.executable}", -m, scalepilot.examples.shop, --port, "{{port}}", --concurrency, "8"]
      replicas: 1
      readiness: {{type: http, path: /healthz, interval: 200ms}}
      grace_period: 2s
    autoscaling:
      min_replicas: 1
      max_replicas: 8
      interval: {INTERVAL_S:g}s
      window: {WINDOW_S:g}s
      metrics: [{{type: rps, target: 45}}]
"""


def service(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/services/shop", timeout=5).json()
    return body


def wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("timed out waiting for scalepilot")


def trial(seed: int) -> tuple[float, float]:
    workdir = Path(tempfile.mkdtemp(prefix="sp-reaction-"))
    port = free_port()
    (workdir / "scalepilot.yaml").write_text(config(port))
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalepilot", "run", "-c", str(workdir / "scalepilot.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait(lambda: service(base)["replicas"]["ready"] == 1, 60)
        lb = service(base)["balancer"]["address"]
        quiet_for = 12.0 + random.Random(seed).uniform(0, INTERVAL_S)
        step_at: list[float] = []

        def profile(t: float) -> float:
            if t < quiet_for:
                return QUIET_RPS
            if not step_at:
                step_at.append(time.time())
            return STEP_RPS

        gen = LoadGenerator(f"http://{lb}/api/sync", profile, duration_s=quiet_for + 30, seed=seed)

        async def drive() -> None:
            load = asyncio.create_task(gen.run())
            while not load.done():
                await asyncio.wait({load}, timeout=0.5)
                if step_at and service(base)["replicas"]["ready"] > 1:
                    break
            load.cancel()

        asyncio.run(drive())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalepilot",
            "events",
            "--data-dir",
            str(workdir / "data"),
            "-o",
            "json",
            "--limit",
            "1000",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    events = sorted(json.loads(out), key=lambda e: e["id"])
    t0 = step_at[0]

    scaled = next(e for e in events if e["kind"] == "scaled" and e["details"]["to"] > e["details"]["from"])
    ready = next(e for e in events if e["kind"] == "replica_ready" and e["id"] > scaled["id"])
    action_s, ready_s = scaled["timestamp"] - t0, ready["timestamp"] - t0
    shutil.rmtree(workdir, ignore_errors=True)
    return action_s, ready_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 trials")
    parser.add_argument("--trials", type=int, default=None)
    args = parser.parse_args()
    trials = args.trials or (2 if args.quick else 5)
    results = []
    with Progress() as progress:
        task = progress.add_task("load steps", total=trials)
        for i in range(trials):
            results.append(trial(seed=i))
            progress.advance(task)
    actions = [a for a, _ in results]
    readies = [r for _, r in results]
    goal = SCRAPE_S + INTERVAL_S
    hpa = INTERVAL_S + WINDOW_S
    table = Table(
        title=f"reaction to a load step {QUIET_RPS:.0f} → {STEP_RPS:.0f} req/s ({trials} trials; "
        f"scrape {SCRAPE_S:.0f}s, evaluation {INTERVAL_S:.0f}s, window {WINDOW_S:.0f}s)"
    )
    for col in ("figure", "median", "max", "reference (from the settings)", "ratio median/reference"):
        table.add_column(col)
    table.add_row(
        "step → scale-up issued (measured)",
        f"{statistics.median(actions):.1f} s",
        f"{max(actions):.1f} s",
        f"goal {goal:.0f} s (scrape + evaluation)",
        f"{statistics.median(actions) / goal:.2f}",
    )
    table.add_row(
        "", "", "", f"HPA structural delay {hpa:.0f} s (sync + window)", f"{statistics.median(actions) / hpa:.2f}"
    )
    table.add_row(
        "step → new replica ready (measured)", f"{statistics.median(readies):.1f} s", f"{max(readies):.1f} s", "", ""
    )
    Console().print(table)
    print("per trial (action s, ready s):", [(round(a, 2), round(r, 2)) for a, r in results])


if __name__ == "__main__":
    main()
