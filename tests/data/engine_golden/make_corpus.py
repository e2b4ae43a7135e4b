"""Build ``corpus.json.xz``: the engine's decisions, recorded as golden output.

Run with the engine whose decisions are the reference (it was run once, before the
engine was optimized): ``.venv/bin/python tests/data/engine_golden/make_corpus.py``.
``tests/unit/test_scaling_golden.py`` replays every input through the current engine
and compares each decision and next state exactly.

Scenarios:

* the observations the simulator records for the ``hpa``, ``keda`` (with and without
  scale to zero) and ``predictive`` baselines on a seeded synthetic trace;
* seeded random policies (modes hpa and threshold, every metric kind, behaviors,
  schedules, scale to zero, predictive) fed random walks of observations: missing and
  NaN values, unready replicas, out-of-range counts, clocks stepping back, manual scale
  events and refused scales (the previous state kept).

Each step stores its inputs (``now``, the observation, and the state when it is not
the previous step's output) and outputs (``Decision.to_dict()``, ``ScalerState.to_dict()``).
"""

from __future__ import annotations

import json
import lzma
import math
import random
import sys
from pathlib import Path
from typing import Any

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import compile_policy, decide
from scalepilot.control.simulation import Recorded, ServiceModel, simulate
from scalepilot.control.simulation.baselines import baseline
from scalepilot.control.simulation.trace import synthetic
from scalepilot.domain.scaling import Forecast, MetricReading, Observation, ScalerState

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.json.xz"
T0 = 1_704_067_200.0  # 2024-01-01 00:00 UTC (a Monday)


def encode_observation(obs: Observation) -> dict[str, Any]:
    readings: dict[str, Any] = {}
    for name, r in obs.readings.items():
        if r is None:
            readings[name] = None
        elif r.per_replica is not None:
            readings[name] = {"p": [[k, v] for k, v in r.per_replica.items()]}
        else:
            readings[name] = {"v": r.value}
    return {
        "s": obs.spec_replicas,
        "r": [[k, v] for k, v in obs.replicas.items()],
        "m": readings,
        "f": obs.forecast.to_dict() if obs.forecast is not None else None,
    }


def decode_observation(data: dict[str, Any]) -> Observation:
    readings: dict[str, MetricReading | None] = {}
    for name, r in data["m"].items():
        if r is None:
            readings[name] = None
        elif "p" in r:
            readings[name] = MetricReading(per_replica={k: v for k, v in r["p"]})
        else:
            readings[name] = MetricReading(value=r["v"])
    f = data["f"]
    forecast = Forecast(f["rps"], f["at"], f["horizon"], f["error"], f["history"]) if f is not None else None
    return Observation(data["s"], {k: v for k, v in data["r"]}, readings, forecast)


def _record(settings: AutoscalingSettings, steps: list[tuple[float, Observation, ScalerState | None]]) -> list[Any]:
    """Run ``steps`` through the engine; a step's state, when given, replaces the
    previous decision's."""
    policy = compile_policy(settings)
    again = compile_policy(AutoscalingSettings.model_validate(settings.model_dump(mode="json", exclude_unset=True)))
    assert again == policy, "the settings must round-trip through JSON"
    state = ScalerState()
    out = []
    for now, obs, given in steps:
        if given is not None:
            state = given
        decision, state = decide(policy, state, obs, now)
        out.append(
            [
                now,
                encode_observation(obs),
                given.to_dict() if given is not None else None,
                decision.to_dict(),
                state.to_dict(),
            ]
        )
    return out


def simulated(days: float) -> list[dict[str, Any]]:
    trace = synthetic(days, base=150, seed=1)
    model = ServiceModel(replica_rps=10.0, startup_delay=60.0)
    scenarios = []
    for name, lo in (("hpa", 1), ("keda", 1), ("keda", 0), ("predictive", 1)):
        settings = baseline(name, replica_rps=10.0, min_replicas=lo, max_replicas=100)
        recorded: list[Recorded] = []
        simulate(name, settings, trace, model, step=60.0, record=recorded)
        steps: list[tuple[float, Observation, ScalerState | None]] = [(r.now, r.observation, None) for r in recorded]
        scenarios.append(
            {
                "name": f"sim-{name}-min{lo}",
                "settings": settings.model_dump(mode="json", exclude_unset=True),
                "steps": _record(settings, steps),
            }
        )
    return scenarios


METRICS = ("cpu", "memory", "rps", "in_flight", "latency", "series_avg", "series_value")


