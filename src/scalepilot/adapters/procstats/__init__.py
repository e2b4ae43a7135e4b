"""Per-process and host CPU and memory, read with psutil."""

from scalepilot.adapters.procstats.reader import (
    HostReading,
    ProcessReading,
    ProcessStatsReader,
    find_pids,
    read_pid_file,
)

__all__ = ["HostReading", "ProcessReading", "ProcessStatsReader", "find_pids", "read_pid_file"]
