"""The scaling report's arithmetic, without I/O (``scalepilot report``, docs/report.md).

Per service, from one value per minute of what scalepilot recorded:

* **usage** (measured): traffic, p95 latency, error ratio, CPU and memory per replica
  as a share of the replica's limit, requests per replica, ready replicas, and the
  minutes spent at ``max_replicas`` and ``min_replicas``;
* **headroom**: how far the peak was from the ceiling, in replicas (measured) and, with
  a capacity per replica, in requests per second;
* **projections** (simulated): the recorded traffic multiplied by a growth factor (N
  users ÷ the users today, or ×2), replayed through the service's own autoscaling
  section by the simulator (the engine ``scalepilot run`` uses) and through the oracle;
  scaled to 30 days;
* **recommendations**: what to change, each with the figures behind it and where they
  come from.

Everything here is a pure function of arrays and settings, so the same inputs give the
same report, and the tests feed it hand-made minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from scalepilot.config.models import Service
from scalepilot.config.rules import BuiltinPack
from scalepilot.config.scaling import AutoscalingSettings, CPUMetric, MemoryMetric, RPSMetric
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.control.simulation import Report as SimReport
from scalepilot.control.simulation import ServiceModel, Trace, UnsupportedPolicy, oracle, simulate
from scalepilot.control.simulation.model import report_from_steps
from scalepilot.control.simulation.oracle import needed_replicas
from scalepilot.control.simulation.simulator import modelled_part

FloatArray = npt.NDArray[np.float64]

MONTH_S = 30 * 86_400.0
"""Projections and run rates are per 30 days."""
MIN_PROJECTION_MINUTES = 60
"""Less recorded traffic than this is not projected: an hour is the least that shows a shape."""
FLAP_WINDOW_MS = 600_000
"""A scale-up and a scale-down (either order) closer than this count as one reversal."""
FLAPS_PER_DAY = 3.0
"""More reversals per day than this, and the stabilization is too short."""
SATURATED = 90.0
"""p95 utilization (% of a replica's limit) from which replicas are saturated."""
IDLE_AT_MIN = 0.9
"""Share of the minutes at ``min_replicas`` from which the floor does the scaling."""
OVERPROVISIONED = 1.5
"""Measured replica-hours this many times the oracle's, and a policy closer to load pays."""
CALIBRATION = 0.25
"""The policy simulated at the recorded traffic off the measured replica-hours by more than
this share: the capacity model does not describe the service, and projections built on
it are doubtful."""


@dataclass(frozen=True, slots=True)
class Stats:
    """Mean, 95th percentile and maximum of the minutes that have a value."""

    mean: float
    p95: float
    max: float
    points: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def stats(values: FloatArray) -> Stats | None:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    return Stats(float(v.mean()), float(np.percentile(v, 95)), float(v.max()), int(v.size))


MINUTE_COLUMNS = (
    "load_rps",
    "latency_p95_seconds",
    "error_ratio",
    "cpu_cores",
    "memory_bytes",
    "replicas_desired",
    "replicas_ready",
    "replicas_measured",
)
"""``replicas_measured``: the replicas with process stats in the minute (starting and
draining ones too), what CPU and memory are shared among."""


@dataclass(frozen=True, slots=True, eq=False)
class Minutes:
    """One value per step (a minute) on one time axis; NaN where nothing was recorded."""

    start_ms: int
    step_s: float
    columns: dict[str, FloatArray]
    """Every name of ``MINUTE_COLUMNS``, all of the same length."""

    def __getitem__(self, name: str) -> FloatArray:
        return self.columns[name]

    @property
    def size(self) -> int:
        return len(self.columns["load_rps"])


@dataclass(frozen=True, slots=True)
class Facts:
    """What the config says about a service, as far as the report needs it."""

    autoscaling: AutoscalingSettings | None = None
    replicas: int | None = None
    """The local target's configured count (what runs without autoscaling)."""
    cpu_limit_cores: float = 1.0
    """Utilization is a share of this (one core when the target sets none)."""
    memory_limit_bytes: float | None = None
    targets: dict[str, float] = field(default_factory=dict)
    """``cpu`` / ``memory`` (% of the limit) and ``rps`` (per replica): the autoscaling
    metrics' targets (hpa mode) or scale-up thresholds (threshold mode)."""
    replica_rps: float | None = None
    """Capacity per replica, when the config states one (``autoscaling.predictive``)."""
    latency_slo: float | None = None
    """Seconds: the built-in latency alert's critical threshold for this service."""
    error_slo: float | None = None
    """A ratio (0.01 = 1 %): the built-in error-rate alert's critical threshold."""

    @property
    def min_replicas(self) -> int | None:
        return self.autoscaling.min_replicas if self.autoscaling else self.replicas

    @property
    def ceiling(self) -> int | None:
        """The most replicas the service may have: ``max_replicas``, or the fixed count."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas

    @classmethod
    def of(cls, service: Service, pack: BuiltinPack | None = None) -> Facts:
        """``pack``: the built-in alert rules for this service, whose critical thresholds
        are the SLO the report counts minutes against."""
        target = service.target
        cpu, memory, replicas = 1.0, None, None
        if isinstance(target, LocalTargetSettings):
            cpu = target.resources.cpu or 1.0
            memory = float(target.resources.memory) if target.resources.memory else None
            replicas = target.replicas
        auto = service.autoscaling
        targets: dict[str, float] = {}
        capacity = None
        if auto is not None:
            for m in auto.metrics:
                if isinstance(m, CPUMetric | MemoryMetric | RPSMetric):
                    bound = m.target if m.target is not None else m.scale_up_above
                    if bound is not None and m.type not in targets:
                        targets[m.type] = float(bound)
            if auto.predictive.enabled:
                capacity = auto.predictive.replica_rps
        latency = error = None
        if pack is not None:
            if pack.latency.enabled:
                latency = pack.latency.critical
            if pack.error_rate.enabled and pack.error_rate.critical is not None:
                error = pack.error_rate.critical / 100
        return cls(auto, replicas, cpu, memory, targets, capacity, latency, error)


@dataclass(frozen=True, slots=True)
class Usage:
    covered_minutes: int
    """Minutes with a ready-replica reading."""
    traffic_rps: Stats | None
    latency_p95_seconds: Stats | None
    error_ratio: Stats | None
    cpu_utilization: Stats | None
    """% of a replica's CPU limit, per replica (the service's CPU ÷ the replicas that
    had processes in the minute)."""
    memory_utilization: Stats | None
    """% of a replica's memory limit; None without a limit."""
    rps_per_replica: Stats | None
    ready_replicas: Stats | None
    minutes_at_max: int
    """Minutes in which the desired count was at ``max_replicas`` (or above: by hand)."""
    minutes_at_min: int
    """Minutes with the ready count at ``min_replicas`` or below."""
    above_target: dict[str, float]
    """Per metric with a target: the share of covered minutes above it."""
    slow_minutes: int | None = None
    """Minutes with p95 latency above ``Facts.latency_slo`` (None: no threshold, or no
    latency recorded)."""
    slow_at_max: int = 0
    """Of those, the minutes the desired count was at ``max_replicas``: the ceiling's,
    not the policy's."""
    failing_minutes: int | None = None
    """Minutes with the error ratio above ``Facts.error_slo``."""

    def to_dict(self) -> dict[str, Any]:
        def s(x: Stats | None) -> dict[str, float | int] | None:
            return None if x is None else x.to_dict()

        return {
            "covered_minutes": self.covered_minutes,
            "traffic_rps": s(self.traffic_rps),
            "latency_p95_seconds": s(self.latency_p95_seconds),
            "error_ratio": s(self.error_ratio),
            "cpu_utilization_percent": s(self.cpu_utilization),
            "memory_utilization_percent": s(self.memory_utilization),
            "rps_per_replica": s(self.rps_per_replica),
            "ready_replicas": s(self.ready_replicas),
            "minutes_at_max": self.minutes_at_max,
            "minutes_at_min": self.minutes_at_min,
            "above_target": self.above_target,
            "slow_minutes": self.slow_minutes,
            "slow_at_max": self.slow_at_max,
            "failing_minutes": self.failing_minutes,
        }


