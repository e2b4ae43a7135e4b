"""What the dashboard shows of a service, decided without I/O: which PromQL makes each
figure, and whether a service is healthy, degraded or down.

The overview asks one query per figure for every service at once (``sum by (service)``),
so its cost does not grow with the number of services; a service's charts ask the same
expressions narrowed to that service over a time range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from scalepilot.config.durations import format_duration
from scalepilot.config.models import Service
from scalepilot.domain.query import RangeSeries
from scalepilot.domain.samples import Float64Array as FloatArray

BALANCER_REQUESTS = "scalepilot_lb_requests_total"
BALANCER_LATENCY = "scalepilot_lb_request_duration_seconds"
APP_REQUESTS = "http_requests_total"
APP_LATENCY = "http_request_duration_seconds"
PROCESS_CPU = "scalepilot_process_cpu_seconds_total"
PROCESS_MEMORY = "scalepilot_process_resident_memory_bytes"
REPLICAS = "scalepilot_service_replicas"
"""Written by the overview each refresh, ``state`` = desired / current / ready: the
replica history the charts and the scaling report read."""
FORECAST = "scalepilot_service_forecast_rps"
"""The predictive policy's latest forecast, written when it was made."""

MIN_WINDOW_S = 10.0

FIGURES = ("load_rps", "latency_p95_seconds", "error_ratio", "cpu_cores", "memory_bytes")
CHART_SERIES = (
    "load_rps",
    "forecast_rps",
    "latency_p50_seconds",
    "latency_p95_seconds",
    "latency_p99_seconds",
    "error_ratio",
    "cpu_cores",
    "memory_bytes",
    "replicas_desired",
    "replicas_ready",
)


@dataclass(frozen=True, slots=True)
class SignalNames:
    """The series one service's load, latency and errors are read from."""

    requests: str
    status_label: str
    latency: str


def signal_names(service: Service) -> SignalNames:
    behind_balancer = service.balancer is not None or (service.target is not None and service.target.type == "local")
    s = service.signals
    return SignalNames(
        requests=s.requests_counter or (BALANCER_REQUESTS if behind_balancer else APP_REQUESTS),
        status_label=s.status_label or "code",
        latency=s.latency_histogram or (BALANCER_LATENCY if behind_balancer else APP_LATENCY),
    )


def rate_window(scrape_interval_s: float, step_s: float = 0.0) -> str:
    """Four scrapes at least (Prometheus's advice for ``rate``), and no less than a chart
    step, so a point of a long chart averages its whole step instead of sampling it."""
    return format_duration(max(4 * scrape_interval_s, MIN_WINDOW_S, step_s))


def figure_queries(
    names: SignalNames, selector: str, window: str, *, quantiles: Sequence[float] = (0.95,)
) -> dict[str, str]:
    """Each figure as ``sum by (service)``: one series per service in ``selector``."""
    req = f"{names.requests}{{{selector}}}"
    errors = f'{names.requests}{{{selector},{names.status_label}=~"5.."}}'
    total = f"sum by (service) (rate({req}[{window}]))"
    out = {"load_rps": total}
    for q in quantiles:
        key = f"latency_p{round(q * 100)}_seconds"
        out[key] = (
            f"histogram_quantile({q:g}, sum by (service, le) (rate({names.latency}_bucket{{{selector}}}[{window}])))"
        )
    # No 5xx at all is a ratio of 0, not a missing figure: hence the `or ... * 0`.
    out["error_ratio"] = f"(sum by (service) (rate({errors}[{window}])) or {total} * 0) / {total}"
    return out


def process_queries(selector: str, window: str) -> dict[str, str]:
    return {
        "cpu_cores": f"sum by (service) (rate({PROCESS_CPU}{{{selector}}}[{window}]))",
        "memory_bytes": f"sum by (service) ({PROCESS_MEMORY}{{{selector}}})",
    }


def service_selector(names: Iterable[str]) -> str:
    """Service names are ``[a-z0-9_-]`` (checked by the config), so no escaping is needed."""
    listed = sorted(set(names))
    if len(listed) == 1:
        return f'service="{listed[0]}"'
    return f'service=~"{"|".join(listed)}"'


@dataclass(frozen=True, slots=True)
class QueryGroup:
    """Services whose figures come from the same series and window: one query each."""

    names: SignalNames
    window: str
    services: tuple[str, ...]

    def queries(self) -> dict[str, str]:
        return figure_queries(self.names, service_selector(self.services), self.window)


def overview_groups(services: Sequence[Service], default_interval_s: float) -> list[QueryGroup]:
    grouped: dict[tuple[SignalNames, str], list[str]] = {}
    for svc in services:
        window = rate_window(svc.scrape.interval or default_interval_s)
        grouped.setdefault((signal_names(svc), window), []).append(svc.name)
    return [QueryGroup(names, window, tuple(members)) for (names, window), members in grouped.items()]


def chart_queries(
    service: Service, scrape_interval_s: float, stats_interval_s: float, step_s: float, forecast_horizon_s: float | None
) -> dict[str, str]:
    """Every chart series of one service, for a range query with ``step_s``."""
    out = _figures(service, scrape_interval_s, stats_interval_s, step_s, fresh=False)
    if forecast_horizon_s is not None:
        # A forecast made at t is for t + horizon: shifted so it lines up with the load
        # it predicted, the gap between the two lines is the forecast's error.
        sel = service_selector([service.name])
        out["forecast_rps"] = f"max by (service) ({FORECAST}{{{sel}}} offset -{format_duration(forecast_horizon_s)})"
    return out


