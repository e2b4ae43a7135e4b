"""The local target running two revisions side by side, with real child processes.

A canary group is started from a template whose env differs from the stable one
(``COLOR``, which each child reports at ``/env``, so a test asks the process itself which
template it was made from). Covers:

- a canary group beside two stable replicas: slots unique over both groups (``{replica}``
  as the child sees it too), each replica's group and revision, the status counts of the
  stable group only while the replica list (what the balancer routes by) holds both, and
  ``scale()`` still adding stable replicas from the stable template;
- a crashed canary replica is restarted from the canary template;
- ``scale_group(..., 0)`` drains the canary (a request in flight finishes) and removes it,
  leaving the stable replicas alone; misuse of the group calls;
- ``promote``: the canary's processes become the stable ones (same pids), the old stable
  ones are removed, the missing one is started from the new template, and later
  ``scale()`` ups use the new template too;
- a changed template replaces a group's replicas; a change of timings only does not;
- ``stop()`` leaves no process of either group; the store records the canary's processes
  too, so the next start cleans up after a crash of scalepilot.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from scalepilot.adapters.targets import InvalidReplicas, LocalTarget
from scalepilot.adapters.targets.local.target import state_key
from scalepilot.config.targets import LocalTargetSettings, template_revision
from scalepilot.domain.events import EventKind
from scalepilot.domain.targets import Replica, ReplicaState
from tests.integration.targets_helpers import (
    Harness,
    child_command,
    eventually,
    gone,
    http_get,
)

K = EventKind
S = ReplicaState


def settings(color: str, **overrides: Any) -> LocalTargetSettings:
    base: dict[str, Any] = {
        "type": "local",
        "command": child_command(),
        "env": {"COLOR": color, "SLOT": "{replica}"},
        "replicas": 0,
        "readiness": {"type": "tcp", "interval": 0.05, "timeout": 1},
        "grace_period": 5,
        "stop_timeout": 5,
        "restart_backoff": {"initial": 0.1, "max": 0.4, "multiplier": 2},
    }
    return LocalTargetSettings.model_validate(base | overrides)


BLUE = settings("blue", replicas=2)
GREEN = settings("green")
BLUE_REV = template_revision(BLUE)
GREEN_REV = template_revision(GREEN)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    await harness.stop()


def of(t: LocalTarget, group: str) -> list[Replica]:
    return [r for r in t.replicas() if r.group == group]


async def all_ready(t: LocalTarget, **groups: int) -> None:
    """Exactly these groups with these counts, every replica READY (nothing else left)."""

    def check() -> bool:
        replicas = t.replicas()
        counts = {g: sum(1 for r in replicas if r.group == g) for g in groups}
        return counts == groups and len(replicas) == sum(groups.values()) and all(r.state is S.READY for r in replicas)

    await eventually(check, within=20, what=f"ready replicas {groups}")


async def asks(r: Replica, name: str) -> str:
    """What the replica's process says its environment variable ``name`` is."""
    assert r.port is not None
    status, body = await http_get(r.port, f"/env?name={name}")
    assert status == 200
    return body


async def serves(r: Replica) -> bool:
    """The replica's port is answered by the replica's own process."""
    assert r.port is not None and r.pid is not None
    return await http_get(r.port, "/pid") == (200, str(r.pid))


async def _hold(port: int, seconds: float, in_flight: dict[str, int], rid: str) -> tuple[int, str] | str:
    """One request held open by the replica, counted in ``in_flight`` while it is open."""
    in_flight[rid] = in_flight.get(rid, 0) + 1
    try:
        return await http_get(port, f"/hold?seconds={seconds}")
    except (OSError, IndexError, ValueError) as exc:
        return f"failed: {exc!r}"
    finally:
        in_flight[rid] -= 1