def _metric(rnd: random.Random, kind: str, threshold: bool, i: int) -> dict[str, Any]:
    name = f"m{i}"
    if kind in ("cpu", "memory"):
        m: dict[str, Any] = {"type": kind, "name": name}
        lo, hi = rnd.choice([(20, 60), (30, 70), (10.5, 80.5)]), rnd.choice([50, 60, 70, 75.5])
        if threshold:
            m |= {"scale_up_above": lo[1], "scale_down_below": lo[0]}
        else:
            m["target"] = hi
        return m
    if kind in ("rps", "in_flight"):
        m = {"type": kind, "name": name}
        if threshold:
            m |= {"scale_up_above": rnd.choice([10, 15.5]), "scale_down_below": rnd.choice([2, 5])}
        else:
            m["target"] = rnd.choice([5, 10, 12.5, 100])
        if rnd.random() < 0.5:
            m["activation"] = rnd.choice([0.5, 1, 3])
        return m
    if kind == "latency":
        m = {"type": "latency", "quantile": rnd.choice([0.5, 0.95, 0.99]), "name": name}
        if threshold:
            m |= {"scale_up_above": "500ms", "scale_down_below": "100ms"}
        else:
            m["target"] = rnd.choice(["250ms", "1.5s", "80ms"])
        return m
    m = {
        "type": "series",
        "name": name,
        "query": "q",
        "target_type": "average_value" if kind == "series_avg" else "value",
        "unit": rnd.choice(["", "jobs", "req/s"]),
    }
    if threshold:
        m |= {"scale_up_above": rnd.choice([50, 1000.5]), "scale_down_below": rnd.choice([10, 0.5])}
    else:
        m["target"] = rnd.choice([30, 100, 0.75, 12345.6])
    if rnd.random() < 0.5:
        m["activation"] = rnd.choice([0.5, 2, 10])
    return m


def _rules(rnd: random.Random) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if rnd.random() < 0.6:
        r["stabilizationWindowSeconds"] = rnd.choice([0, 30, 60, 120, 300, 600])
    if rnd.random() < 0.4:
        r["selectPolicy"] = rnd.choice(["Max", "Min", "Disabled"])
    if rnd.random() < 0.6:
        r["policies"] = [
            {
                "type": rnd.choice(["Pods", "Percent"]),
                "value": rnd.choice([1, 2, 4, 10, 50, 100, 200]),
                "periodSeconds": rnd.choice([15, 30, 60, 120]),
            }
            for _ in range(rnd.randint(1, 3))
        ]
    if rnd.random() < 0.3:
        r["tolerance"] = rnd.choice([0, 0.05, 0.2])
    return r


def random_settings(rnd: random.Random) -> AutoscalingSettings:
    threshold = rnd.random() < 0.35
    kinds = rnd.sample(METRICS, rnd.choice([0, 1, 1, 2, 2, 3]) if not threshold else rnd.choice([1, 1, 2, 3]))
    lo = rnd.choice([0, 1, 1, 2, 3])
    data: dict[str, Any] = {
        "mode": "threshold" if threshold else "hpa",
        "min_replicas": lo,
        "max_replicas": rnd.choice([max(lo, 1), 5, 10, 40, 100]),
        "metrics": [_metric(rnd, k, threshold, i) for i, k in enumerate(kinds)],
    }
    if lo == 0 or rnd.random() < 0.15:
        data["min_replicas"] = max(lo, 0)
        data["scale_to_zero"] = {"enabled": True, "cooldown": rnd.choice([60, 300])}
        if not any(k not in ("cpu", "memory") for k in kinds):
            data["metrics"].append(_metric(rnd, "rps", threshold, len(kinds)))
    if rnd.random() < 0.3:
        data["tolerance"] = rnd.choice([0, 0.05, 0.2])
    if not threshold and rnd.random() < 0.6:
        data["behavior"] = {d: _rules(rnd) for d in ("scaleUp", "scaleDown") if rnd.random() < 0.7}
    if threshold:
        data["step"] = rnd.choice([1, 2, "50%", "10%"])
        data["cooldown"] = {"up": rnd.choice([0, 60, 300]), "down": rnd.choice([0, 120, 600])}
    if rnd.random() < 0.3:
        data["schedules"] = [
            {
                "cron": "0 9 * * mon-fri",
                "duration": "2h",
                "min_replicas": rnd.randint(1, 8),
                "timezone": "Europe/Berlin",
            },
            {"name": "hourly", "cron": "*/20 * * * *", "duration": "5m", "min_replicas": rnd.randint(1, 12)},
        ][: rnd.randint(1, 2)]
    if rnd.random() < 0.25:
        data["predictive"] = {
            "enabled": True,
            "replica_rps": rnd.choice([5, 10]),
            "horizon": "3m",
            "min_history": rnd.choice(["0s", "1h"]),
            "max_error": rnd.choice([0.3, 0.1]),
        }
    try:
        return AutoscalingSettings.model_validate(data)
    except ValueError:
        return random_settings(rnd)


def _value(rnd: random.Random, scale: float) -> float:
    x = rnd.random()
    if scale == 0 and x < 0.97:
        return 0.0  # a quiet spell: scale to zero
    if x < 0.03:
        return math.nan
    if x < 0.04:
        return math.inf
    if x < 0.1:
        return 0.0
    if x < 0.2:
        return float(rnd.randint(0, 200))
    return round(rnd.lognormvariate(0, 0.8) * scale, 2)


