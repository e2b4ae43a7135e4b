"""Process and host CPU / memory as series.

Series names carry a ``scalepilot_`` prefix because they are measured by scalepilot from
the outside, and must not be confused with the ``process_*`` series an application
exports about itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from scalepilot.adapters.procstats import ProcessStatsReader, find_pids, read_pid_file
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.samples import STALE_NAN
from scalepilot.domain.store import Store
from scalepilot.service.loops import run_loop
from scalepilot.service.selfmetrics import SelfMetrics
from scalepilot.service.targets import WatchedProcess

HOST_SERIES = (
    "scalepilot_host_cpu_usage_ratio",
    "scalepilot_host_cpu_count",
    "scalepilot_host_memory_total_bytes",
    "scalepilot_host_memory_available_bytes",
    "scalepilot_host_memory_usage_ratio",
)


class StatsLoop:
    """Reads the host and every watched process each interval.

    ``extra_processes`` lets other parts of scalepilot (the local replicas of a service)
    add processes at run time without a config change.
    """

    def __init__(
        self,
        *,
        interval_s: float,
        host: bool,
        processes: list[WatchedProcess],
        store: Store,
        clock: Clock,
        metrics: SelfMetrics,
        extra_processes: Callable[[], list[WatchedProcess]] = list,
    ) -> None:
        self.interval_s = interval_s
        self._host = host
        self._processes = processes
        self._extra = extra_processes
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._reader = ProcessStatsReader()
        self._ids: dict[Labels, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        await run_loop(
            "stats",
            self._tick,
            clock=self._clock,
            interval_s=self.interval_s,
            offset_s=0.0,
            stop=stop,
            metrics=self._metrics,
        )

    async def _tick(self, scheduled: float) -> None:
        await asyncio.to_thread(self.read_once)

    def _resolve(self) -> list[tuple[WatchedProcess, int]]:
        out = []
        for proc in [*self._processes, *self._extra()]:
            if proc.pid is not None:
                out.append((proc, proc.pid))
            elif proc.pid_file is not None:
                pid = read_pid_file(proc.pid_file)
                if pid is not None:
                    out.append((proc, pid))
            elif proc.cmdline is not None:
                out.extend((proc, pid) for pid in find_pids(proc.cmdline))
        return out

    def read_once(self) -> int:
        ts_ms = to_ms(self._clock.now())
        labels: list[Labels] = []
        values: list[float] = []
        if self._host:
            h = self._reader.read_host()
            for name, value in zip(
                HOST_SERIES,
                (h.cpu_ratio, h.cpu_count, h.memory_total_bytes, h.memory_available_bytes, h.memory_used_ratio),
                strict=True,
            ):
                labels.append(make_labels(name, {"job": "scalepilot"}))
                values.append(float(value))
        resolved = self._resolve()
        readings = {r.pid: r for r in self._reader.read([pid for _, pid in resolved])}
        for proc, pid in resolved:
            r = readings.get(pid)
            if r is None:
                continue
            base = {"job": proc.service, "service": proc.service, "replica": proc.replica, "pid": str(pid)}
            labels.append(make_labels("scalepilot_process_cpu_seconds_total", base))
            values.append(r.cpu_seconds)
            labels.append(make_labels("scalepilot_process_resident_memory_bytes", base))
            values.append(float(r.rss_bytes))
            if r.cpu_ratio is not None:
                labels.append(make_labels("scalepilot_process_cpu_usage_ratio", base))
                values.append(r.cpu_ratio)
        unknown = [lb for lb in labels if lb not in self._ids]
        if unknown:
            self._ids.update(zip(unknown, self._store.series_ids(unknown), strict=True))
        ids = [self._ids[lb] for lb in labels]
        # A process that exited (or a replica that was removed) goes stale at once, and
        # its id is forgotten so restarts with new pids cannot grow this map forever.
        current = set(labels)
        gone = [sid for lb, sid in self._ids.items() if lb not in current]
        self._ids = {lb: self._ids[lb] for lb in labels}
        ids.extend(gone)
        values.extend([STALE_NAN] * len(gone))
        if ids:
            self._store.append(ids, ts_ms, values)
            self._metrics.samples_ingested.inc(len(values))
        return len(values)
