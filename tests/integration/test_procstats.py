"""Process and host statistics from a real child process.

Covers: CPU seconds grow and CPU ratio is measured between two readings of a busy
process; RSS is reported; the first reading has no ratio; a dead process drops out;
pid files and command-line patterns find processes; host readings are sane.
"""

from __future__ import annotations

import re
import signal
import sys
import time
import uuid
from pathlib import Path

from scalepilot.adapters.procstats import ProcessStatsReader, find_pids, read_pid_file
from tests.support import start, wait_for


def test_busy_process_cpu_and_memory(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    busy = start(
        [
            sys.executable,
            "-c",
            f"import sys; sys.argv.append('{marker}'); print('go', flush=True)\nwhile True: pass",
            marker,
        ]
    )
    try:
        busy.wait_line("go", timeout=10)
        reader = ProcessStatsReader()
        (first,) = reader.read([busy.pid])
        assert first.cpu_ratio is None and first.rss_bytes > 1_000_000
        # A spinning process accrues CPU time; poll until psutil sees some.
        second = wait_for(
            lambda: (r := reader.read([busy.pid])) and r[0].cpu_seconds > first.cpu_seconds + 0.05 and r[0],
            timeout=10,
            what="CPU time to grow",
        )
        assert second.cpu_ratio is not None and second.cpu_ratio > 0.2

        assert find_pids(re.compile(re.escape(marker))) == [busy.pid]
        pid_file = tmp_path / "busy.pid"
        pid_file.write_text(f"{busy.pid}\n")
        assert read_pid_file(pid_file) == busy.pid
        assert read_pid_file(tmp_path / "missing.pid") is None
    finally:
        busy.stop(signal.SIGKILL)
    assert ProcessStatsReader().read([busy.pid]) == []


def test_host_reading() -> None:
    reader = ProcessStatsReader()
    time.sleep(0.05)  # psutil needs an interval between two CPU readings to compute a ratio
    host = reader.read_host()
    assert 0.0 <= host.cpu_ratio <= 1.0
    assert host.cpu_count >= 1
    assert 0 < host.memory_available_bytes <= host.memory_total_bytes
    assert 0.0 < host.memory_used_ratio < 1.0
