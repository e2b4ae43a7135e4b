"""Read each service's CPU and memory history from the store and right-size it.

What is measured is what ``service/stats.py`` records for every local replica and
watched process: ``scalepilot_process_cpu_seconds_total`` (a counter of CPU seconds)
and ``scalepilot_process_resident_memory_bytes`` (RSS), labelled ``service``,
``replica`` and ``pid``. Both are read through the PromQL engine, one value per step:

* CPU: ``max by (service, replica) (rate(cpu_seconds_total[step]))`` (cores);
* memory: ``max by (service, replica) (max_over_time(resident_memory_bytes[step]))``.

The windows of consecutive steps touch, so the memory peak is the true peak of the
samples, and a replica restarted with a new pid stays one replica. The maths is in
``control/rightsizing.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scalepilot.control.query.engine import MAX_POINTS, Engine
from scalepilot.control.rightsizing import (
    ReplicaSeries,
    ResourceRecommendation,
    RightsizingSettings,
    recommend_cpu,
    recommend_memory,
)
from scalepilot.domain.labels import get_label
from scalepilot.domain.samples import Float64Array, Int64Array
from scalepilot.domain.store import Store

CPU_SERIES = "scalepilot_process_cpu_seconds_total"
MEMORY_SERIES = "scalepilot_process_resident_memory_bytes"
SOURCE = f"scalepilot's process stats ({CPU_SERIES}, {MEMORY_SERIES})"
DEFAULT_STEP_S = 60.0
"""One CPU rate and one memory peak per minute: at the default 15 s stats interval a
1-minute rate has 4 samples, and p95 of 1-minute averages is close to krr's 1.25 min."""


@dataclass(frozen=True, slots=True)
class Current:
    """A replica's configured share (``target.resources``), when the config says."""

    cpu: float | None = None
    memory: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceRecommendation:
    service: str
    cpu: ResourceRecommendation
    memory: ResourceRecommendation
    current: Current


@dataclass(frozen=True, slots=True)
class Report:
    start_ms: int
    end_ms: int
    step_s: float
    settings: RightsizingSettings
    services: tuple[ServiceRecommendation, ...]
    source: str = SOURCE


def step_for(stats_interval_s: float) -> float:
    """The evaluation step: a minute, or 4 stats readings if they are further apart, so
    every rate window holds enough samples."""
    return max(DEFAULT_STEP_S, 4 * stats_interval_s)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _range(engine: Engine, expr: str, start_ms: int, end_ms: int, step_ms: int) -> dict[tuple[str, str], ReplicaSeries]:
    """A range query in pieces of at most MAX_POINTS steps (the engine's limit)."""
    parts: dict[tuple[str, str], tuple[list[Int64Array], list[Float64Array]]] = {}
    span = (MAX_POINTS - 1) * step_ms
    lo = start_ms
    while lo <= end_ms:
        hi = min(lo + span, end_ms)
        for s in engine.range(expr, lo, hi, step_ms).matrix:
            key = (get_label(s.labels, "service"), get_label(s.labels, "replica"))
            ts, vs = parts.setdefault(key, ([], []))
            ts.append(s.timestamps)
            vs.append(s.values)
        lo = hi + step_ms
    out = {}
    for key, (ts, vs) in parts.items():
        values = np.concatenate(vs).astype(np.float64)
        keep = ~np.isnan(values)
        out[key] = ReplicaSeries(key[1], np.concatenate(ts).astype(np.int64)[keep], values[keep])
    return out


def recommend(
    store: Store,
    *,
    now_ms: int,
    window_s: float,
    settings: RightsizingSettings,
    step_s: float = DEFAULT_STEP_S,
    services: Sequence[str] = (),
    current: Mapping[str, Current] | None = None,
) -> Report:
    """Right-size every service with process stats in the window (or only ``services``),
    plus every service of ``current`` (the config's), which shows up with no data if it
    has none."""
    current = current or {}
    step_ms = round(step_s * 1000)
    end_ms = now_ms - now_ms % step_ms
    steps = max(int(window_s * 1000) // step_ms, 1)
    start_ms = end_ms - (steps - 1) * step_ms
    window = f"{step_ms}ms"
    selector = ""
    if services:
        selector = 'service=~"' + "|".join(_quote(_regex_escape(s)) for s in services) + '"'
    engine = Engine(store)
    cpu = _range(
        engine, f"max by (service, replica) (rate({CPU_SERIES}{{{selector}}}[{window}]))", start_ms, end_ms, step_ms
    )
    mem = _range(
        engine,
        f"max by (service, replica) (max_over_time({MEMORY_SERIES}{{{selector}}}[{window}]))",
        start_ms,
        end_ms,
        step_ms,
    )
    # Asked-for services are listed even without data, as is every service of the config.
    names = set(services) if services else {svc for svc, _ in cpu} | {svc for svc, _ in mem} | set(current)
    out = []
    for name in sorted(names):
        cpu_series = [s for (svc, _), s in sorted(cpu.items()) if svc == name]
        mem_series = [s for (svc, _), s in sorted(mem.items()) if svc == name]
        out.append(
            ServiceRecommendation(
                name,
                recommend_cpu(cpu_series, step_s, settings),
                recommend_memory(mem_series, step_s, settings),
                current.get(name, Current()),
            )
        )
    return Report(start_ms, end_ms, step_s, settings, tuple(out))


def _regex_escape(value: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in value)
