"""Decision speed of the autoscaling engine, against an empty loop, same run.

The simulator replays a month at one decision a minute (43,200 steps) and should take
at most a second, so a decision must cost well under 20 µs. This prints decisions per
second for two policies on a 43,200-step synthetic month:

* **hpa**: cpu utilization (per-replica readings) and p95 latency (one service value),
  target 60 % / 250 ms, the HPA's default behavior (300 s scale-down window, up 4 pods
  or 100 % per 15 s), min 2, max 40;
* **threshold**: cpu 70 % / 30 % and rps 1000/min / 300/min per replica, step 1,
  cooldowns 5m / 10m, min 2, max 40.

Load follows a daily curve with a weekly dip and noise (seeded). Each step's
observation follows the previous decision (the replica count feeds back), as in the
simulator: a first pass records the observations, then the timed passes replay them
through ``decide`` alone (the engine is deterministic, so the replay makes the same
decisions). Reference: the same loop calling a trivial function with the same
arguments. Best of several rounds each; the ratio is engine time / reference time.

    .venv/bin/python bench/bench_engine.py            # 43,200 steps, 7 rounds
    .venv/bin/python bench/bench_engine.py --quick    # 4,320 steps, 3 rounds
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import Policy, compile_policy, decide
from scalepilot.domain.scaling import MetricReading, Observation, ScalerState

STEP = 60.0
START = 1_700_000_000.0
CAPACITY_RPS = 20.0
"""Requests per second one replica serves at 100 % CPU."""

HPA = {
    "max_replicas": 40,
    "min_replicas": 2,
    "metrics": [{"type": "cpu", "target": "60%"}, {"type": "latency", "quantile": 0.95, "target": "250ms"}],
}
THRESHOLD = {
    "mode": "threshold",
    "max_replicas": 40,
    "min_replicas": 2,
    "metrics": [
        {"type": "cpu", "scale_up_above": "70%", "scale_down_below": "30%"},
        {"type": "rps", "scale_up_above": "1000/min", "scale_down_below": "300/min"},
    ],
}


def load(step: int, rnd: random.Random) -> float:
    """Requests per second at ``step``: a daily curve, quieter weekends, noise."""
    day = (step * STEP / 86400.0) % 1.0
    weekday = int(step * STEP / 86400.0) % 7
    base = 40 + 260 * max(0.0, math.sin(math.pi * (day - 0.25) / 0.6)) ** 2
    if weekday >= 5:
        base *= 0.6
    return max(0.0, base * rnd.lognormvariate(0, 0.15))


def observe(replicas: int, rps: float, rnd: random.Random) -> Observation:
    ids = [f"r{i}" for i in range(replicas)]
    per = rps / max(replicas, 1)
    cpu = {rid: min(100.0, 100.0 * per / CAPACITY_RPS * rnd.uniform(0.9, 1.1)) for rid in ids}
    utilization = min(0.99, per / CAPACITY_RPS)
    p95 = 0.08 / max(0.01, 1.0 - utilization)
    readings = {
        "cpu": MetricReading(per_replica=cpu),
        "p95": MetricReading(value=p95),
        "rps": MetricReading(per_replica={rid: per for rid in ids}),
    }
    return Observation(replicas, dict.fromkeys(ids, True), readings)


def record(policy: Policy, steps: int) -> list[Observation]:
    """Run the closed loop once; return each step's observation."""
    rnd = random.Random(7)
    state = ScalerState()
    replicas = 4
    out = []
    for i in range(steps):
        obs = observe(replicas, load(i, rnd), rnd)
        out.append(obs)
        decision, state = decide(policy, state, obs, START + i * STEP)
        replicas = decision.replicas
    return out


def trivial(policy: Any, state: Any, observation: Any, now: float) -> tuple[Any, Any]:
    return observation, state


def timed(fn: Callable[..., tuple[Any, Any]], policy: Policy, observations: list[Observation]) -> float:
    gc.collect()
    gc.disable()
    try:
        state: Any = ScalerState()
        t0 = time.perf_counter()
        for i, obs in enumerate(observations):
            _, state = fn(policy, state, obs, START + i * STEP)
        return time.perf_counter() - t0
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4,320 steps, 3 rounds")
    args = parser.parse_args()
    steps, rounds = (4320, 3) if args.quick else (43_200, 7)
    print(f"{steps:,} decisions per round, best of {rounds} rounds, Python {sys.version.split()[0]}")
    print(f"{'policy':<10} {'engine':>16} {'per decision':>13} | {'reference loop':>17} | ratio | replay")
    for label, settings in (("hpa", HPA), ("threshold", THRESHOLD)):
        policy = compile_policy(AutoscalingSettings.model_validate(settings))
        observations = record(policy, steps)
        engine = min(timed(decide, policy, observations) for _ in range(rounds))
        reference = min(timed(trivial, policy, observations) for _ in range(rounds))
        print(
            f"{label:<10} {steps / engine:>10,.0f} dec/s {engine / steps * 1e6:>10.2f} µs | "
            f"{steps / reference:>11,.0f} calls/s | {engine / reference:5.1f} | {engine:.3f} s"
        )


if __name__ == "__main__":
    main()
