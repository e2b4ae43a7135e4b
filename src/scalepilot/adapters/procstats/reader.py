"""Process and host statistics.

CPU *percent* needs two readings: psutil computes it from the CPU time consumed since the
previous call on the same ``Process`` object, so the reader keeps one object per pid
across readings. A process that exited between readings simply disappears from the
result; a pid reused by a new process is detected by its create time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True, slots=True)
class ProcessReading:
    pid: int
    cpu_seconds: float
    cpu_ratio: float | None
    """Share of one core used since the previous reading (1.5 = one and a half cores);
    None on the first reading of a process."""
    rss_bytes: int
    create_time: float


@dataclass(frozen=True, slots=True)
class HostReading:
    cpu_ratio: float
    """Share of all cores in use, 0..1, since the previous reading."""
    cpu_count: int
    memory_total_bytes: int
    memory_available_bytes: int
    memory_used_ratio: float


class ProcessStatsReader:
    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        # Prime the host counter so the first reading is a real interval, not since boot.
        psutil.cpu_percent(interval=None)

    def read(self, pids: list[int]) -> list[ProcessReading]:
        wanted = set(pids)
        for gone in set(self._procs) - wanted:
            del self._procs[gone]
        out = []
        for pid in pids:
            try:
                proc = self._procs.get(pid)
                first = proc is None
                if proc is None or not proc.is_running():
                    proc = psutil.Process(pid)
                    self._procs[pid] = proc
                    first = True
                with proc.oneshot():
                    times = proc.cpu_times()
                    percent = proc.cpu_percent(interval=None)
                    rss = proc.memory_info().rss
                    created = proc.create_time()
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                self._procs.pop(pid, None)
                continue
            out.append(
                ProcessReading(
                    pid=pid,
                    cpu_seconds=times.user + times.system,
                    cpu_ratio=None if first else percent / 100.0,
                    rss_bytes=rss,
                    create_time=created,
                )
            )
        return out

    def read_host(self) -> HostReading:
        mem = psutil.virtual_memory()
        return HostReading(
            cpu_ratio=psutil.cpu_percent(interval=None) / 100.0,
            cpu_count=psutil.cpu_count() or 1,
            memory_total_bytes=mem.total,
            memory_available_bytes=mem.available,
            memory_used_ratio=(mem.total - mem.available) / mem.total if mem.total else 0.0,
        )


def read_pid_file(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def find_pids(pattern: re.Pattern[str]) -> list[int]:
    """Pids whose joined command line matches ``pattern`` (search, not full match), our
    own process excluded so a pattern that names scalepilot's argv does not match itself."""
    me = psutil.Process().pid
    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if proc.info["pid"] != me and cmd and pattern.search(" ".join(cmd)):
            pids.append(proc.info["pid"])
    return sorted(pids)
