"""The pure parts of the targets adapter.

Covers: the exponential backoff sequence, its cap and reset; crash-loop detection (once
per loop, the window sliding, a new loop after a quiet spell); parsing a status
command's output (one or two counts, empty = 0, errors carry the text); placeholder
rendering leaves other braces alone; exit descriptions; error messages and their
transient/permanent marks, with untrusted output truncated; the replica log's rotation
at its size bound and its tail of the current run; replica records round-trip and
malformed ones are skipped; port allocation avoids ports in use; ``first_of`` returns on
the first completion and on the clock's timeout, and cancels the rest; the package's
public names are pinned (and mypy checks both targets against ``ScaleTarget``).
"""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import pytest

import scalepilot.adapters.targets as targets_pkg
from scalepilot.adapters.targets import CommandTarget, LocalTarget
from scalepilot.adapters.targets.backoff import Backoff, CrashLoop
from scalepilot.adapters.targets.command import parse_status
from scalepilot.adapters.targets.errors import (
    CommandFailed,
    CommandNotRunnable,
    CommandTimeout,
    InvalidReplicas,
    ReplicasUnknown,
    StatusOutputError,
    TargetClosed,
    excerpt,
)
from scalepilot.adapters.targets.local import ports
from scalepilot.adapters.targets.local.leftovers import ReplicaRecord
from scalepilot.adapters.targets.local.logs import LINE_CHARS, ReplicaLog
from scalepilot.adapters.targets.local.supervisor import render
from scalepilot.adapters.targets.process import describe_exit
from scalepilot.adapters.targets.waiting import first_of
from scalepilot.config.targets import BackoffSettings, CrashLoopSettings
from scalepilot.domain.clock import VirtualClock
from scalepilot.domain.targets import ScaleTarget, TargetError


def test_backoff_grows_caps_and_resets() -> None:
    b = Backoff(BackoffSettings(initial=1.0, max=60.0, multiplier=2.0))
    assert [b.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert b.failures == 8
    b.reset()
    assert b.next_delay() == 1.0
    flat = Backoff(BackoffSettings(initial=3.0, max=3.0, multiplier=1.0))
    assert [flat.next_delay() for _ in range(3)] == [3, 3, 3]
    huge = Backoff(BackoffSettings(initial=1.0, max=300.0, multiplier=10.0))
    for _ in range(2000):  # no float overflow however long it fails
        huge.next_delay()
    assert huge.next_delay() == 300.0


def test_crash_loop_is_reported_once_per_loop() -> None:
    loop = CrashLoop(CrashLoopSettings(restarts=3, within=60.0))
    assert [loop.crash(t) for t in (0, 10, 20, 30, 40)] == [False, False, True, False, False]
    assert (loop.recent(40), loop.looping) == (5, True)
    assert (loop.recent(200), loop.looping) == (0, False)  # a quiet window ends it
    assert [loop.crash(t) for t in (200, 210, 220)] == [False, False, True]  # a new loop


def test_crashes_spread_wider_than_the_window_are_no_loop() -> None:
    loop = CrashLoop(CrashLoopSettings(restarts=3, within=60.0))
    assert not any(loop.crash(t) for t in (0, 40, 80, 120, 160))


@pytest.mark.parametrize(
    ("out", "expected"),
    [("3\n", (3, 3)), ("3 2", (3, 2)), ("  5\t5 \n", (5, 5)), ("", (0, 0)), ("\n", (0, 0)), ("0 0", (0, 0))],
)
def test_status_output(out: str, expected: tuple[int, int]) -> None:
    assert parse_status(["kubectl"], out) == expected


@pytest.mark.parametrize(
    ("out", "reason"),
    [("three", "not a whole number"), ("1 2 3", "CURRENT READY"), ("-1", "negative"), ("2.5", "not a whole number")],
)
def test_bad_status_output(out: str, reason: str) -> None:
    with pytest.raises(StatusOutputError) as err:
        parse_status(["kubectl", "get"], out)
    assert reason in str(err.value) and repr(out.strip()) in str(err.value)
    assert err.value.transient is False and err.value.argv == ("kubectl", "get")


def test_render_replaces_only_placeholders() -> None:
    assert render("--port={port}", port=8080, index=2) == "--port=8080"
    assert render("shop-{replica}-{port}", port=1, index=2) == "shop-2-1"
    assert (
        render("jsonpath={.status} {{port}} {replicas} {}", port=1, index=2) == "jsonpath={.status} {1} {replicas} {}"
    )


def test_exit_descriptions() -> None:
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGTERM) == "killed by SIGTERM"


