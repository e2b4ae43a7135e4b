"""Helpers shared by the ``test_scaling_*`` modules (no tests of its own beyond the
helpers' sanity): build a compiled policy from YAML-shaped settings, observations from
plain numbers, and step the engine under virtual time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import Policy, compile_policy, decide
from scalepilot.domain.scaling import Decision, MetricReading, Observation, ScalerState

T0 = 1_700_000_000.0
"""2023-11-14 22:13:20 UTC: virtual time starts here."""


def policy(**settings: Any) -> Policy:
    """A compiled policy; ``max_replicas`` defaults to 1000 so it never interferes."""
    return compile_policy(AutoscalingSettings.model_validate({"max_replicas": 1000, **settings}))


def per_replica(
    values: Sequence[float | None], *, unready: Sequence[int] = (), spec: int | None = None, name: str = "cpu"
) -> Observation:
    """Replicas ``r0..rN`` with these values (``None``: missing); indexes in ``unready``
    are not ready (their values, if any, are still reported)."""
    ids = [f"r{i}" for i in range(len(values))]
    readings = {rid: v for rid, v in zip(ids, values, strict=True) if v is not None}
    replicas = {rid: i not in unready for i, rid in enumerate(ids)}
    return Observation(len(ids) if spec is None else spec, replicas, {name: MetricReading(per_replica=readings)})


def service(
    spec: int, readings: Mapping[str, float | None], *, ready: int | None = None, unready: int = 0
) -> Observation:
    """``spec`` replicas (``ready`` of them ready) and service-level readings."""
    return Observation.of(
        spec,
        {k: None if v is None else MetricReading(value=v) for k, v in readings.items()},
        ready=ready,
        unready=unready,
    )


@dataclass
class Run:
    """Steps one service through the engine under virtual time; the replica count
    follows each decision, as the live loop's target would."""

    policy: Policy
    state: ScalerState = field(default_factory=ScalerState)
    now: float = T0
    replicas: int = 1
    decisions: list[Decision] = field(default_factory=list)

    def step(self, readings: Mapping[str, float | None], *, after: float = 15.0, ready: int | None = None) -> Decision:
        """Advance ``after`` seconds, decide on service-level ``readings``, apply."""
        self.now += after
        obs = service(self.replicas, readings, ready=self.replicas if ready is None else ready)
        decision, self.state = decide(self.policy, self.state, obs, self.now)
        self.replicas = decision.replicas
        self.decisions.append(decision)
        return decision


def test_helpers_build_what_they_say() -> None:
    obs = per_replica([10, None, 30], unready=[2])
    assert obs.spec_replicas == 3
    assert obs.replicas == {"r0": True, "r1": True, "r2": False}
    reading = obs.readings["cpu"]
    assert reading is not None and reading.per_replica == {"r0": 10, "r2": 30}
    assert service(4, {"p95": 0.2}, ready=3, unready=1).replicas == {"0": True, "1": True, "2": True, "3": False}
