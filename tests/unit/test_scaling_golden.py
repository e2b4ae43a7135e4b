"""The engine's decisions against a golden corpus recorded before it was optimized.

``tests/data/engine_golden/corpus.json.xz`` (built by ``make_corpus.py`` next to it)
holds the inputs of each decision (policy settings, observation, time, and the state
when it is not the previous decision's) and what the reference engine returned: every
``Decision.to_dict()`` and next ``ScalerState.to_dict()``. Replayed here, each must come
out the same, to the bit (compared as JSON text, so ``3`` differs from ``3.0``).
"""

from __future__ import annotations

import json
import lzma
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import compile_policy, decide
from scalepilot.domain.scaling import Decision, Forecast, MetricReading, Observation, ScalerState

CORPUS = Path(__file__).resolve().parents[1] / "data" / "engine_golden" / "corpus.json.xz"


@cache
def scenarios() -> list[dict[str, Any]]:
    data = json.loads(lzma.decompress(CORPUS.read_bytes()))
    assert data["version"] == 1
    return list(data["scenarios"])


def observation(data: dict[str, Any]) -> Observation:
    readings: dict[str, MetricReading | None] = {}
    for name, r in data["m"].items():
        if r is None:
            readings[name] = None
        elif "p" in r:
            readings[name] = MetricReading(per_replica=dict(r["p"]))
        else:
            readings[name] = MetricReading(value=r["v"])
    f = data["f"]
    forecast = Forecast(f["rps"], f["at"], f["horizon"], f["error"], f["history"]) if f is not None else None
    return Observation(data["s"], dict(data["r"]), readings, forecast)


def text(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


def test_the_corpus_covers_every_path() -> None:
    decisions = [step[3] for s in scenarios() for step in s["steps"]]
    assert len(decisions) > 30_000
    kinds = {lim["kind"] for d in decisions for lim in d["limits"]}
    assert kinds >= {
        "tolerance", "missing", "invalid", "stabilization", "rate", "min", "max",
        "cooldown", "schedule", "scale_to_zero", "predictive",
    }  # fmt: skip
    statuses = {m["status"] for d in decisions for m in d["metrics"]}
    assert statuses >= {"ok", "tolerance", "held", "dampened", "invalid", "up", "down", "hold"}
    assert any(d["current"] == 0 and d["replicas"] > 0 for d in decisions)  # woken from zero
    assert any("autoscaling paused" in d["reason"] for d in decisions)


@pytest.mark.parametrize("index", range(len(scenarios())))
def test_decisions_match_the_golden_corpus(index: int) -> None:
    scenario = scenarios()[index]
    policy = compile_policy(AutoscalingSettings.model_validate(scenario["settings"]))
    state = ScalerState()
    for i, (now, obs, given, expected, expected_state) in enumerate(scenario["steps"]):
        if given is not None:
            state = ScalerState.from_dict(given)
        decision, state = decide(policy, state, observation(obs), now)
        where = f"{scenario['name']} step {i} at {now}"
        assert isinstance(decision, Decision)
        assert text(decision.to_dict()) == text(expected), where
        assert text(state.to_dict()) == text(expected_state), where
