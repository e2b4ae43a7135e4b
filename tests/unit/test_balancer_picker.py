"""The balancer's backend choice, without sockets.

Covers: no backend → None; sequential picks go round-robin; least-outstanding prefers the
backend with fewer requests in flight and breaks ties round-robin; ``exclude`` skips the
failed backend (and a group whose only backend it is); group weights are exact over
every window (90/10 → 9 to 1 in each 10 picks, interleaved rather than in bursts), for
three groups too, and setting the same weights again does not restart the rotation; a
group without backends is skipped; a group weighing 0 is used only when no weighted
group has a backend; groups not named weigh 1; outstanding counts of a
removed backend stay until released, then vanish; bad input is InvalidBackends.
"""

from __future__ import annotations

from collections import Counter

import pytest

from scalepilot.adapters.balancer import Backend, InvalidBackends
from scalepilot.adapters.balancer.picker import Picker


def backends(*specs: str) -> list[Backend]:
    """``"a"`` or ``"a:canary"`` → Backend(id a, group stable or canary)."""
    out = []
    for k, spec in enumerate(specs):
        name, _, group = spec.partition(":")
        out.append(Backend(name, "127.0.0.1", 9000 + k, group or "stable"))
    return out


def picks(picker: Picker, n: int) -> list[str]:
    out = []
    for _ in range(n):
        b = picker.pick()
        assert b is not None
        out.append(b.id)
    return out


def test_empty_and_round_robin() -> None:
    p = Picker()
    assert p.pick() is None
    p.set_backends(backends("a", "b", "c"))
    assert picks(p, 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_least_outstanding_with_round_robin_ties() -> None:
    p = Picker()
    p.set_backends(backends("a", "b", "c"))
    p.acquire("a")
    p.acquire("a")
    p.acquire("b")
    assert picks(p, 3) == ["c", "c", "c"]  # c has 0 outstanding; picks do not count by themselves
    p.acquire("c")
    assert picks(p, 1) == ["b"]  # b and c tie at 1: the next in rotation after c wins
    p.acquire("b")
    p.acquire("c")
    assert picks(p, 3) == ["c", "a", "b"]  # all at 2: round-robin, continuing after b
    assert p.release("a") == 1
    assert picks(p, 2) == ["a", "a"]
    assert p.outstanding("a") == 1 and p.outstanding("zzz") == 0


def test_exclude_skips_the_failed_backend_and_its_lonely_group() -> None:
    p = Picker()
    p.set_backends(backends("a", "b"))
    assert all(p.pick(exclude="a") == backends("a", "b")[1] for _ in range(5))
    p.set_backends(backends("a"))
    assert p.pick(exclude="a") is None
    p.set_backends(backends("a", "c:canary"))
    p.set_weights({"stable": 100, "canary": 1})
    b = p.pick(exclude="a")
    assert b is not None and b.id == "c"


def test_group_weights_exact_and_interleaved() -> None:
    p = Picker()
    p.set_backends(backends("s1", "s2", "c1:canary"))
    p.set_weights({"stable": 90, "canary": 10})
    sequence = picks(p, 1000)
    for start in range(0, 1000, 10):
        window = sequence[start : start + 10]
        assert window.count("c1") == 1, window  # one canary pick in every 10
    counts = Counter(sequence)
    assert counts == {"s1": 450, "s2": 450, "c1": 100}


def test_setting_the_same_weights_again_keeps_the_rotation() -> None:
    # A rollout applies its weights every second; at a few requests per second a reset
    # rotation would never reach the canary's 10 %.
    p = Picker()
    p.set_backends(backends("s1", "c1:canary"))
    sequence = []
    for _ in range(100):
        p.set_weights({"stable": 90, "canary": 10})
        sequence += picks(p, 1)
    assert sequence.count("c1") == 10


def test_three_groups_and_default_weight() -> None:
    p = Picker()
    p.set_backends(backends("a:x", "b:y", "c:z"))
    p.set_weights({"x": 2, "y": 1})  # z is not named: weighs 1
    assert Counter(picks(p, 400)) == {"a": 200, "b": 100, "c": 100}
    p.set_weights({"x": 0.5, "y": 0.25, "z": 0.25})  # only ratios matter
    assert Counter(picks(p, 400)) == {"a": 200, "b": 100, "c": 100}


def test_groups_without_backends_and_zero_weight() -> None:
    p = Picker()
    p.set_weights({"stable": 90, "canary": 10})
    p.set_backends(backends("s1"))  # the canary group has no backend: all traffic to stable
    assert set(picks(p, 20)) == {"s1"}
    p.set_backends(backends("c1:canary"))
    assert set(picks(p, 20)) == {"c1"}
    p.set_weights({"stable": 1, "canary": 0})
    assert set(picks(p, 5)) == {"c1"}  # weight 0, but the only group with a backend
    p.set_backends(backends("s1", "c1:canary"))
    assert set(picks(p, 20)) == {"s1"}


def test_removed_backend_keeps_its_count_until_released() -> None:
    p = Picker()
    p.set_backends(backends("a", "b"))
    p.acquire("a")
    p.set_backends(backends("b"))
    assert p.outstanding("a") == 1
    assert "a" not in {b.id for b in p.backends}
    assert p.release("a") == 0
    assert p.outstanding_all() == {}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([Backend("a", "h", 1), Backend("a", "h", 2)], "listed twice"),
        ([Backend("a", "h", 0)], "invalid port"),
        ([Backend("a", "h", 1, "")], "empty group"),
    ],
)
def test_invalid_backends(items: list[Backend], message: str) -> None:
    with pytest.raises(InvalidBackends, match=message):
        Picker().set_backends(items)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_invalid_weights(weight: float) -> None:
    with pytest.raises(InvalidBackends, match="must be a finite number >= 0"):
        Picker().set_weights({"stable": weight})