async def test_a_canary_group_runs_beside_the_stable_one(h: Harness) -> None:
    assert BLUE_REV != GREEN_REV
    t = h.target(BLUE)
    await t.start()
    await all_ready(t, stable=2)
    stable_pids = [r.pid for r in t.replicas()]

    await t.scale_group("canary", 2, GREEN)
    assert len(of(t, "canary")) == 2 and all(r.pid for r in of(t, "canary"))  # returns with the processes started
    await all_ready(t, stable=2, canary=2)

    replicas = t.replicas()
    assert [(r.id, r.index, r.group, r.revision) for r in replicas] == [
        ("shop-0", 0, "stable", BLUE_REV),
        ("shop-1", 1, "stable", BLUE_REV),
        ("shop-2", 2, "canary", GREEN_REV),
        ("shop-3", 3, "canary", GREEN_REV),
    ]
    assert [r.pid for r in replicas[:2]] == stable_pids  # the stable replicas were left alone
    assert len({r.port for r in replicas}) == 4
    for r in replicas:
        assert await serves(r)
        assert await asks(r, "COLOR") == ("blue" if r.group == "stable" else "green")
        assert await asks(r, "SLOT") == str(r.index)  # {replica} is the slot, unique over groups

    status = await t.status()
    assert (status.desired, status.current, status.ready) == (2, 2, 2)  # the autoscaler's view: stable only
    assert t.desired == 2
    assert t.groups() == {"stable": 2, "canary": 2}
    routed = h.rec.changes[-1][1].replicas  # what the balancer was last told
    assert {(r.id, r.group) for r in routed if r.state is S.READY} == {(r.id, r.group) for r in replicas}
    started = {e.details["replica"]: e.details for e in h.rec.kinds(K.REPLICA_STARTED)}
    assert (started["shop-2"]["group"], started["shop-2"]["revision"]) == ("canary", GREEN_REV)
    assert (started["shop-0"]["group"], started["shop-0"]["revision"]) == ("stable", BLUE_REV)

    await t.scale(3)  # the stable count: the next free slot, the stable template
    await all_ready(t, stable=3, canary=2)
    new = next(r for r in t.replicas() if r.id == "shop-4")
    assert (new.group, new.revision, await asks(new, "COLOR")) == ("stable", BLUE_REV, "blue")
    assert t.groups() == {"stable": 3, "canary": 2}
    assert (t.snapshot().desired, t.snapshot().current) == (3, 3)

    await t.scale(2)  # the newest stable replica goes, no canary
    await all_ready(t, stable=2, canary=2)
    assert [r.id for r in t.replicas()] == ["shop-0", "shop-1", "shop-2", "shop-3"]


async def test_a_crashed_canary_replica_restarts_from_the_canary_template(h: Harness) -> None:
    t = h.target(settings("blue", replicas=1))
    await t.start()
    await t.scale_group("canary", 1, GREEN)
    await all_ready(t, stable=1, canary=1)
    (canary,) = of(t, "canary")
    assert canary.pid is not None

    os.kill(canary.pid, signal.SIGKILL)
    await eventually(lambda: h.rec.kinds(K.REPLICA_EXITED, "shop-1"), within=10, what="the canary's exit")
    await eventually(
        lambda: (r := of(t, "canary")) and r[0].pid != canary.pid and r[0].state is S.READY,
        within=20,
        what="the canary to be restarted and ready",
    )
    (restarted,) = of(t, "canary")
    assert (restarted.id, restarted.restarts, restarted.revision) == ("shop-1", 1, GREEN_REV)
    assert await serves(restarted)
    assert await asks(restarted, "COLOR") == "green"
    assert h.rec.kinds(K.REPLICA_EXITED, "shop-1")[0].details["reason"] == "killed by SIGKILL"
    assert h.rec.kinds(K.REPLICA_STARTED, "shop-1")[-1].details["revision"] == GREEN_REV
    assert t.groups() == {"stable": 1, "canary": 1}
    assert len(h.rec.kinds(K.REPLICA_STARTED, "shop-0")) == 1  # the stable one was not touched


