"""The command target with real commands (``target_scale_cmd.py`` stands in for kubectl).

Covers:

- ``scale(n)`` runs the scale argv with ``{replicas}`` replaced and nothing else touched
  (no shell: ``$HOME;`` arrives literally); a repeated request runs again (drift), and a
  burst of calls runs the command once with the latest count;
- ``status()`` reads ``CURRENT`` or ``CURRENT READY`` from the status command (empty
  output is 0); unparseable output is a permanent ``StatusOutputError``;
- without a status command the current count is the last applied one, kept in the store
  across a restart; before any success it is unknown (a transient error);
  ``replicas:`` in the settings is applied by ``start()``;
- failures (exit code, stderr) are events and are retried with exponential backoff: the
  planned delays and the (virtual) times of the attempts match, and the backoff is
  forgotten after a success;
- a missing executable is permanent: not retried, raised by ``scale`` with the same
  count, tried again for another count or after the pause;
- a command exceeding its timeout is killed with its process group and retried;
- ``stop()`` lets a running command finish, and cancels a pending retry.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from scalepilot.adapters.targets import (
    CommandNotRunnable,
    CommandTarget,
    ReplicasUnknown,
    StatusOutputError,
    TargetClosed,
)
from scalepilot.config.targets import CommandTargetSettings
from scalepilot.domain.clock import Clock, SystemClock, VirtualClock
from scalepilot.domain.events import EventKind
from tests.integration.targets_helpers import MemoryStore, Recorder, eventually, gone

SCRIPT = Path(__file__).with_name("target_scale_cmd.py")
K = EventKind


def make_settings(state: Path, *scale_extra: str, status: list[str] | None = None, **kw: Any) -> CommandTargetSettings:
    doc: dict[str, Any] = {
        "type": "command",
        "scale": [sys.executable, str(SCRIPT), "scale", str(state), "--replicas={replicas}", *scale_extra],
        "status": status,
        "timeout": 10,
    }
    return CommandTargetSettings.model_validate(doc | kw)


def status_argv(state: Path, *extra: str) -> list[str]:
    return [sys.executable, str(SCRIPT), "status", str(state), *extra]


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "replicas"
        self.rec = Recorder()
        self.store = MemoryStore()
        self.targets: list[CommandTarget] = []

    def target(self, settings: CommandTargetSettings, clock: Clock | None = None) -> CommandTarget:
        t = CommandTarget("shop", settings, clock=clock or SystemClock(), emit=self.rec.emit, store=self.store)
        self.targets.append(t)
        return t

    def attempts(self) -> int:
        f = self.state.with_name("replicas.attempts")
        return int(f.read_text()) if f.exists() else 0


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    for t in harness.targets:
        await t.stop()


async def test_scale_and_status_through_real_commands(h: Harness) -> None:
    t = h.target(make_settings(h.state, "$HOME;echo", status=status_argv(h.state)))
    await t.start()
    assert h.attempts() == 0, "without `replicas:` start() leaves the service alone"
    status = await t.status()
    assert (status.desired, status.current, status.ready) == (0, 0, 0)  # empty output: kubectl's zero

    await t.scale(3)
    await eventually(lambda: h.rec.kinds(K.SCALE_COMMAND_SUCCEEDED), within=10, what="the scale command")
    argv = json.loads(h.state.with_name("replicas.args").read_text())
    assert argv[-2:] == ["--replicas=3", "$HOME;echo"]
    status = await t.status()
    assert (status.desired, status.current, status.ready) == (3, 3, 3)
    ok = h.rec.kinds(K.SCALE_COMMAND_SUCCEEDED)[0].details
    assert ok["replicas"] == 3 and ok["previous"] is None and ok["attempt"] == 1
    assert ok["stdout"] == "deployment.apps/shop scaled to 3"

    await t.scale(3)  # asked again: run again (the caller may be correcting a drift)
    await eventually(lambda: h.attempts() == 2, within=10, what="the repeated request")
    await t.scale(5)
    await t.scale(4)  # a burst: one run, the latest count wins
    await eventually(lambda: t.applied == 4, within=10, what="4 applied")
    assert h.attempts() == 3
    assert [e.details["replicas"] for e in h.rec.kinds(K.SCALE_COMMAND_SUCCEEDED)] == [3, 3, 4]

    with_ready = h.target(make_settings(h.state, status=status_argv(h.state, "--ready", "2")))
    status = await with_ready.status()
    assert (status.current, status.ready) == (4, 2)


async def test_unparseable_status_is_a_permanent_error(h: Harness) -> None:
    t = h.target(make_settings(h.state, status=status_argv(h.state, "--garbage")))
    with pytest.raises(StatusOutputError) as err:
        await t.status()
    assert err.value.transient is False
    assert "replicas: three" in str(err.value)


async def test_without_status_current_is_the_last_applied_count(h: Harness) -> None:
    t = h.target(make_settings(h.state))
    await t.start()
    with pytest.raises(ReplicasUnknown) as err:
        await t.status()
    assert err.value.transient is True
    await t.scale(2)
    await eventually(lambda: t.applied == 2, within=10, what="2 applied")
    status = await t.status()
    assert (status.desired, status.current, status.ready) == (2, 2, 2)
    await t.stop()

    again = h.target(make_settings(h.state))  # scalepilot restarted, same store
    await again.start()
    status = await again.status()
    assert (status.current, status.ready) == (2, 2)
    assert h.attempts() == 1

    configured = h.target(make_settings(h.state, replicas=5))
    await configured.start()
    await eventually(lambda: configured.applied == 5, within=10, what="replicas: 5 applied at start")
    assert h.state.read_text() == "5"


async def test_failures_are_retried_with_exponential_backoff(h: Harness) -> None:
    clock = VirtualClock()
    backoff = {"initial": "2s", "max": "5s", "multiplier": 2}
    t = h.target(make_settings(h.state, "--fail-first", "3", retry_backoff=backoff), clock)
    await t.start()
    await t.scale(4)
    await eventually(lambda: h.rec.kinds(K.SCALE_COMMAND_SUCCEEDED), within=20, what="success after retries")

    failed = h.rec.kinds(K.SCALE_COMMAND_FAILED)
    assert [e.details["attempt"] for e in failed] == [1, 2, 3]
    assert [e.details["retry_in_s"] for e in failed] == [2.0, 4.0, 5.0]
    assert [e.details["stderr"] for e in failed] == [f"api unavailable (attempt {i})" for i in (1, 2, 3)]
    assert all(e.details["exit_code"] == 1 and e.details["transient"] is True for e in failed)
    assert "exit code 1: api unavailable (attempt 1)" in failed[0].message
    ok = h.rec.kinds(K.SCALE_COMMAND_SUCCEEDED)[0]
    assert ok.details["attempt"] == 4
    times = [e.timestamp_ms for e in [*failed, ok]]
    assert [b - a for a, b in itertools.pairwise(times)] == [2000, 4000, 5000]
    assert t.last_error is None and h.state.read_text() == "4"

    # The backoff was forgotten with the success: a new failure starts at `initial`.
    h.state.with_name("replicas.attempts").write_text("-1")  # the next two runs fail again
    h.targets.remove(t)
    await t.stop()
    t2 = h.target(make_settings(h.state, "--fail-first", "1", retry_backoff=backoff), clock)
    await t2.start()
    await t2.scale(6)
    await eventually(lambda: t2.applied == 6, within=20, what="6 applied")
    assert [e.details["retry_in_s"] for e in h.rec.kinds(K.SCALE_COMMAND_FAILED)[3:]] == [2.0, 4.0]


async def test_missing_executable_is_permanent(h: Harness, tmp_path: Path) -> None:
    clock = VirtualClock()
    missing = str(tmp_path / "no-kubectl")
    settings = CommandTargetSettings.model_validate(
        {"type": "command", "scale": [missing, "{replicas}"], "status": [missing], "retry_backoff": {"max": "5m"}}
    )
    t = h.target(settings, clock)
    await t.start()
    await t.scale(2)
    await eventually(lambda: h.rec.kinds(K.SCALE_COMMAND_FAILED), within=10, what="the failure event")
    failed = h.rec.kinds(K.SCALE_COMMAND_FAILED)[0].details
    assert failed["transient"] is False and "retry_in_s" not in failed
    assert "No such file" in failed["error"] and "no-kubectl" in failed["error"]

    with pytest.raises(CommandNotRunnable) as err:
        await t.scale(2)  # the same count: reported, not retried
    assert err.value.transient is False
    assert isinstance(t.last_error, CommandNotRunnable)
    with pytest.raises(CommandNotRunnable):
        await t.status()

    await t.scale(3)  # another count is tried
    await eventually(lambda: len(h.rec.kinds(K.SCALE_COMMAND_FAILED)) == 2, within=10, what="a second attempt")
    with pytest.raises(CommandNotRunnable):
        await t.scale(3)
    clock.advance(301)  # after retry_backoff.max, the same count is tried again
    await t.scale(3)
    await eventually(lambda: len(h.rec.kinds(K.SCALE_COMMAND_FAILED)) == 3, within=10, what="a third attempt")


async def test_a_command_past_its_timeout_is_killed_and_retried_later(h: Harness) -> None:
    settings = make_settings(h.state, "--sleep", "60", timeout=0.5, retry_backoff={"initial": "1m", "max": "5m"})
    t = h.target(settings)
    await t.start()
    await t.scale(2)
    await eventually(lambda: h.rec.kinds(K.SCALE_COMMAND_FAILED), within=10, what="the timeout")
    failed = h.rec.kinds(K.SCALE_COMMAND_FAILED)[0].details
    assert failed["timeout_s"] == 0.5 and failed["transient"] is True and failed["retry_in_s"] == 60
    pid = int(h.state.with_name("replicas.pid").read_text())
    assert gone(pid)
    await t.stop()  # cancels the pending retry at once
    with pytest.raises(TargetClosed):
        await t.scale(3)


async def test_stop_lets_a_running_command_finish(h: Harness) -> None:
    t = h.target(make_settings(h.state, "--sleep", "0.5"))
    await t.start()
    await t.scale(2)
    await eventually(lambda: h.state.with_name("replicas.pid").exists(), within=10, what="the command to run")
    await t.stop()
    assert h.state.read_text() == "2" and t.applied == 2
