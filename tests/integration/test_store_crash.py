"""Crash consistency of the SQLite store under ``kill -9``.

A real child process (``store_ingest_child.py``) ingests 2000 series every 50 ms with
wall-clock timestamps while a thread compacts constantly; the test kills it with SIGKILL
three times (once right as a maintenance round starts) and after each kill checks:

- SQLite's ``PRAGMA integrity_check`` and a decode of every chunk pass;
- every series holds a gap-free prefix of what the child appended (across all cycles),
  with the right values, the same prefix for every series;
- everything the child reported flushed is there;
- the newest stored sample is at most ``flush_interval`` (plus slack for the 50 ms
  append period and scheduling) older than the last append the child started.

The test waits for the child's progress lines (with a timeout), never sleeps blindly.
"""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.matchers import name_matcher

CHILD = Path(__file__).with_name("store_ingest_child.py")
SERIES = 2000
FLUSH_INTERVAL_MS = int(StorageSettings().flush_interval * 1000)
SLACK_MS = 500  # one 50 ms append period, plus a busy machine's scheduling delays


class Child:
    """The ingesting process and its progress lines, read by a thread into a queue so
    the test can wait for a line with a timeout."""

    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(data_dir), str(SERIES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.appended: list[int] = []
        self.flushed: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _handle(self, line: str) -> None:
        words = line.split(" ")
        if words[0] == "append":
            self.appended.append(int(words[-1]))
        elif words[0] == "flushed":  # "flushed up to T"
            self.flushed = int(words[-1])

    def wait_for(self, wanted: str, *, count: int = 1, timeout: float = 60.0) -> None:
        """Consume lines until ``count`` lines starting with ``wanted`` were seen."""
        seen = 0
        while seen < count:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"child printed no {wanted!r} line within {timeout} s")
            if line is None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                pytest.fail(f"child exited early ({self.proc.poll()}):\n{err}")
            self._handle(line)
            seen += line.startswith(wanted)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        while (line := self.lines.get_nowait()) is not None:  # everything printed before death
            self._handle(line)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def check_store(data_dir: Path, expected_before: list[int], child: Child) -> list[int]:
    """Assert the invariants after a kill; returns the timestamps now stored."""
    conn = sqlite3.connect(f"file:{data_dir / 'store.db'}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    store = SQLiteStore.open(data_dir, StorageSettings(data_dir=data_dir))
    try:
        assert store.integrity_check() == []
        data = store.select([name_matcher("crash_test")], 0, 2**62)
    finally:
        store.close()
    assert len(data) == SERIES
    stored = data[0].timestamps.tolist()
    written = expected_before + child.appended
    assert stored == written[: len(stored)], "not a gap-free prefix of what was appended"
    for series in data:
        offset = float(dict(series.labels)["i"])
        assert series.timestamps.tolist() == stored, "series disagree on what survived"
        assert np.array_equal(series.values, series.timestamps + offset)
    assert child.flushed is not None
    assert stored[-1] >= child.flushed, "samples reported flushed are missing"
    lost_ms = child.appended[-1] - stored[-1]
    assert lost_ms <= FLUSH_INTERVAL_MS + SLACK_MS, f"lost {lost_ms} ms of samples"
    return stored


@pytest.mark.slow
def test_kill_9_never_loses_flushed_samples_nor_corrupts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stored: list[int] = []
    for cycle in range(3):
        child = Child(data_dir)
        try:
            child.wait_for("ready")
            child.wait_for("flushed", count=2)
            if cycle == 1:
                child.wait_for("maintain start")  # kill as a compaction begins
            else:
                child.wait_for("append", count=7 + cycle * 5)  # somewhere between flushes
        finally:
            child.kill()
        stored = check_store(data_dir, stored, child)