async def test_scaling_a_group_to_zero_drains_and_removes_it(h: Harness) -> None:
    t = h.target(BLUE)
    await t.start()
    await t.scale_group("canary", 1, GREEN)
    await all_ready(t, stable=2, canary=1)
    stable = of(t, "stable")
    (canary,) = of(t, "canary")
    assert canary.port is not None and canary.pid is not None
    request = asyncio.create_task(_hold(canary.port, 1.0, h.in_flight, canary.id))
    await eventually(lambda: h.in_flight.get(canary.id), within=5, what="the request to be in flight")

    await t.scale_group("canary", 0)
    assert t.groups() == {"stable": 2}
    await eventually(lambda: S.DRAINING in h.rec.states(canary.id), within=5, what="the canary draining")
    assert not gone(canary.pid)
    assert await asyncio.wait_for(request, 10) == (200, "ok\n")
    await eventually(lambda: [r.id for r in t.replicas()] == ["shop-0", "shop-1"], within=15, what="canary removed")
    await eventually(functools.partial(gone, canary.pid), within=5, what="the canary's process to end")

    stopped = h.rec.kinds(K.REPLICA_STOPPED)
    assert [e.details["replica"] for e in stopped] == [canary.id]
    assert stopped[0].details["reason"] == "scale-down" and stopped[0].details["drained"] is True
    assert stopped[0].details["in_flight_left"] == 0
    assert [(r.id, r.pid) for r in t.replicas()] == [(r.id, r.pid) for r in stable]
    status = t.snapshot()
    assert (status.desired, status.current, status.ready) == (2, 2, 2)

    # Gone means forgotten: raising it again needs its template.
    with pytest.raises(ValueError, match="settings are required"):
        await t.scale_group("canary", 1)
    await t.scale_group("canary", 0)  # already gone: nothing to do
    assert t.groups() == {"stable": 2}


async def test_misuse_of_groups(h: Harness) -> None:
    t = h.target(settings("blue"))
    await t.start()
    with pytest.raises(ValueError, match="use scale"):
        await t.scale_group("stable", 1, GREEN)
    with pytest.raises(ValueError):
        await t.scale_group("", 1, GREEN)
    with pytest.raises(InvalidReplicas):
        await t.scale_group("canary", -1, GREEN)
    with pytest.raises(ValueError, match="settings are required"):
        await t.scale_group("canary", 1)
    with pytest.raises(ValueError, match="no group 'canary'"):
        await t.promote("canary")
    with pytest.raises(ValueError, match="no group 'stable'"):
        await t.promote("stable")
    assert t.groups() == {"stable": 0} and t.replicas() == ()


async def test_promote_makes_the_canary_stable_without_restarting_it(h: Harness) -> None:
    t = h.target(settings("blue", replicas=3))
    await t.start()
    await t.scale_group("canary", 2, GREEN)
    await all_ready(t, stable=3, canary=2)
    old = of(t, "stable")
    canaries = of(t, "canary")
    assert [r.id for r in canaries] == ["shop-3", "shop-4"]

    await t.promote("canary")
    assert t.groups() == {"stable": 3}
    assert t.settings is GREEN
    # At once: the canaries count as stable; the missing third one was started.
    now = {r.id: r for r in t.replicas()}
    assert [(now[r.id].group, now[r.id].pid) for r in canaries] == [("stable", r.pid) for r in canaries]
    assert now["shop-5"].pid is not None and now["shop-5"].revision == GREEN_REV

    await all_ready(t, stable=3)
    replicas = t.replicas()
    assert [(r.id, r.group, r.revision) for r in replicas] == [
        ("shop-3", "stable", GREEN_REV),
        ("shop-4", "stable", GREEN_REV),
        ("shop-5", "stable", GREEN_REV),
    ]
    assert [r.pid for r in replicas[:2]] == [r.pid for r in canaries]  # not restarted
    assert all(r.restarts == 0 for r in replicas)
    for r in replicas:
        assert await serves(r)
        assert await asks(r, "COLOR") == "green"
    for r in old:
        assert r.pid is not None
        await eventually(functools.partial(gone, r.pid), within=5, what=f"old stable pid {r.pid} to end")
    stopped = h.rec.kinds(K.REPLICA_STOPPED)
    assert sorted(e.details["replica"] for e in stopped) == ["shop-0", "shop-1", "shop-2"]
    assert {e.details["reason"] for e in stopped} == {"replaced"}
    assert all(e.details["drained"] is True for e in stopped)  # they were ready: drained as a scale-down
    status = t.snapshot()
    assert (status.desired, status.current, status.ready) == (3, 3, 3)
    routed = h.rec.changes[-1][1].replicas
    assert {r.group for r in routed} == {"stable"}

    await t.scale(4)  # the autoscaler's next scale-up: the new template, the lowest free slot
    await all_ready(t, stable=4)
    added = next(r for r in t.replicas() if r.id == "shop-0")
    assert added.revision == GREEN_REV and await asks(added, "COLOR") == "green"


