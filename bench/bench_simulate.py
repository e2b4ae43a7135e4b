"""Simulation speed: a month of traffic through one policy, against the bare engine.

The issue's goal: 30 days at 1-minute resolution (43,200 steps) for one policy in at
most a second. This replays a seeded synthetic month (daily shape, quiet weekends,
bursts, growth, noise; 10 req/s per replica, peak ≈ 70 replicas, startup 60 s) through:

* **hpa** — the baseline as ``scalepilot simulate`` runs it: a decision every 15 s (the
  HPA's sync period), so 172,800 decisions over the 43,200 steps;
* **hpa @60s** — the same policy deciding once a step (43,200 decisions), the budget
  ``bench_engine.py`` assumes;
* **oracle** — the vectorised lower bound, for scale.

Reference, measured in the same run: the bare ``decide`` loop over the observations the
simulation recorded (the engine is deterministic, so it makes the same decisions) —
what the simulation would cost if building observations, the virtual target and the
metric windows were free. The ratio is simulation time / reference time; best of
several rounds each.

    .venv/bin/python bench/bench_simulate.py            # 30 days, 3 rounds
    .venv/bin/python bench/bench_simulate.py --quick    # 3 days, 3 rounds
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import compile_policy, decide
from scalepilot.control.simulation import Recorded, ServiceModel, oracle, simulate
from scalepilot.control.simulation.baselines import baseline
from scalepilot.control.simulation.trace import synthetic
from scalepilot.domain.scaling import ScalerState

STEP = 60.0
MODEL = ServiceModel(replica_rps=10.0, startup_delay=60.0)


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bare_decide(settings: AutoscalingSettings, recorded: list[Recorded]) -> None:
    policy = compile_policy(settings)
    state = ScalerState()
    for rec in recorded:
        _, state = decide(policy, state, rec.observation, rec.now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 days instead of 30")
    args = parser.parse_args()
    days, rounds = (3, 3) if args.quick else (30, 3)
    trace = synthetic(days, base=150, seed=1)
    hpa = baseline("hpa", replica_rps=10.0, min_replicas=1, max_replicas=100)
    hpa60 = hpa.model_copy(update={"interval": 60.0})
    print(
        f"{trace.rps.size:,} steps of {STEP:g}s ({days} days), peak {trace.peak:,.0f} req/s, "
        f"best of {rounds} rounds, Python {sys.version.split()[0]}"
    )
    print(f"{'policy':<10} {'decisions':>10} {'simulation':>11} | {'bare decide loop':>16} | ratio")
    for label, settings in (("hpa", hpa), ("hpa @60s", hpa60)):
        recorded: list[Recorded] = []
        simulate(label, settings, trace, MODEL, step=STEP, record=recorded)
        sim = best_of(rounds, lambda s=settings: simulate("x", s, trace, MODEL, step=STEP))
        ref = best_of(rounds, lambda s=settings, r=recorded: bare_decide(s, r))
        print(f"{label:<10} {len(recorded):>10,} {sim:>9.3f} s | {ref:>14.3f} s | {sim / ref:5.2f}")
    orc = best_of(rounds, lambda: oracle(trace, MODEL, 1, 100, STEP))
    print(f"{'oracle':<10} {'-':>10} {orc:>9.4f} s |")


if __name__ == "__main__":
    main()
