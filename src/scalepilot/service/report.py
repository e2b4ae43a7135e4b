"""The scaling report, read from the store (``scalepilot report``, ``GET /api/v1/report``).

Per service over a range: the replica-hours and the range of the ready count (the
stored ``scalepilot_service_replicas`` samples integrated, nothing guessed for time
without samples), the scaling events, one value per minute of the dashboard's figures
(the same PromQL as the service's charts), and from those the usage, headroom,
projections and recommendations of ``control.report``. Every figure says where it
comes from: measured, the capacity model, the price given, or simulated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from scalepilot.config.models import Config, Service
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.control.dashboard import REPLICAS, on_axis, report_queries
from scalepilot.control.query.engine import MAX_POINTS
from scalepilot.control.report import (
    MINUTE_COLUMNS,
    MONTH_S,
    Facts,
    Growth,
    Headroom,
    Minutes,
    Projection,
    Recommendation,
    Usage,
    growth_plan,
    headroom,
    project,
    recommend,
    reversals,
    traffic_trace,
    usage,
)
from scalepilot.control.rightsizing import RightsizingSettings, change
from scalepilot.control.simulation import ServiceModel
from scalepilot.domain.clock import iso_ms
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.matchers import Matcher, MatchOp
from scalepilot.domain.query import MetricSource
from scalepilot.domain.store import Store
from scalepilot.service import recommend as rightsizing

STEP_S = 60.0
"""One value per minute: a month is 43,200 points, what the simulator replays in seconds."""
SCALING_KINDS = (
    EventKind.SCALED,
    EventKind.MANUAL_SCALE,
    EventKind.SCALE_FAILED,
    EventKind.AUTOSCALING_PAUSED,
    EventKind.AUTOSCALING_RESUMED,
)
REPORT_EVENT_LIMIT = 10_000
RIGHTSIZE_CHANGE = 0.2
"""A right-sizing change smaller than this (either way) is not worth a recommendation."""


def decision_row(e: Event) -> dict[str, Any]:
    """A scaling event as the report and the charts list it."""
    d = e.details or {}
    return {
        "timestamp_ms": e.timestamp_ms,
        "time": iso_ms(e.timestamp_ms),
        "service": e.service,
        "kind": str(e.kind),
        "from": d.get("from"),
        "to": d.get("to", d.get("replicas")),
        # A resume has no reason of its own; its message would only repeat the actor.
        "reason": d.get("reason") or d.get("error") or ("" if e.kind == EventKind.AUTOSCALING_RESUMED else e.message),
        "actor": d.get("actor", "autoscaler"),
    }


def action_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    moves = [r for r in rows if r["kind"] in (EventKind.SCALED, EventKind.MANUAL_SCALE)]
    return {
        "scaling_actions": len(moves),
        "scale_ups": sum(1 for r in moves if (r["to"] or 0) > (r["from"] or 0)),
        "scale_downs": sum(1 for r in moves if (r["to"] or 0) < (r["from"] or 0)),
        "manual": sum(1 for r in moves if r["kind"] == EventKind.MANUAL_SCALE),
        "failed": sum(1 for r in rows if r["kind"] == EventKind.SCALE_FAILED),
    }


def replica_hours(store: Store, name: str, start_ms: int, end_ms: int, refresh_s: float) -> dict[str, Any]:
    """Replica-hours from the stored ready-replica series: each sample holds until the
    next, for at most two refresh intervals (one missed tick is bridged); time without
    samples counts nothing and is reported as not covered rather than guessed."""
    matchers = [
        Matcher("__name__", MatchOp.EQ, REPLICAS),
        Matcher("service", MatchOp.EQ, name),
        Matcher("state", MatchOp.EQ, "ready"),
    ]
    data = store.select(matchers, start_ms, end_ms)
    hold_ms = round(refresh_s * 1000 * 2)
    total = 0.0
    covered_ms = 0
    low: float | None = None
    high: float | None = None
    for series in data:
        ts = np.asarray(series.timestamps, dtype=np.int64)
        vals = np.asarray(series.values, dtype=np.float64)
        keep = np.isfinite(vals)
        ts, vals = ts[keep], vals[keep]
        if len(ts) == 0:
            continue
        nxt = np.append(ts[1:], min(end_ms, int(ts[-1]) + hold_ms))
        span = np.minimum(nxt - ts, hold_ms).clip(min=0)
        total += float((vals * span).sum()) / 3_600_000
        covered_ms += int(span.sum())
        low = float(vals.min()) if low is None else min(low, float(vals.min()))
        high = float(vals.max()) if high is None else max(high, float(vals.max()))
    return {
        "replica_hours": round(total, 4),
        "covered_seconds": covered_ms / 1000,
        "min_replicas": low,
        "max_replicas": high,
    }


@dataclass(frozen=True, slots=True)
class Capacity:
    """What one replica serves, for headroom and projections, and where that comes from."""

    replica_rps: float
    startup_delay: float = 60.0
    source: str = "given"
    startup_source: str = "the default 60s"


MIN_STARTS = 3
"""Replica starts in the range from which their median is the projections' startup delay."""