def report_queries(
    service: Service, scrape_interval_s: float, stats_interval_s: float, step_s: float
) -> dict[str, str]:
    """The scaling report's columns: the charts' figures, with a gauge counted at a step
    only if it was written within that step (not within the lookback's five minutes),
    so time without samples stays a gap; and ``replicas_measured``, the replicas with
    process stats in the step (starting and draining ones too)."""
    out = _figures(service, scrape_interval_s, stats_interval_s, step_s, fresh=True)
    memory = f"last_over_time({PROCESS_MEMORY}{{{service_selector([service.name])}}}[{format_duration(step_s)}])"
    out["replicas_measured"] = f"count by (service) (count by (service, replica) ({memory}))"
    return out


def _figures(
    service: Service, scrape_interval_s: float, stats_interval_s: float, step_s: float, *, fresh: bool
) -> dict[str, str]:
    sel = service_selector([service.name])
    out = figure_queries(
        signal_names(service), sel, rate_window(scrape_interval_s, step_s), quantiles=(0.5, 0.95, 0.99)
    )

    def gauge(selector: str) -> str:
        return f"last_over_time({selector}[{format_duration(step_s)}])" if fresh else selector

    out |= process_queries(sel, rate_window(stats_interval_s, step_s))
    if fresh:
        out["memory_bytes"] = f"sum by (service) ({gauge(f'{PROCESS_MEMORY}{{{sel}}}')})"
    for state in ("desired", "ready"):
        replicas = REPLICAS + "{" + sel + f',state="{state}"' + "}"
        out[f"replicas_{state}"] = f"max by (service) ({gauge(replicas)})"
    return out


def on_axis(
    matrix: Sequence[RangeSeries], times_ms: npt.NDArray[np.int64], out: FloatArray | None = None
) -> FloatArray:
    """A range query's first series placed on a time axis (``out``, or a new one of NaN),
    each value at the step whose time it has; steps without one keep what they had."""
    if out is None:
        out = np.full(times_ms.size, np.nan)
    if matrix:
        series = matrix[0]
        ts = np.asarray(series.timestamps, dtype=np.int64)
        idx = np.searchsorted(times_ms, ts)
        ok = idx < times_ms.size
        ok[ok] = times_ms[idx[ok]] == ts[ok]
        out[idx[ok]] = np.asarray(series.values, dtype=np.float64)[ok]
    return out


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a service is not healthy: a catalog ``key`` and its numbers, so the dashboard
    can say it in the reader's language; ``text`` is the English for logs and scripts."""

    key: str
    params: dict[str, Any]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.params}


@dataclass(slots=True)
class Health:
    """A service's state as the overview shows it, with the reasons."""

    status: str = "unknown"
    details: list[Reason] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [r.text for r in self.details]


def classify(
    *,
    targets: Mapping[str, int],
    probes: Mapping[str, int],
    replicas: Mapping[str, int] | None,
    firing_alerts: Sequence[str],
) -> Health:
    """``targets`` and ``probes`` count ``up`` / ``down`` / ``unknown``; ``replicas`` has
    ``desired`` and ``ready`` (``None``: scalepilot runs nothing for this service).

    down: no replica ready though some are wanted, or every check that has run failed.
    degraded: some check down, fewer replicas ready than desired, or an alert firing.
    unknown: nothing has been checked yet (and no replicas to count)."""
    checked_up = targets.get("up", 0) + probes.get("up", 0)
    checked_down = targets.get("down", 0) + probes.get("down", 0)
    if replicas is not None and replicas.get("desired", 0) > 0 and replicas.get("ready", 0) == 0:
        desired = replicas["desired"]
        return Health(
            "down", [Reason("no_replica_ready", {"desired": desired}, f"no replica ready of {desired} desired")]
        )
    checks = _checks_down(targets, probes)
    if checked_down and not checked_up:
        return Health("down", checks)
    reasons = list(checks)
    if replicas is not None and replicas.get("ready", 0) < replicas.get("desired", 0):
        ready, desired = replicas["ready"], replicas["desired"]
        reasons.append(
            Reason("replicas_not_ready", {"ready": ready, "desired": desired}, f"{ready} of {desired} replicas ready")
        )
    if firing_alerts:
        names = ", ".join(sorted(set(firing_alerts)))
        reasons.append(Reason("alerts_firing", {"names": names}, f"alert firing: {names}"))
    if reasons:
        return Health("degraded", reasons)
    if not checked_up and replicas is None:
        return Health("unknown", [Reason("not_checked_yet", {}, "not scraped or probed yet")])
    return Health("healthy", [])


def _checks_down(targets: Mapping[str, int], probes: Mapping[str, int]) -> list[Reason]:
    out = []
    if targets.get("down"):
        down, total = targets["down"], sum(targets.values())
        out.append(Reason("targets_down", {"down": down, "total": total}, f"{down} of {total} scrape targets down"))
    if probes.get("down"):
        down, total = probes["down"], sum(probes.values())
        out.append(Reason("probes_failing", {"down": down, "total": total}, f"{down} of {total} probes failing"))
    return out