def test_errors_say_transient_or_permanent() -> None:
    argv = ("kubectl", "scale")
    failed = CommandFailed(argv, 1, "error: " + "x" * 2000)
    assert failed.transient and failed.exit_code == 1
    assert str(failed).startswith("kubectl failed with exit code 1: …") and len(failed.stderr) == 500
    assert "killed by signal 9" in str(CommandFailed(argv, -9, ""))
    assert CommandTimeout(argv, 30.0).transient
    assert "within 30s" in str(CommandTimeout(argv, 30.0))
    assert not CommandNotRunnable("cannot run kubectl", argv).transient
    assert ReplicasUnknown("x").transient
    assert not TargetClosed("x").transient
    assert not InvalidReplicas(-2).transient and "-2" in str(InvalidReplicas(-2))
    for cls in (CommandFailed, CommandTimeout, CommandNotRunnable, StatusOutputError, TargetClosed, ReplicasUnknown):
        assert issubclass(cls, TargetError)
    assert excerpt("  short \n") == "short"
    assert excerpt("abcdef", 4) == "…def"


def test_replica_log_rotates_and_keeps_the_tail_of_the_current_run(tmp_path: Path) -> None:
    log = ReplicaLog(tmp_path / "logs" / "shop-0.log", max_bytes=200, tail_lines=3)
    log.begin("starting shop-0")
    log.write(1, b"one\ntwo\nthr")
    log.write(1, b"ee\nfour")
    assert log.last_lines() == ["two", "three", "four"]
    for i in range(20):
        log.write(1, f"line {i:02d} of filler\n".encode())
    log.close()
    current = (tmp_path / "logs" / "shop-0.log").read_bytes()
    rotated = (tmp_path / "logs" / "shop-0.log.1").read_bytes()
    assert len(current) <= 200 and len(rotated) <= 200
    assert current.endswith(b"line 19 of filler\n")
    log.begin("restarting shop-0")  # a new run forgets the old tail, appends to the file
    assert log.last_lines() == []
    log.write(1, b"x" * 1000 + b"\n\xff\n")
    assert log.last_lines() == ["x" * LINE_CHARS, "\ufffd"]
    log.close()


def test_replica_log_survives_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = ReplicaLog(blocker / "shop-0.log", max_bytes=0)
    log.begin("starting")
    log.write(1, b"still tracked\n")  # dropped from disk, kept for the crash event
    assert log.last_lines() == ["still tracked"]
    log.close()


def test_replica_records_round_trip_and_skip_malformed() -> None:
    rec = ReplicaRecord("shop-1", 1, 4242, 1700000000.25, 8080)
    assert ReplicaRecord.from_json(rec.to_json()) == rec
    assert ReplicaRecord.from_json({"id": "a", "index": 0, "pid": 7}) == ReplicaRecord("a", 0, 7, None, None)
    for bad in ({"id": "a", "index": 0}, {"id": "a", "index": 0, "pid": "7"}, {"id": "a", "index": 0, "pid": -1}, {}):
        assert ReplicaRecord.from_json(bad) is None


def test_ports_avoid_those_in_use() -> None:
    with socket.socket() as listener:
        listener.bind((ports.LOOPBACK, 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not ports.is_free(taken)
        port = ports.allocate({taken})
        assert port != taken and ports.is_free(port)


async def test_first_of_returns_on_the_first_completion_or_the_clock() -> None:
    clock = VirtualClock()
    event = asyncio.Event()
    await first_of(event.wait(), clock=clock, seconds=300)  # the clock's 300 s pass at once
    assert clock.now() == 1_700_000_300.0

    async def set_soon() -> None:
        event.set()

    waiter = asyncio.ensure_future(event.wait())
    await first_of(waiter, set_soon(), clock=clock)
    assert event.is_set() and waiter.done()

    async def boom() -> None:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await first_of(boom(), asyncio.Event().wait(), clock=clock)
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert tasks == [], "nothing outlives first_of"


def _implements_the_protocol(local: LocalTarget, command: CommandTarget) -> tuple[ScaleTarget, ScaleTarget]:
    """Checked by mypy, not run: both targets are ScaleTargets."""
    return local, command


def test_public_names_are_pinned() -> None:
    assert sorted(targets_pkg.__all__) == [
        "CommandError",
        "CommandFailed",
        "CommandNotRunnable",
        "CommandTarget",
        "CommandTimeout",
        "InvalidReplicas",
        "LocalTarget",
        "ReplicasUnknown",
        "StatusOutputError",
        "TargetClosed",
        "TargetError",
    ]