def _per_replica(total: FloatArray, count: FloatArray, scale: float) -> FloatArray:
    out = np.full(total.shape, np.nan)
    ok = np.isfinite(total) & np.isfinite(count) & (count > 0)
    out[ok] = total[ok] / count[ok] * scale
    return out


def usage(minutes: Minutes, facts: Facts) -> Usage:
    ready, desired = minutes["replicas_ready"], minutes["replicas_desired"]
    covered = np.isfinite(ready)
    # CPU and memory come from every replica process, starting and draining ones too
    # (a rollout runs both versions): share them among those, not among the ready ones.
    measured = minutes["replicas_measured"]
    processes = np.where(np.isfinite(measured) & (measured > 0), measured, ready)
    cpu = _per_replica(minutes["cpu_cores"], processes, 100.0 / facts.cpu_limit_cores)
    mem = (
        _per_replica(minutes["memory_bytes"], processes, 100.0 / facts.memory_limit_bytes)
        if facts.memory_limit_bytes
        else np.full(minutes.size, np.nan)
    )
    per_replica = _per_replica(minutes["load_rps"], ready, 1.0)
    above: dict[str, float] = {}
    n = int(covered.sum())
    for name, values in (("cpu", cpu), ("memory", mem), ("rps", per_replica)):
        bound = facts.targets.get(name)
        if bound is not None and n:
            above[name] = float(np.count_nonzero(np.isfinite(values) & (values > bound))) / n
    at_max = at_min = 0
    pinned = np.zeros(minutes.size, dtype=bool)
    if facts.autoscaling is not None:
        pinned = np.isfinite(desired) & (desired >= facts.autoscaling.max_replicas)
        at_max = int(np.count_nonzero(pinned))
        at_min = int(np.count_nonzero(covered & (ready <= facts.autoscaling.min_replicas)))
    slow = failing = None
    slow_at_max = 0
    # Without a single reading, "0 minutes over" would claim what nobody measured.
    latency, errors = minutes["latency_p95_seconds"], minutes["error_ratio"]
    if facts.latency_slo is not None and np.isfinite(latency).any():
        over = np.isfinite(latency) & (latency > facts.latency_slo)
        slow, slow_at_max = int(np.count_nonzero(over)), int(np.count_nonzero(over & pinned))
    if facts.error_slo is not None and np.isfinite(errors).any():
        failing = int(np.count_nonzero(np.isfinite(errors) & (errors > facts.error_slo)))
    return Usage(
        covered_minutes=n,
        traffic_rps=stats(minutes["load_rps"]),
        latency_p95_seconds=stats(minutes["latency_p95_seconds"]),
        error_ratio=stats(minutes["error_ratio"]),
        cpu_utilization=stats(cpu),
        memory_utilization=stats(mem),
        rps_per_replica=stats(per_replica),
        ready_replicas=stats(ready),
        minutes_at_max=at_max,
        minutes_at_min=at_min,
        above_target=above,
        slow_minutes=slow,
        slow_at_max=slow_at_max,
        failing_minutes=failing,
    )