def measured_startup(store: Store, service: str, start_ms: int, end_ms: int) -> tuple[float, int] | None:
    """The median time from a local replica's start to its readiness (the
    ``replica_ready`` events' ``startup_s``) in the range, and how many it rests on;
    None below ``MIN_STARTS``."""
    found = store.events(
        since_ms=start_ms, until_ms=end_ms, kinds=[EventKind.REPLICA_READY], service=service, limit=REPORT_EVENT_LIMIT
    )
    delays = [float(e.details["startup_s"]) for e in found if isinstance(e.details.get("startup_s"), int | float)]
    if len(delays) < MIN_STARTS:
        return None
    return float(np.median(delays)), len(delays)


@dataclass(frozen=True, slots=True)
class Options:
    range_s: float
    services: Sequence[str] = ()
    capacity: Capacity | None = None
    """For every service reported; None: each service's ``autoscaling.predictive.replica_rps``."""
    startup_delay: float | None = None
    """Seconds, given: overrides the replicas' measured start-up and the capacity's."""
    price: float | None = None
    """Per replica-hour, in any currency; None: no costs."""
    growths: Sequence[Growth] = ()
    """Projected besides the traffic as recorded (``growth_plan``), when a capacity is known."""
    project: bool = True
    """False: no simulation at all (the API answers within a request)."""


@dataclass(slots=True)
class ServiceReport:
    service: str
    facts: Facts
    replicas: dict[str, Any]
    actions: dict[str, int]
    decisions: list[dict[str, Any]]
    usage: Usage
    headroom: Headroom
    capacity: Capacity | None
    cost: dict[str, float] | None
    projections: list[Projection] = field(default_factory=list)
    projection_note: str = ""
    recommendations: list[Recommendation] = field(default_factory=list)
    minutes: Minutes | None = None
    """The per-minute figures behind ``usage`` (for charts; not in ``to_dict``)."""

    def to_dict(self) -> dict[str, Any]:
        cap = self.capacity
        return {
            "service": self.service,
            **self.replicas,
            **self.actions,
            "configured": {
                "min_replicas": self.facts.min_replicas,
                "ceiling": self.facts.ceiling,
                "autoscaling": self.facts.autoscaling is not None,
                "targets": self.facts.targets,
                "latency_slo_seconds": self.facts.latency_slo,
                "error_slo_ratio": self.facts.error_slo,
            },
            "usage": self.usage.to_dict(),
            "headroom": self.headroom.to_dict(),
            "capacity": None
            if cap is None
            else {
                "replica_rps": cap.replica_rps,
                "source": cap.source,
                "startup_delay_seconds": cap.startup_delay,
                "startup_source": cap.startup_source,
            },
            "cost": self.cost,
            "projections": [p.to_dict() for p in self.projections],
            "projection_note": self.projection_note,
            "recommendations": [r.to_dict() for r in self.recommendations],
        }


