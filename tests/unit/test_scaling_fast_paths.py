"""The engine's and the simulator's fast paths against the plain code they replace.

Covers: ``stabilize`` (one comparison settles most history entries, cut-offs folded
into one per window) against the straightforward loop, on random histories with
clocks stepping back, entries exactly on a window's edge, ties, and windows longer or
shorter than the history kept; the ``Policy`` fields derived at construction (not
compared, not shown, recomputed by ``dataclasses.replace``); the simulator's window
mean without a Python loop against the loop, bit for bit.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace

from scalepilot.control.scaling.behavior import History, stabilize
from scalepilot.control.simulation.simulator import _mean
from tests.unit.test_scaling_support import T0, policy


def reference_stabilize(
    recommendations: History, now: float, current: int, desired: int, up: float, down: float, keep: float
) -> tuple[int, History]:
    """``stabilize`` as first written: every condition tested for every entry."""
    up_rec = down_rec = desired
    first = 0
    for i, (t, r) in enumerate(recommendations):
        if t <= now - keep:
            if first == i:
                first = i + 1
            continue
        if t > now - up and r < up_rec:
            up_rec = r
        if t > now - down and r > down_rec:
            down_rec = r
    return min(max(current, up_rec), down_rec), (*recommendations[first:], (now, desired))


def test_stabilize_matches_the_straightforward_loop() -> None:
    rng = random.Random(20261207)
    windows = [0.0, 15.0, 60.0, 300.0, 600.0]
    for _ in range(20_000):
        now = T0 + rng.choice([0.0, 0.5, 1e-7])
        # Ages on a 15 s grid hit the window edges exactly; a few negative ages are a
        # clock that stepped back; shuffling some keeps old entries behind new ones.
        ages = [rng.choice([rng.randrange(-2, 25) * 15.0, rng.uniform(-30, 400)]) for _ in range(rng.randrange(0, 25))]
        if rng.random() < 0.7:
            ages.sort(reverse=True)
        history = tuple((now - age, rng.randint(1, 12)) for age in ages)
        up, down = rng.choice(windows), rng.choice(windows)
        keep = rng.choice([max(up, down), max(up, down), up, down, rng.choice(windows)])
        args = (history, now, rng.randint(1, 12), rng.randint(1, 12), up, down, keep)
        assert stabilize(*args) == reference_stabilize(*args), args


def test_policy_derived_fields_are_neither_compared_nor_shown_and_follow_replace() -> None:
    p = policy(
        metrics=[{"type": "cpu", "target": 50}],
        min_replicas=2,
        max_replicas=9,
        behavior={"scaleUp": {"stabilizationWindowSeconds": 90}, "scaleDown": {"stabilizationWindowSeconds": 600}},
    )
    assert p.hpa
    assert (p.max_detail, p.min_detail) == ("max_replicas 9", "min_replicas 2")
    assert p.up_stabilization == "scale-up stabilization window 1m30s"
    assert p.down_stabilization == "scale-down stabilization window 10m"
    assert "max_detail" not in repr(p)
    changed = replace(p, max_replicas=12)
    assert changed.max_detail == "max_replicas 12"
    assert changed != p and replace(changed, max_replicas=9) == p


def loop_mean(values: list[float | None]) -> float | None:
    total, n = 0.0, 0
    for v in values:
        if v is not None:
            total += v
            n += 1
    return total / n if n else None


def test_the_window_mean_is_the_loops_to_the_bit() -> None:
    rng = random.Random(7)
    for _ in range(5_000):
        values: list[float | None] = [
            rng.choice([None, 0.0, -0.0, rng.random(), rng.uniform(0, 1e6), 1.0 / 3.0])
            for _ in range(rng.randrange(0, 8))
        ]
        got, want = _mean(deque(values)), loop_mean(values)
        assert repr(got) == repr(want), values