@dataclass(frozen=True, slots=True)
class Headroom:
    peak_rps: float | None
    peak_at_ms: int | None
    ready_at_peak: float | None
    """Ready replicas in the peak minute."""
    ceiling: int | None
    """``max_replicas``, or the fixed count without autoscaling."""
    replica_headroom: float | None
    """``ceiling`` ÷ ``ready_at_peak``: how many times the peak's replicas still fit."""
    replica_rps: float | None
    capacity_rps: float | None
    """``ceiling`` × ``replica_rps``: the most the service can serve within its SLO."""
    growth: float | None
    """``capacity_rps`` ÷ ``peak_rps``: how many times the peak the ceiling can carry."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def headroom(minutes: Minutes, facts: Facts, replica_rps: float | None) -> Headroom:
    load, ready = minutes["load_rps"], minutes["replicas_ready"]
    ceiling = facts.ceiling
    peak = peak_at = at_peak = None
    if np.isfinite(load).any():
        i = int(np.nanargmax(load))
        peak = float(load[i])
        peak_at = minutes.start_ms + round(i * minutes.step_s * 1000)
        at_peak = float(ready[i]) if math.isfinite(ready[i]) else None
    room = ceiling / at_peak if ceiling and at_peak else None
    capacity = ceiling * replica_rps if ceiling and replica_rps else None
    growth = capacity / peak if capacity and peak else None
    return Headroom(peak, peak_at, at_peak, ceiling, room, replica_rps, capacity, growth)


@dataclass(frozen=True, slots=True)
class Growth:
    """A multiple of the recorded traffic to project, and how to call it."""

    label: str
    factor: float


def users_growth(users_now: float, users: Sequence[float]) -> list[Growth]:
    """N users when ``users_now`` made the recorded traffic: load grows in proportion."""
    if not users_now > 0:
        raise ValueError("the users today must be more than 0")
    out = []
    for n in users:
        if not n > 0:
            raise ValueError(f"a user count must be more than 0, not {n:g}")
        out.append(Growth(f"{n:,.0f} users", n / users_now))
    return out


AS_RECORDED = Growth("as recorded", 1.0)


def growth_plan(growths: Sequence[Growth]) -> list[Growth]:
    """What is projected: the traffic as recorded (it checks the capacity model against
    what was measured), then each other growth from the smallest."""
    return [AS_RECORDED, *sorted((g for g in growths if g.factor != 1.0), key=lambda g: g.factor)]


def factor_growth(factors: Sequence[float]) -> list[Growth]:
    out = []
    for f in factors:
        if not f > 0:
            raise ValueError(f"a growth factor must be more than 0, not {f:g}")
        out.append(Growth(f"×{f:g}", f))
    return out


@dataclass(frozen=True, slots=True)
class Projection:
    """One growth's month, simulated. Reports are per 30 days."""

    label: str
    factor: float
    peak_rps: float
    needed_replicas: int
    """What the peak minute needs: the oracle's count, uncapped."""
    policy: str
    """``autoscaling (hpa mode)``, or ``fixed N replicas`` without autoscaling."""
    run: SimReport | None
    """The service's own policy; None when the simulator cannot model it (see ``note``)."""
    peak_replicas: int | None
    oracle: SimReport
    """Perfect foresight and instant startup within ``min_replicas`` and no ceiling:
    the least any policy could spend."""
    ceiling: int | None
    note: str = ""

    @property
    def capped(self) -> bool:
        return self.ceiling is not None and self.needed_replicas > self.ceiling

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "factor": self.factor,
            "peak_rps": self.peak_rps,
            "needed_replicas": self.needed_replicas,
            "ceiling": self.ceiling,
            "capped": self.capped,
            "policy": self.policy,
            "per_30_days": None if self.run is None else self.run.to_dict(),
            "peak_replicas": self.peak_replicas,
            "oracle_per_30_days": self.oracle.to_dict(),
            "note": self.note,
        }