@dataclass(slots=True)
class ScalingReport:
    start_ms: int
    end_ms: int
    range_s: float
    services: list[ServiceReport]
    events: list[dict[str, Any]]
    sources: dict[str, str]
    price: float | None = None
    """Per replica-hour, as given: the costs are figures only with it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": iso_ms(self.end_ms),
            "start": iso_ms(self.start_ms),
            "end": iso_ms(self.end_ms),
            "range_seconds": self.range_s,
            "step_seconds": STEP_S,
            "services": [s.to_dict() for s in self.services],
            "events": self.events,
            "sources": self.sources,
        }


async def read_minutes(source: MetricSource, service: Service, config: Config, start_ms: int, end_ms: int) -> Minutes:
    """The dashboard's figures of ``service``, one per minute, in pieces the engine allows."""
    step_ms = round(STEP_S * 1000)
    scrape_s = service.scrape.interval or config.scrape.interval
    queries = report_queries(service, scrape_s, config.host_stats.interval, STEP_S)
    times = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
    columns = {name: np.full(times.size, np.nan) for name in MINUTE_COLUMNS}
    span = (MAX_POINTS - 1) * step_ms
    lo = start_ms
    while lo <= end_ms:
        hi = min(lo + span, end_ms)
        results = await asyncio.gather(*(source.query_range(queries[n], lo, hi, step_ms) for n in MINUTE_COLUMNS))
        for name, result in zip(MINUTE_COLUMNS, results, strict=True):
            on_axis(result.matrix, times, columns[name])
        lo = hi + step_ms
    return Minutes(start_ms, STEP_S, columns)


def _capacity(
    store: Store, service: Service, facts: Facts, options: Options, start_ms: int, end_ms: int
) -> Capacity | None:
    """The capacity given (or the config's), with the startup delay given, else measured
    from the replicas' starts in the range, else the capacity's own."""
    cap = options.capacity
    if cap is None and facts.replica_rps:
        cap = Capacity(facts.replica_rps, source="the config's autoscaling.predictive.replica_rps")
    if cap is None:
        return None
    if options.startup_delay is not None:
        return replace(cap, startup_delay=options.startup_delay, startup_source="--startup-delay")
    measured = measured_startup(store, service.name, start_ms, end_ms)
    if measured is not None:
        median, starts = measured
        return replace(cap, startup_delay=median, startup_source=f"measured: the median of {starts} replica starts")
    return cap


def _amount(what: str, x: float) -> str:
    return f"{x:.2f} cores" if what == "cpu" else f"{x / 2**20:.0f} MiB"


def _rightsizing(store: Store, service: Service, config: Config, now_ms: int, window_s: float) -> list[Recommendation]:
    if not isinstance(service.target, LocalTargetSettings):
        return []
    res = service.target.resources
    current = rightsizing.Current(cpu=res.cpu, memory=float(res.memory) if res.memory else None)
    found = rightsizing.recommend(
        store,
        now_ms=now_ms,
        window_s=window_s,
        settings=RightsizingSettings(),
        step_s=rightsizing.step_for(config.host_stats.interval),
        services=[service.name],
        current={service.name: current},
    )
    out = []
    for r in found.services:
        for what, rec, now in (("cpu", r.cpu, current.cpu), ("memory", r.memory, current.memory)):
            delta = change(now, rec.request)
            if delta is None or abs(delta) < RIGHTSIZE_CHANGE or rec.request is None or now is None:
                continue
            out.append(
                Recommendation(
                    f"rightsize_{what}",
                    f"set target.resources.{what} from {_amount(what, now)} to {_amount(what, rec.request)} "
                    f"({delta * 100:+.0f} %), as robusta krr's simple strategy would",
                    rec.reason,
                    "measured",
                    f"rightsize_{what}",
                    {
                        "current": round(now, 3),
                        "recommended": round(rec.request, 3),
                        "change": round(delta * 100),
                        "points": rec.points,
                    },
                )
            )
    return out


