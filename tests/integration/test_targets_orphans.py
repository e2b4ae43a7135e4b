"""Nothing is left orphaned when scalepilot dies with ``kill -9``.

A host process (``target_host.py``) runs a LocalTarget with two replicas, each with a
child of its own, recording them in a real SQLite store; the test kills the host with
SIGKILL. Covers:

- with the parent-death signal (the default), the replicas die with the host; their own
  children (which the signal does not reach) are stopped by the next ``start()``;
- with it disabled, they survive the host, and the next ``start()`` on the same store
  finds them (by pid + create time, and by the owner id in their environment) and stops
  them and their children, with a ``replica_orphan_stopped`` event each;
- a recorded pid now used by an unrelated process (a reused pid) is never touched.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
from pathlib import Path

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.adapters.targets import LocalTarget
from scalepilot.adapters.targets.local.target import state_key
from scalepilot.config.models import StorageSettings
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.clock import SystemClock
from scalepilot.domain.events import EventKind
from tests.integration.targets_helpers import HOST, Recorder, child_command, eventually, gone, tcp_ready
from tests.support import Proc, start

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")


def run_host(data_dir: Path, *extra: str) -> tuple[Proc, list[int], list[int]]:
    host = start([sys.executable, str(HOST), str(data_dir), "2", *extra])
    pids = [int(p) for p in host.wait_line("ready", timeout=30).split()[1:]]
    grandchildren = [int(p) for p in host.wait_line("grandchildren", timeout=10).split()[1:]]
    assert len(pids) == 2 and len(grandchildren) == 2
    assert not any(gone(p) for p in pids + grandchildren)
    return host, pids, grandchildren


def kill_host(host: Proc) -> None:
    host.popen.send_signal(signal.SIGKILL)
    assert host.popen.wait(10) == -signal.SIGKILL
    if host.popen.stdout is not None:
        host.popen.stdout.close()


async def clean_up_with_next_start(data_dir: Path, *, plant_pid: int | None = None) -> Recorder:
    """What the next scalepilot does at start-up: ``start()`` on the same store."""
    rec = Recorder()
    store = SQLiteStore.open(data_dir, StorageSettings(data_dir=data_dir))
    try:
        doc = store.get_state(state_key("orphans"))
        assert doc is not None and len(doc["replicas"]) == 2
        if plant_pid is not None:  # an unrelated process under a replica's record: a reused pid
            fake = {"id": "orphans-9", "index": 9, "pid": plant_pid, "create_time": 1.0, "port": None}
            store.put_state(state_key("orphans"), {**doc, "replicas": [*doc["replicas"], fake]})
        settings = LocalTargetSettings.model_validate(
            {"type": "local", "command": child_command(), "replicas": 0, "stop_timeout": 5}
        )
        target = LocalTarget(
            "orphans",
            settings,
            store=store,
            clock=SystemClock(),
            emit=rec.emit,
            probe_ready=tcp_ready,
            in_flight=lambda rid: 0,
            on_change=rec.on_change,
            log_dir=data_dir / "logs",
        )
        await target.start()
        await target.stop()
        assert store.get_state(state_key("orphans")) == {**doc, "replicas": []}
    finally:
        store.close()
    return rec


async def test_replicas_die_with_a_killed_host(tmp_path: Path) -> None:
    host, pids, grandchildren = run_host(tmp_path)
    kill_host(host)
    for pid in pids:
        await eventually(functools.partial(gone, pid), within=10, what=f"replica {pid} to die with its parent")
    # The signal reaches direct children only: the replicas' own children are left for
    # the next start, which finds them by the owner id in their environment.
    rec = await clean_up_with_next_start(tmp_path)
    assert all(gone(pid) for pid in grandchildren)
    found = rec.kinds(EventKind.REPLICA_ORPHAN_STOPPED)
    assert sorted(e.details["pid"] for e in found) == sorted(grandchildren)
    assert {e.details["found_by"] for e in found} == {"environment"}


async def test_next_start_cleans_up_what_a_killed_host_left(tmp_path: Path) -> None:
    host, pids, grandchildren = run_host(tmp_path, "--no-death-signal")
    kill_host(host)
    assert not any(gone(p) for p in pids + grandchildren), "without the death signal they outlive the host"

    stranger = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
    try:
        rec = await clean_up_with_next_start(tmp_path, plant_pid=stranger.pid)
        for pid in pids + grandchildren:
            assert gone(pid), f"pid {pid} survived the clean-up"
        assert stranger.returncode is None and not gone(stranger.pid), "a reused pid was touched"
    finally:
        stranger.kill()
        await stranger.wait()

    found = rec.kinds(EventKind.REPLICA_ORPHAN_STOPPED)
    assert sorted(e.details["pid"] for e in found) == sorted(pids + grandchildren)
    by_pid = {e.details["pid"]: e.details for e in found}
    assert {by_pid[p]["found_by"] for p in pids} == {"record"}
    assert {by_pid[p]["found_by"] for p in grandchildren} == {"environment"}
    assert {by_pid[p]["replica"] for p in pids} == {"orphans-0", "orphans-1"}
    assert {by_pid[p]["replica"] for p in grandchildren} == {"orphans-0", "orphans-1"}
    assert all(d["outcome"] == "terminated" for d in by_pid.values())