def _per_month(report: SimReport, span_s: float) -> SimReport:
    k = MONTH_S / span_s
    return replace(
        report,
        slo_violation_minutes=report.slo_violation_minutes * k,
        replica_hours=report.replica_hours * k,
        cost=report.cost * k,
        scaling_actions=round(report.scaling_actions * k),
        overload_requests=report.overload_requests * k,
    )


def traffic_trace(minutes: Minutes) -> tuple[Trace, int] | None:
    """The recorded request rate as a trace: leading and trailing minutes without a
    value dropped, gaps between filled linearly. Also the minutes actually recorded;
    None below ``MIN_PROJECTION_MINUTES`` of them."""
    load = minutes["load_rps"]
    known = np.flatnonzero(np.isfinite(load))
    if known.size < MIN_PROJECTION_MINUTES:
        return None
    first, last = int(known[0]), int(known[-1])
    idx = np.arange(first, last + 1)
    rps = np.interp(idx, known, load[known]).clip(min=0.0)
    times = minutes.start_ms / 1000 + idx * minutes.step_s
    return Trace.of(times, rps), int(known.size)


def project(
    trace: Trace,
    step_s: float,
    growths: Sequence[Growth],
    facts: Facts,
    model: ServiceModel,
    progress: Callable[[str], None] | None = None,
) -> list[Projection]:
    """Each growth of ``trace`` through the service's policy and the oracle, per 30 days."""
    span = trace.rps.size * step_s
    # The oracle keeps the policy's floor; a fixed count is what is being questioned, so
    # without autoscaling it may go down to one replica.
    floor = max(1, facts.autoscaling.min_replicas if facts.autoscaling else 1)
    out = []
    for g in growths:
        grown = Trace(trace.timestamps, trace.rps * g.factor)
        need = int(max(float(needed_replicas(np.array([grown.peak]), model.replica_rps)[0]), floor))
        best = oracle(grown, model, floor, need, step_s).report
        run: SimReport | None = None
        peak: int | None = None
        note = ""
        if facts.autoscaling is not None:
            policy = f"autoscaling ({facts.autoscaling.mode} mode)"
            # A guard the simulator has no model of (latency, memory, in-flight) is left
            # out, and the note says so, rather than projecting nothing for the policy.
            settings, dropped = modelled_part(facts.autoscaling)
            if settings is None:
                note = f"the simulator cannot run this policy: it has no model of {', '.join(dropped)}"
            else:
                if dropped:
                    note = f"simulated without {', '.join(dropped)}: the simulator has no model of it"
                try:
                    done = simulate(g.label, settings, grown, model, step=step_s)
                except UnsupportedPolicy as exc:
                    note = f"the simulator cannot run this policy: {exc}"
                else:
                    run, peak = done.report, int(np.ceil(done.provisioned.max()))
        elif facts.replicas is not None:
            policy = f"fixed {facts.replicas} replicas"
            fixed = np.full(grown.rps.size, float(facts.replicas))
            run, peak = report_from_steps(grown.rps, fixed, fixed, step_s, model, 0), facts.replicas
        else:
            policy = "none"
            note = "scalepilot runs no replicas of this service: only the oracle is projected"
        out.append(
            Projection(
                g.label,
                g.factor,
                grown.peak,
                need,
                policy,
                None if run is None else _per_month(run, span),
                peak,
                _per_month(best, span),
                facts.ceiling,
                note,
            )
        )
        if progress is not None:
            progress(g.label)
    return out


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: str
    text: str
    """What to change."""
    evidence: str
    """The figures behind it."""
    source: str
    """``measured``, ``simulated``, or both."""
    key: str = ""
    """The message catalog's key for ``text`` and ``evidence`` (the dashboard writes
    them in the reader's language from ``params``); empty: English only."""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reversals(moves: Sequence[tuple[int, int]]) -> int:
    """Direction changes closer than ``FLAP_WINDOW_MS``: ``moves`` are (time ms, ±1) in
    time order, one per scale-up or scale-down."""
    return sum(1 for (t0, d0), (t1, d1) in pairwise(moves) if d0 != d1 and t1 - t0 < FLAP_WINDOW_MS)