async def build_report(
    store: Store,
    source: MetricSource,
    config: Config,
    *,
    now_ms: int,
    options: Options,
    progress: Callable[[str], None] | None = None,
) -> ScalingReport:
    """The report of every service of ``config`` (or ``options.services``)."""
    step_ms = round(STEP_S * 1000)
    end_ms = now_ms
    start_ms = end_ms - round(options.range_s * 1000)
    # The minutes are whole steps on a grid; events and replica-hours run to now.
    grid_end = now_ms // step_ms * step_ms
    grid_start = grid_end - round(options.range_s * 1000)
    wanted = set(options.services)
    services = [s for s in config.services if not wanted or s.name in wanted]
    refresh = config.dashboard.refresh
    out: list[ServiceReport] = []
    rows: list[dict[str, Any]] = []
    for svc in services:
        found = store.events(
            since_ms=start_ms, until_ms=end_ms, kinds=SCALING_KINDS, service=svc.name, limit=REPORT_EVENT_LIMIT
        )
        decisions = [decision_row(e) for e in reversed(found)]
        rows += decisions
        counts = action_counts(decisions)
        held = await asyncio.to_thread(replica_hours, store, svc.name, start_ms, end_ms, refresh)
        minutes = await read_minutes(source, svc, config, grid_start, grid_end)
        facts = Facts.of(svc, config.alert_rules.builtin.for_service(svc.name))
        capacity = _capacity(store, svc, facts, options, start_ms, end_ms)
        used = usage(minutes, facts)
        room = headroom(minutes, facts, capacity.replica_rps if capacity else None)
        cost = None
        if options.price is not None and held["covered_seconds"] > 0:
            spent = held["replica_hours"] * options.price
            cost = {
                "price_per_replica_hour": options.price,
                "cost": spent,
                "per_30_days": spent * MONTH_S / held["covered_seconds"],
            }
        report = ServiceReport(svc.name, facts, held, counts, decisions, used, room, capacity, cost, minutes=minutes)
        if not options.project:
            report.projection_note = "not projected here: scalepilot report projects"
        elif capacity is None:
            report.projection_note = "no projection without a capacity per replica"
        else:
            traced = traffic_trace(minutes)
            if traced is None:
                report.projection_note = "no projection: less than an hour of recorded traffic"
            else:
                trace, known = traced
                model = ServiceModel(
                    capacity.replica_rps,
                    capacity.startup_delay,
                    options.price if options.price is not None else 0.0,
                    svc.scrape.interval or config.scrape.interval,
                )
                growths = growth_plan(options.growths)
                report.projections = await asyncio.to_thread(project, trace, STEP_S, growths, facts, model, progress)
                report.projection_note = (
                    f"simulated: {known:,} recorded minutes of traffic (gaps filled linearly), multiplied by each "
                    f"growth, through the service's own policy and the oracle; per 30 days; "
                    f"{capacity.replica_rps:g} req/s per replica ({capacity.source}), replicas ready "
                    f"{capacity.startup_delay:.3g} s after a scale-up ({capacity.startup_source})"
                )
        moves = [
            (r["timestamp_ms"], 1 if (r["to"] or 0) > (r["from"] or 0) else -1)
            for r in decisions
            if r["kind"] == EventKind.SCALED and r["to"] != r["from"]
        ]
        report.recommendations = recommend(
            facts,
            used,
            room,
            measured_replica_hours=held["replica_hours"],
            covered_s=held["covered_seconds"],
            flaps=reversals(moves),
            failed=counts["failed"],
            projections=report.projections,
            capacity_known=capacity is not None,
        ) + await asyncio.to_thread(_rightsizing, store, svc, config, now_ms, options.range_s)
        out.append(report)
    rows.sort(key=lambda r: r["timestamp_ms"])
    sources = {
        "replica_hours": f"measured: {REPLICAS} recorded every dashboard.refresh ({refresh:g} s), integrated over "
        "the time it covers",
        "usage": "measured: the service's charts' PromQL, one value per minute",
        "events": "the event log",
        "headroom": "measured replicas; in req/s from the capacity per replica (see capacity.source)",
        "cost": "measured replica-hours × the price given",
        "projections": "simulated: recorded traffic × growth through the same engine, and the oracle",
        "recommendations": "rules over the figures above; each names its evidence and source",
    }
    return ScalingReport(start_ms, end_ms, options.range_s, out, rows, sources, options.price)
