"""The local target with real child processes on real loopback ports.

Covers:

- scale up and down: each replica is a process answering on its own port; scale-down
  stops the processes and forgets them; the store records pid + create time, and the
  record is emptied by ``stop()``; output goes to the replica's log file;
- readiness gating: a slow-starting replica is STARTING (not routed) until its port
  answers, then READY; a ready replica failing ``failure_threshold`` checks in a row is
  taken out of routing (``replica_not_ready``) and comes back when it passes again;
- crash → BACKOFF → restart with a growing backoff (the planned delays in the events,
  and the real gaps between exit and restart at least that long), one crash-loop event
  with the exit reason and the replica's last log lines;
- a command that cannot start (missing executable) is retried like a crash;
- removal order: a starting replica goes before ready ones (even when older), then the
  newest ready one;
- draining: with a request in flight (counted by an ``in_flight`` the test controls)
  scale-down waits for it to finish, then SIGTERMs; a request outliving the grace period
  is cut off at its end;
- a replica ignoring SIGTERM gets SIGKILL after ``stop_timeout``;
- a replica's own children (its process group) are stopped with it;
- misuse: negative counts, scale after stop; a readiness check that raises surfaces
  from ``status()`` and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from scalepilot.adapters.targets import InvalidReplicas, LocalTarget, TargetClosed
from scalepilot.adapters.targets.local.target import state_key
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.events import EventKind
from scalepilot.domain.targets import Replica, ReplicaState
from tests.integration.targets_helpers import (
    Harness,
    child_command,
    eventually,
    gone,
    http_get,
    tcp_ready,
)

K = EventKind
S = ReplicaState


def settings(**overrides: Any) -> LocalTargetSettings:
    base: dict[str, Any] = {
        "type": "local",
        "command": child_command(),
        "replicas": 0,
        "readiness": {"type": "tcp", "interval": 0.05, "timeout": 1},
        "grace_period": 5,
        "stop_timeout": 5,
        "restart_backoff": {"initial": 0.1, "max": 0.4, "multiplier": 2},
    }
    return LocalTargetSettings.model_validate(base | overrides)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    await harness.stop()


async def ready_count(t: LocalTarget, n: int, within: float = 15) -> None:
    await eventually(lambda: t.snapshot().ready == n and t.snapshot().current == n, within=within, what=f"{n} ready")


async def test_scale_up_and_down_with_real_processes(h: Harness) -> None:
    t = h.target(settings(replicas=2))
    await t.start()
    assert len({r.pid for r in t.replicas()}) == 2  # start() returns with the processes started
    await ready_count(t, 2)

    await t.scale(3)
    await ready_count(t, 3)
    replicas = t.replicas()
    assert [r.id for r in replicas] == ["shop-0", "shop-1", "shop-2"]
    assert len({r.port for r in replicas}) == 3
    for r in replicas:
        assert r.port is not None and r.pid is not None
        assert await http_get(r.port, "/pid") == (200, str(r.pid))  # that process serves that port
    record = h.store.docs[state_key("shop")]
    assert {(x["pid"], x["create_time"]) for x in record["replicas"]} == {
        (r.pid, psutil.Process(r.pid).create_time()) for r in replicas
    }

    await t.scale(3)  # idempotent: nothing new
    assert [r.pid for r in t.replicas()] == [r.pid for r in replicas]

    await t.scale(1)
    await eventually(lambda: len(t.replicas()) == 1, within=15, what="scale-down to finish")
    assert [r.id for r in t.replicas()] == ["shop-0"]
    for r in replicas[1:]:
        assert r.pid is not None
        await eventually(functools.partial(gone, r.pid), within=5, what=f"pid {r.pid} to end")
    stopped = h.rec.kinds(K.REPLICA_STOPPED)
    assert {e.details["replica"] for e in stopped} == {"shop-1", "shop-2"}
    assert all(e.details["reason"] == "scale-down" and e.details["signal"] == "SIGTERM" for e in stopped)
    assert all(e.details["exit"] == "killed by SIGTERM" for e in stopped)

    log = t.log_path("shop-0").read_text()
    assert "--- scalepilot: starting shop-0" in log and f"listening {replicas[0].port}" in log

    await t.stop()
    assert t.replicas() == ()
    assert replicas[0].pid is not None and gone(replicas[0].pid)
    assert h.store.docs[state_key("shop")]["replicas"] == []
    assert t.snapshot().current == 0


async def test_slow_start_is_not_routed_until_ready(h: Harness) -> None:
    t = h.target(settings(command=child_command("--slow-start", "1.0")))
    await t.start()
    await t.scale(1)
    began = time.time()
    status = await t.status()
    assert (status.current, status.ready) == (1, 0)
    assert status.replicas[0].state is S.STARTING
    await ready_count(t, 1)
    assert time.time() - began >= 1.0
    replica = t.replicas()[0]
    assert replica.ready_ms is not None and replica.started_ms is not None
    assert replica.ready_ms - replica.started_ms >= 1000
    # Never routed before it was ready: every reported READY came after the ready event.
    ready_event = h.rec.kinds(K.REPLICA_READY, "shop-0")[0]
    first_ready = next(ts for ts, st in h.rec.changes if st.ready)
    assert first_ready * 1000 >= ready_event.timestamp_ms - 1
    assert h.rec.states("shop-0") == [S.STARTING, S.READY]


async def test_ready_replica_failing_checks_is_taken_out_and_back(h: Harness) -> None:
    healthy = {"ok": True}

    async def probe(replica: Replica) -> bool:
        return healthy["ok"] and await tcp_ready(replica)

    t = h.target(settings(replicas=1), probe)
    await t.start()
    await ready_count(t, 1)
    healthy["ok"] = False
    await eventually(lambda: h.rec.kinds(K.REPLICA_NOT_READY), within=5, what="replica_not_ready")
    assert h.rec.kinds(K.REPLICA_NOT_READY)[0].details["failures"] == 3
    status = t.snapshot()
    assert (status.current, status.ready) == (1, 0) and status.replicas[0].state is S.STARTING
    healthy["ok"] = True
    await ready_count(t, 1)
    assert h.rec.states("shop-0") == [S.STARTING, S.READY, S.STARTING, S.READY]


async def test_crash_restarts_with_growing_backoff_and_reports_a_crash_loop(h: Harness) -> None:
    s = settings(
        command=child_command("--crash-after", "0"),
        crash_loop={"restarts": 3, "within": 60},
    )
    t = h.target(s)
    await t.start()
    await t.scale(1)
    await eventually(lambda: len(h.rec.kinds(K.REPLICA_EXITED)) >= 5, within=30, what="5 exits")
    await t.scale(0)

    exits = h.rec.kinds(K.REPLICA_EXITED)[:5]
    starts = h.rec.kinds(K.REPLICA_STARTED)
    assert [e.details["restart_in_s"] for e in exits] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert [e.details["reason"] for e in exits] == ["exit code 3"] * 5
    assert all(e.details["exit_code"] == 3 and "crashing: boom" in e.details["last_lines"] for e in exits)
    assert [e.details["restarts"] for e in starts[:5]] == [0, 1, 2, 3, 4]
    for exited, restarted in zip(exits, starts[1:], strict=False):
        gap_ms = restarted.timestamp_ms - exited.timestamp_ms
        assert gap_ms >= exited.details["restart_in_s"] * 1000 - 1, (gap_ms, exited.details)

    loops = h.rec.kinds(K.REPLICA_CRASH_LOOP)
    assert len(loops) == 1, "reported once per loop, not at every crash"
    loop = loops[0]
    assert loop.timestamp_ms >= exits[2].timestamp_ms
    assert loop.details["crashes"] == 3 and loop.details["reason"] == "exit code 3"
    assert "crashing: boom" in loop.details["last_lines"]
    assert S.BACKOFF in h.rec.states("shop-0")
    assert any(r.last_exit == "exit code 3" for _, st in h.rec.changes for r in st.replicas)


async def test_missing_executable_is_retried_like_a_crash(h: Harness, tmp_path: Path) -> None:
    t = h.target(settings(command=[str(tmp_path / "no-such-program")], replicas=1))
    await t.start()
    await eventually(lambda: len(h.rec.kinds(K.REPLICA_START_FAILED)) >= 2, within=10, what="two failed starts")
    failed = h.rec.kinds(K.REPLICA_START_FAILED)
    assert "No such file" in failed[0].details["reason"] and "no-such-program" in failed[0].details["reason"]
    assert [e.details["restart_in_s"] for e in failed[:2]] == [0.1, 0.2]
    assert t.snapshot().replicas[0].pid is None
    assert t.snapshot().current == 1 and t.snapshot().ready == 0


async def test_scale_down_removes_starting_replicas_first_then_the_newest(h: Harness) -> None:
    blocked = {"shop-0"}

    async def probe(replica: Replica) -> bool:
        return replica.id not in blocked and await tcp_ready(replica)

    t = h.target(settings(replicas=3), probe)
    await t.start()
    await eventually(lambda: t.snapshot().ready == 2, within=15, what="shop-1 and shop-2 ready")
    assert {r.id: r.state for r in t.replicas()}["shop-0"] is S.STARTING

    await t.scale(2)  # shop-0 is the oldest, but it serves nobody yet
    await eventually(lambda: [r.id for r in t.replicas()] == ["shop-1", "shop-2"], within=15, what="shop-0 removed")
    assert h.rec.kinds(K.REPLICA_STOPPED)[0].details["drained"] is False

    await t.scale(1)  # both ready: the newest goes
    await eventually(lambda: [r.id for r in t.replicas()] == ["shop-1"], within=15, what="shop-2 removed")

    await t.scale(2)  # the lowest free slot is reused
    assert [r.id for r in t.replicas()] == ["shop-0", "shop-1"]


async def _hold(port: int, seconds: float, in_flight: dict[str, int], rid: str) -> tuple[int, str] | str:
    """One request held open by the replica, counted in ``in_flight`` while it is open."""
    in_flight[rid] = in_flight.get(rid, 0) + 1
    try:
        return await http_get(port, f"/hold?seconds={seconds}")
    except (OSError, IndexError, ValueError) as exc:
        return f"failed: {exc!r}"
    finally:
        in_flight[rid] -= 1


async def test_scale_down_drains_in_flight_requests_first(h: Harness) -> None:
    t = h.target(settings(replicas=1, grace_period=10))
    await t.start()
    await ready_count(t, 1)
    replica = t.replicas()[0]
    assert replica.port is not None
    request = asyncio.create_task(_hold(replica.port, 1.0, h.in_flight, "shop-0"))
    await eventually(lambda: h.in_flight.get("shop-0"), within=5, what="the request to be in flight")

    await t.scale(0)
    await eventually(lambda: S.DRAINING in h.rec.states("shop-0"), within=5, what="draining")
    status = t.snapshot()
    assert (status.current, status.ready) == (0, 0)  # no longer routed, no longer counted
    assert replica.pid is not None and not gone(replica.pid)

    assert await asyncio.wait_for(request, 10) == (200, "ok\n")
    answered = time.time()
    await eventually(lambda: h.rec.kinds(K.REPLICA_STOPPED), within=10, what="replica_stopped")
    stopped = h.rec.kinds(K.REPLICA_STOPPED)[0]
    assert stopped.details["drained"] is True and stopped.details["in_flight_left"] == 0
    assert stopped.details["signal"] == "SIGTERM"
    assert stopped.timestamp_ms >= answered * 1000 - 50
    stopping_at = next(ts for ts, st in h.rec.changes if any(r.state is S.STOPPING for r in st.replicas))
    assert stopping_at >= answered - 0.05, "SIGTERM came only after the request finished"
    assert h.rec.states("shop-0")[-2:] == [S.DRAINING, S.STOPPING]


async def test_grace_period_bounds_the_drain(h: Harness) -> None:
    t = h.target(settings(replicas=1, grace_period=0.5))
    await t.start()
    await ready_count(t, 1)
    port = t.replicas()[0].port
    assert port is not None
    request = asyncio.create_task(_hold(port, 30, h.in_flight, "shop-0"))
    await eventually(lambda: h.in_flight.get("shop-0"), within=5, what="the request to be in flight")
    await t.scale(0)
    await eventually(lambda: h.rec.kinds(K.REPLICA_STOPPED), within=10, what="replica_stopped")
    stopped = h.rec.kinds(K.REPLICA_STOPPED)[0]
    assert stopped.details["in_flight_left"] == 1
    assert 0.5 <= stopped.details["drain_s"] < 5
    result = await asyncio.wait_for(request, 10)
    assert isinstance(result, str) or result[0] != 200  # cut off: the replica is gone


async def test_sigterm_ignored_gets_sigkill_after_stop_timeout(h: Harness) -> None:
    t = h.target(settings(replicas=1, command=child_command("--ignore-sigterm"), stop_timeout=0.5))
    await t.start()
    await ready_count(t, 1)
    pid = t.replicas()[0].pid
    assert pid is not None
    await t.scale(0)
    await eventually(lambda: h.rec.kinds(K.REPLICA_STOPPED), within=10, what="replica_stopped")
    stopped = h.rec.kinds(K.REPLICA_STOPPED)[0]
    assert stopped.details["signal"] == "SIGKILL" and stopped.details["exit"] == "killed by SIGKILL"
    stopping_at = next(ts for ts, st in h.rec.changes if any(r.state is S.STOPPING for r in st.replicas))
    assert stopped.timestamp_ms / 1000 - stopping_at >= 0.5 - 0.01
    assert gone(pid)


async def test_a_replicas_own_children_are_stopped_with_it(h: Harness) -> None:
    t = h.target(settings(replicas=1, command=child_command("--grandchild")))
    await t.start()
    await ready_count(t, 1)
    log = t.log_path("shop-0")
    line = await eventually(
        lambda: next((ln for ln in log.read_text().splitlines() if ln.startswith("grandchild")), None),
        within=5,
        what="the grandchild's pid in the log",
    )
    grandchild = int(line.split()[1])
    assert not gone(grandchild)
    await t.scale(0)
    await eventually(lambda: gone(grandchild), within=10, what="the grandchild to be stopped")


async def test_misuse_and_bugs_surface(h: Harness) -> None:
    t = h.target(settings())
    with pytest.raises(TargetClosed):
        await t.scale(1)
    await t.start()
    with pytest.raises(InvalidReplicas) as err:
        await t.scale(-1)
    assert err.value.transient is False

    calls = {"n": 0}

    async def broken(replica: Replica) -> bool:
        calls["n"] += 1
        raise RuntimeError("a bug in the probe")

    bad = h.target(settings(replicas=1), broken)
    await bad.start()
    await eventually(lambda: bad.snapshot().current == 0, within=10, what="the broken runner to end")
    with pytest.raises(RuntimeError, match="a bug in the probe"):
        await bad.status()
    stopped = h.rec.kinds(K.REPLICA_STOPPED)[0]
    assert stopped.details["reason"] == "error: RuntimeError('a bug in the probe')"
    assert gone(stopped.details["pid"])

    await t.stop()
    with pytest.raises(TargetClosed):
        await t.scale(1)