def minutes_text(n: int) -> str:
    return "1 minute" if n == 1 else f"{n:,} minutes"


def _pct(x: float) -> str:
    return f"{x:.0f} %" if x >= 10 else f"{x:.1f} %"


def recommend(
    facts: Facts,
    used: Usage,
    room: Headroom,
    *,
    measured_replica_hours: float | None,
    covered_s: float,
    flaps: int,
    failed: int,
    projections: Sequence[Projection],
    capacity_known: bool,
) -> list[Recommendation]:
    """What to change, most urgent first. Each rule names its evidence."""
    out: list[Recommendation] = []
    auto = facts.autoscaling
    covered = used.covered_minutes
    if auto is not None and used.minutes_at_max:
        share = used.minutes_at_max / covered * 100 if covered else 100.0
        out.append(
            Recommendation(
                "raise_max_replicas",
                f"raise autoscaling.max_replicas above {auto.max_replicas}: the autoscaler wanted more",
                f"the desired count was at max_replicas {auto.max_replicas} in {minutes_text(used.minutes_at_max)} "
                f"({_pct(share)} of the recorded time)",
                "measured",
                "raise_max_replicas",
                {"max": auto.max_replicas, "minutes": used.minutes_at_max, "share": round(share, 1)},
            )
        )
    capped = [p for p in projections if p.capped]
    if capped:
        first = min(capped, key=lambda p: p.factor)
        what = "max_replicas" if auto is not None else "the replica count"
        out.append(
            Recommendation(
                "ceiling_for_growth",
                f"at {first.label} the peak needs {first.needed_replicas} replicas: raise {what} "
                f"({first.ceiling}) to at least {first.needed_replicas} before that growth",
                f"peak {first.peak_rps:,.1f} req/s (the recorded traffic ×{first.factor:g}) at the capacity per "
                f"replica given; the oracle's count",
                "simulated",
            )
        )
    if auto is not None and used.slow_minutes and facts.latency_slo is not None:
        by_policy = used.slow_minutes - used.slow_at_max
        if by_policy > 0:
            out.append(
                Recommendation(
                    "scale_earlier",
                    "scale earlier: latency went over its critical threshold while the autoscaler could still "
                    "add replicas (a lower target, a latency metric, or autoscaling.predictive)",
                    f"p95 above {facts.latency_slo * 1000:g} ms in {minutes_text(used.slow_minutes)}, "
                    f"{by_policy} of them below max_replicas {auto.max_replicas}",
                    "measured",
                    "scale_earlier",
                    {
                        "slo_ms": round(facts.latency_slo * 1000),
                        "minutes": used.slow_minutes,
                        "below_max": by_policy,
                        "max": auto.max_replicas,
                    },
                )
            )
    cpu = used.cpu_utilization
    if cpu is not None and cpu.p95 >= SATURATED:
        targeted = "cpu" in facts.targets
        fix = "lower the CPU target" if targeted else "add replicas or enable autoscaling on cpu"
        out.append(
            Recommendation(
                "saturated",
                f"replicas run near their CPU limit: {fix}, so new replicas start before requests queue",
                f"CPU per replica p95 {_pct(cpu.p95)} of its limit ({facts.cpu_limit_cores:g} cores), "
                f"max {_pct(cpu.max)}",
                "measured",
                "saturated_target" if targeted else "saturated",
                {"p95": round(cpu.p95, 1), "max": round(cpu.max, 1), "cores": facts.cpu_limit_cores},
            )
        )
    if failed:
        out.append(
            Recommendation(
                "scaling_failed",
                "fix the target's scaling: some scale actions failed (scalepilot events --kind scale_failed)",
                f"{failed} failed scaling action{'s' if failed != 1 else ''} in the range",
                "measured",
                "scaling_failed",
                {"count": failed},
            )
        )
    days = covered_s / 86_400
    # A short range is judged as a day: one reversal in two hours is not a habit.
    if auto is not None and flaps > FLAPS_PER_DAY * max(days, 1.0):
        knob = (
            "the scale-down stabilization window (behavior.scaleDown.stabilizationWindowSeconds)"
            if auto.mode == "hpa"
            else "the scale-down cooldown (cooldown.down)"
        )
        out.append(
            Recommendation(
                "flapping",
                f"lengthen {knob}: the count goes up and down again within minutes",
                f"{flaps} reversals within {FLAP_WINDOW_MS // 60_000} minutes over {days:.1f} days",
                "measured",
                "flapping_hpa" if auto.mode == "hpa" else "flapping_threshold",
                {"reversals": flaps, "minutes": FLAP_WINDOW_MS // 60_000, "days": round(days, 1)},
            )
        )
    cpu_target = facts.targets.get("cpu")
    if (
        auto is not None
        and auto.min_replicas > 1
        and covered
        and used.minutes_at_min / covered >= IDLE_AT_MIN
        and cpu is not None
        and cpu_target
        and cpu.p95 < cpu_target / 2
    ):
        fewer = max(1, math.ceil(auto.min_replicas * cpu.p95 / cpu_target))
        if fewer < auto.min_replicas:
            out.append(
                Recommendation(
                    "lower_min_replicas",
                    f"lower autoscaling.min_replicas from {auto.min_replicas} to {fewer}: the floor, not the load, "
                    "sets the count",
                    f"at min_replicas {_pct(used.minutes_at_min / covered * 100)} of the time, CPU per replica p95 "
                    f"{_pct(cpu.p95)} against a target of {_pct(cpu_target)}; {fewer} would carry that p95 at the "
                    "target",
                    "measured",
                    "lower_min_replicas",
                    {
                        "min": auto.min_replicas,
                        "fewer": fewer,
                        "share": round(used.minutes_at_min / covered * 100, 1),
                        "p95": round(cpu.p95, 1),
                        "target": cpu_target,
                    },
                )
            )
    now = next((p for p in projections if p.factor == 1.0), None)
    if now is not None and measured_replica_hours and covered_s > 0:
        monthly = measured_replica_hours * MONTH_S / covered_s
        simulated = now.run.replica_hours if now.run is not None else None
        if simulated is not None and abs(simulated - monthly) > CALIBRATION * monthly:
            out.append(
                Recommendation(
                    "check_capacity",
                    "check the capacity per replica before trusting the projections: simulated at the recorded "
                    "traffic, the policy does not spend what it spent (re-measure with scalepilot loadtest)",
                    f"{simulated:,.0f} replica-hours per 30 days simulated against {monthly:,.0f} measured "
                    f"({(simulated / monthly - 1) * 100:+.0f} %)",
                    "measured and simulated",
                )
            )
        least = now.oracle.replica_hours
        if least > 0 and monthly >= OVERPROVISIONED * least:
            out.append(
                Recommendation(
                    "overprovisioned",
                    "scale closer to the load (scalepilot tune searches the policy's parameters): "
                    f"at most {(1 - least / monthly) * 100:.0f} % of the replica-hours are needed",
                    f"{monthly:,.0f} replica-hours per 30 days measured; the oracle needs {least:,.0f} for the same "
                    "traffic (a lower bound, with perfect foresight)",
                    "measured and simulated",
                )
            )
    if auto is None and facts.replicas is not None and room.ready_at_peak is not None and used.traffic_rps:
        out.append(
            Recommendation(
                "enable_autoscaling",
                "add an autoscaling: section: the count is fixed whatever the load",
                f"{facts.replicas} replicas all the time; traffic from {used.traffic_rps.mean:,.1f} req/s on average "
                f"to {used.traffic_rps.max:,.1f} at the peak",
                "measured",
                "enable_autoscaling",
                {
                    "replicas": facts.replicas,
                    "mean": round(used.traffic_rps.mean, 1),
                    "peak": round(used.traffic_rps.max, 1),
                },
            )
        )
    if not capacity_known:
        out.append(
            Recommendation(
                "measure_capacity",
                "measure a replica's capacity (scalepilot loadtest URL -o model.yaml, then --model model.yaml) "
                "for headroom in requests per second and projections",
                "no capacity per replica was given, and the config states none (autoscaling.predictive.replica_rps)",
                "",
                "measure_capacity",
            )
        )
    return out