async def test_a_changed_template_replaces_the_groups_replicas(h: Harness) -> None:
    t = h.target(settings("blue", replicas=1))
    await t.start()
    await t.scale_group("canary", 2, GREEN)
    await all_ready(t, stable=1, canary=2)
    (stable,) = of(t, "stable")
    first = of(t, "canary")

    # Timings only: the same revision, nothing is replaced.
    await t.scale_group("canary", 2, settings("green", grace_period=1))
    assert [(r.id, r.pid) for r in of(t, "canary")] == [(r.id, r.pid) for r in first]
    assert not any(r.state is not S.READY for r in t.replicas())

    red = settings("red")
    await t.scale_group("canary", 2, red)
    red_rev = template_revision(red)
    await eventually(
        lambda: (
            [r.revision for r in of(t, "canary")] == [red_rev, red_rev]
            and all(r.state is S.READY for r in t.replicas())
        ),
        within=20,
        what="the canary replaced by red replicas",
    )
    second = of(t, "canary")
    assert {r.pid for r in second}.isdisjoint({r.pid for r in first})
    assert [r.index for r in second] == [3, 4]  # started before the old ones (slots 1, 2) were freed
    for r in second:
        assert await asks(r, "COLOR") == "red"
    for r in first:
        assert r.pid is not None
        await eventually(functools.partial(gone, r.pid), within=5, what=f"old canary pid {r.pid} to end")
    assert {e.details["reason"] for e in h.rec.kinds(K.REPLICA_STOPPED)} == {"replaced"}
    assert [(r.id, r.pid) for r in of(t, "stable")] == [(stable.id, stable.pid)]
    assert t.groups() == {"stable": 1, "canary": 2}

    await t.scale_group("canary", 3)  # without settings: the current template
    await all_ready(t, stable=1, canary=3)
    assert {r.revision for r in of(t, "canary")} == {red_rev}


async def test_stop_leaves_no_process_of_either_group(h: Harness) -> None:
    t = h.target(BLUE)
    await t.start()
    await t.scale_group("canary", 2, GREEN)
    await all_ready(t, stable=2, canary=2)
    replicas = t.replicas()
    pids = [r.pid for r in replicas]
    record = h.store.docs[state_key("shop")]
    assert {(x["id"], x["pid"], x["create_time"]) for x in record["replicas"]} == {
        (r.id, r.pid, psutil.Process(r.pid).create_time()) for r in replicas if r.pid is not None
    }
    for r in of(t, "canary"):
        assert await asks(r, "SCALEPILOT_OWNER") == record["owner"]  # the owner-id scan finds them too

    await t.stop()
    assert t.replicas() == ()
    assert all(p is not None and gone(p) for p in pids)
    assert h.store.docs[state_key("shop")]["replicas"] == []
    assert t.groups() == {"stable": 0}
    assert sorted(e.details["replica"] for e in h.rec.kinds(K.REPLICA_STOPPED)) == [r.id for r in replicas]
    assert {e.details["reason"] for e in h.rec.kinds(K.REPLICA_STOPPED)} == {"shutdown"}


async def test_the_next_start_cleans_up_canary_processes_too(h: Harness) -> None:
    """A scalepilot that died without stopping its replicas: the next start on the same
    store stops both groups' processes, found by their records."""
    slow = {"restart_backoff": {"initial": 60, "max": 60}}  # the dead one must not restart them
    crashed = h.target(settings("blue", replicas=1, **slow))
    await crashed.start()
    await crashed.scale_group("canary", 1, settings("green", **slow))
    await all_ready(crashed, stable=1, canary=1)
    pids = {r.id: r.pid for r in crashed.replicas()}

    successor = h.target(settings("blue"))
    await successor.start()
    found = h.rec.kinds(K.REPLICA_ORPHAN_STOPPED)
    assert {e.details["replica"]: e.details["pid"] for e in found} == pids
    assert {e.details["found_by"] for e in found} == {"record"}
    assert all(p is not None and gone(p) for p in pids.values())