def random_steps(
    rnd: random.Random, settings: AutoscalingSettings, n: int
) -> list[tuple[float, Observation, ScalerState | None]]:
    policy = compile_policy(settings)
    state = ScalerState()
    now = T0 + rnd.randint(0, 7 * 86400)
    spec = rnd.randint(0, 12)
    level = rnd.uniform(0.2, 3)
    steps: list[tuple[float, Observation, ScalerState | None]] = []
    for _ in range(n):
        x = rnd.random()
        now += -rnd.choice([1, 15, 120]) if x < 0.04 else rnd.choice([1, 7.5, 1800]) if x < 0.1 else 15.0
        level = min(8.0, max(0.0, level * rnd.lognormvariate(0, 0.25) + (rnd.random() < 0.05) * rnd.uniform(0, 2)))
        if policy.scale_to_zero and rnd.random() < 0.03:
            level = 0.0
        y = rnd.random()
        if y < 0.05:
            spec = rnd.randint(0, policy.max_replicas + 5)
        unready = rnd.choice([0, 0, 0, 1, 2]) if spec else rnd.choice([0, 0, 1])
        ready = max(0, spec - unready) if rnd.random() < 0.9 else rnd.randint(0, spec + 1)
        ids = [f"r{i}" for i in range(ready + unready)]
        if rnd.random() < 0.2:
            rnd.shuffle(ids)
        replicas = {rid: i < ready for i, rid in enumerate(ids)}
        readings: dict[str, MetricReading | None] = {}
        for m in policy.metrics:
            z = rnd.random()
            if z < 0.05:
                continue  # absent
            if z < 0.08:
                readings[m.name] = None
                continue
            scale = m.target * level if m.target else level
            per = m.kind in ("cpu", "memory") or (m.kind in ("rps", "in_flight") and rnd.random() < 0.8)
            if m.kind == "series" and rnd.random() < 0.05:
                per = True
            if per and ids:
                vals: dict[str, float] = {}
                same = rnd.random() < 0.5
                v0 = min(100.0, _value(rnd, scale)) if m.unit == "%" else _value(rnd, scale)
                for rid in ids:
                    if rnd.random() < 0.05:
                        continue  # missing
                    v = v0 if same else _value(rnd, scale)
                    vals[rid] = min(v, 100.0) if m.unit == "%" else v
                if rnd.random() < 0.05:
                    vals["ghost"] = 5.0
                readings[m.name] = MetricReading(per_replica=vals)
            elif rnd.random() < 0.01:
                readings[m.name] = MetricReading(per_replica={})
            else:
                readings[m.name] = MetricReading(value=_value(rnd, scale * max(1, ready)))
        forecast = None
        if policy.predictive is not None and rnd.random() < 0.9:
            rps = None if rnd.random() < 0.1 else round(rnd.uniform(0, 80), 1)
            err = None if rnd.random() < 0.2 else rnd.choice([0.05, 0.2, 0.5, math.nan])
            forecast = Forecast(rps, now + 180, 180.0, err, rnd.choice([600.0, 7200.0, 86400.0]))
        given: ScalerState | None = None
        w = rnd.random()
        if w < 0.03:
            given = state.with_scale_event(now - rnd.uniform(0, 60), spec, rnd.randint(0, 10))
        elif w < 0.05:
            given = ScalerState()
        obs = Observation(spec, replicas, readings, forecast)
        if given is not None:
            state = given
        decision, new_state = decide(policy, state, obs, now)
        steps.append((now, obs, given))
        if rnd.random() < 0.05:
            # A refused scale: the caller keeps the previous state and the count.
            steps.append((now + 15, obs, state))
            now += 15
            decision, new_state = decide(policy, state, obs, now)
        state = new_state
        spec = decision.replicas
    return steps


def fuzzed(n_scenarios: int, n_steps: int) -> list[dict[str, Any]]:
    rnd = random.Random(20261207)
    scenarios = []
    for i in range(n_scenarios):
        settings = random_settings(rnd)
        steps = random_steps(rnd, settings, n_steps)
        scenarios.append(
            {
                "name": f"fuzz-{i}",
                "settings": settings.model_dump(mode="json", exclude_unset=True),
                "steps": _record(settings, steps),
            }
        )
    return scenarios


def main() -> None:
    scenarios = simulated(1.0) + fuzzed(int(sys.argv[1]) if len(sys.argv) > 1 else 120, 150)
    data = json.dumps({"version": 1, "scenarios": scenarios}, separators=(",", ":")).encode()
    CORPUS.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    n = sum(len(s["steps"]) for s in scenarios)
    print(f"{len(scenarios)} scenarios, {n:,} decisions, {CORPUS.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
