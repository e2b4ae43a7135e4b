"""The capacity model of a service, and how a step load test finds it.

A load test offers a fixed request rate per step, rising step by step. Each step's
outcome is a :class:`StepResult`. The **knee** is the highest step whose p95 stays
within the latency SLO with at most 1 % of requests failing; one replica's capacity at
the SLO is that step's offered rate. Latency under load is noisy, so one violating step
followed by passing ones is read as noise: a breach is *confirmed* only by ``confirm``
violating steps in a row, and the knee is the highest passing step below it.

Pure: no clock, no network, no files. The service layer runs the steps, reads and
writes the model as YAML; the simulator wants :meth:`CapacityModel.service_model`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scalepilot.control.simulation.model import ServiceModel

MAX_ERROR_RATE = 0.01
"""A step with more failed requests than this share fails, whatever its latency."""
CONFIRM = 2
"""Violating steps in a row that confirm a breach (and stop the run): one is noise."""


class CapacityModelError(ValueError):
    """A capacity model document is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step of the load test measured."""

    offered_rps: float
    """The arrival rate offered during the step (open loop: whatever the answers)."""
    achieved_rps: float
    """Successful responses per second completed within the step."""
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    """Latency quantiles of the step's successful requests, in seconds (None: none)."""
    error_rate: float
    """Share of the step's arrivals not answered with a status below 400 in time
    (errors, time-outs, and arrivals shed at the concurrency cap)."""
    requests: int = 0
    """Arrivals during the step."""


@dataclass(frozen=True, slots=True)
class Knee:
    """Where the service stops meeting its SLO."""

    index: int | None
    """The knee step's position in the steps; None when not even the first passed."""
    rps: float | None
    """Its offered rate: the per-replica capacity at the SLO."""
    breach: int | None
    """The first step of the confirmed breach; None if the SLO was never breached (the
    knee is then only a lower bound: the run ended before the service gave way)."""


def violation(step: StepResult, slo_p95_s: float, max_error_rate: float = MAX_ERROR_RATE) -> str | None:
    """Why ``step`` misses the SLO, or None if it meets it."""
    if step.error_rate > max_error_rate:
        return f"error rate {step.error_rate:.1%} > {max_error_rate:.0%}"
    if step.p95_s is None:
        return "no successful request"
    if step.p95_s > slo_p95_s:
        return f"p95 {step.p95_s * 1000:.0f} ms > SLO {slo_p95_s * 1000:.0f} ms"
    return None


def find_knee(
    steps: Sequence[StepResult],
    slo_p95_s: float,
    *,
    max_error_rate: float = MAX_ERROR_RATE,
    confirm: int = CONFIRM,
) -> Knee:
    """The knee of ``steps`` (in the order run, rate rising)."""
    if confirm < 1:
        raise ValueError("confirm must be at least 1")
    knee: int | None = None
    run_start: int | None = None
    for i, step in enumerate(steps):
        if violation(step, slo_p95_s, max_error_rate) is None:
            knee = i
            run_start = None
            continue
        if run_start is None:
            run_start = i
        if i - run_start + 1 >= confirm:
            return Knee(knee, None if knee is None else steps[knee].offered_rps, run_start)
    return Knee(knee, None if knee is None else steps[knee].offered_rps, None)


def breach_confirmed(
    steps: Sequence[StepResult], slo_p95_s: float, *, max_error_rate: float = MAX_ERROR_RATE, confirm: int = CONFIRM
) -> bool:
    """Whether the run can stop: the SLO breach is confirmed."""
    return find_knee(steps, slo_p95_s, max_error_rate=max_error_rate, confirm=confirm).breach is not None


def step_rates(start: float, step: float, max_rps: float) -> list[float]:
    """The rates a run offers, lowest first: ``start``, ``start + step``, … ≤ ``max_rps``."""
    if not start > 0 or not step > 0 or max_rps < start:
        raise ValueError("need start > 0, step > 0 and max_rps >= start")
    count = math.floor((max_rps - start) / step + 1e-9) + 1
    return [start + i * step for i in range(count)]


@dataclass(frozen=True, slots=True)
class CapacityModel:
    """What scalepilot knows about one replica of a service."""

    replica_rps: float
    """Requests/s one replica serves with p95 within ``slo_p95`` (its capacity)."""
    slo_p95: float
    """The latency SLO the capacity is measured at: p95, seconds."""
    startup_delay: float
    """Seconds from a scale-up to the replica serving. Configured, not measured: a URL
    cannot show how long a new replica takes to start."""
    cost_per_replica_hour: float
    latency_curve: tuple[tuple[float, float], ...]
    """(utilisation = offered ÷ replica_rps, p95 seconds) per measured step, sorted."""
    measured_at: str
    """RFC 3339 time of the measurement."""
    url: str
    source: str = "measured"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.replica_rps) and self.replica_rps > 0):
            raise CapacityModelError(f"replica_rps: must be a number greater than 0, not {self.replica_rps!r}")
        if not (math.isfinite(self.slo_p95) and self.slo_p95 > 0):
            raise CapacityModelError(f"slo_p95: must be a number greater than 0, not {self.slo_p95!r}")
        if not (math.isfinite(self.startup_delay) and self.startup_delay >= 0):
            raise CapacityModelError(f"startup_delay: must be a number >= 0, not {self.startup_delay!r}")
        if not (math.isfinite(self.cost_per_replica_hour) and self.cost_per_replica_hour >= 0):
            raise CapacityModelError(
                f"cost_per_replica_hour: must be a number >= 0, not {self.cost_per_replica_hour!r}"
            )

    def service_model(self, scrape_interval: float = 15.0) -> ServiceModel:
        """The simulator's view of this service."""
        return ServiceModel(self.replica_rps, self.startup_delay, self.cost_per_replica_hour, scrape_interval)

    def to_dict(self) -> dict[str, object]:
        return {
            "replica_rps": self.replica_rps,
            "slo_p95": self.slo_p95,
            "startup_delay": self.startup_delay,
            "cost_per_replica_hour": self.cost_per_replica_hour,
            "latency_curve": [[u, p] for u, p in self.latency_curve],
            "measured_at": self.measured_at,
            "url": self.url,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, doc: object) -> CapacityModel:
        """The model in ``doc`` (as :meth:`to_dict` makes it); CapacityModelError names
        the first bad field."""
        if not isinstance(doc, Mapping):
            raise CapacityModelError(f"expected a mapping of fields, not {type(doc).__name__}")
        for key in ("replica_rps", "slo_p95", "startup_delay"):
            if key not in doc:
                raise CapacityModelError(f"{key}: missing")
        curve_doc = doc.get("latency_curve") or []
        if not isinstance(curve_doc, list):
            raise CapacityModelError("latency_curve: must be a list of [utilisation, p95_seconds] pairs")
        curve: list[tuple[float, float]] = []
        for n, point in enumerate(curve_doc):
            if not (isinstance(point, list | tuple) and len(point) == 2):
                raise CapacityModelError(f"latency_curve[{n}]: must be a pair [utilisation, p95_seconds]")
            curve.append((_number(point[0], f"latency_curve[{n}][0]"), _number(point[1], f"latency_curve[{n}][1]")))
        return cls(
            replica_rps=_number(doc["replica_rps"], "replica_rps"),
            slo_p95=_number(doc["slo_p95"], "slo_p95"),
            startup_delay=_number(doc["startup_delay"], "startup_delay"),
            cost_per_replica_hour=_number(doc.get("cost_per_replica_hour", 1.0), "cost_per_replica_hour"),
            latency_curve=tuple(curve),
            measured_at=str(doc.get("measured_at", "")),
            url=str(doc.get("url", "")),
            source=str(doc.get("source", "measured")),
        )


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CapacityModelError(f"{field}: must be a number, not {value!r}")
    return float(value)


def build_model(
    steps: Sequence[StepResult],
    knee: Knee,
    *,
    slo_p95_s: float,
    startup_delay_s: float,
    cost_per_replica_hour: float,
    url: str,
    measured_at: str,
) -> CapacityModel:
    """The capacity model from a run's steps and knee. ValueError without a knee."""
    if knee.rps is None:
        raise ValueError("no step met the SLO: there is no capacity to report")
    curve = sorted((round(s.offered_rps / knee.rps, 4), round(s.p95_s, 6)) for s in steps if s.p95_s is not None)
    return CapacityModel(
        replica_rps=knee.rps,
        slo_p95=slo_p95_s,
        startup_delay=startup_delay_s,
        cost_per_replica_hour=cost_per_replica_hour,
        latency_curve=tuple(curve),
        measured_at=measured_at,
        url=url,
    )


# --- the plot: a self-contained HTML page (inline SVG, no script, no CDN) -------------

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 60, 12, 34
COLOURS = {"p95": "#d62728", "achieved": "#1f77b4", "slo": "#ff7f0e", "knee": "#2ca02c", "ideal": "#bbbbbb"}


def render_html(steps: Sequence[StepResult], knee: Knee, slo_p95_s: float, url: str) -> str:
    """A page with p95 (left axis, ms) and achieved rate (right axis, req/s) against the
    offered rate, the SLO as a dashed line and the knee marked."""
    x_max = max([s.offered_rps for s in steps] + [1e-9]) * 1.05
    p95s = [s.p95_s for s in steps if s.p95_s is not None]
    ms_max = max([*p95s, slo_p95_s]) * 1000 * 1.1
    rps_max = max([s.achieved_rps for s in steps] + [s.offered_rps for s in steps] + [1e-9]) * 1.05
    w = WIDTH - LEFT - RIGHT
    h = HEIGHT - TOP - BOTTOM

    def x(v: float) -> float:
        return LEFT + v / x_max * w

    def y(v: float, top: float) -> float:
        return TOP + h - v / top * h

    parts: list[str] = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        yy = TOP + h - frac * h
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{yy + 4:.1f}" text-anchor="end">{frac * ms_max:,.0f}</text>'
            f'<text x="{WIDTH - RIGHT + 4}" y="{yy + 4:.1f}">{frac * rps_max:,.0f}</text>'
            f'<text x="{x(frac * x_max):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
            f"{frac * x_max:,.0f}</text>"
        )
    slo_y = y(slo_p95_s * 1000, ms_max)
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{slo_y:.1f}" y2="{slo_y:.1f}" stroke="{COLOURS["slo"]}" '
        f'stroke-dasharray="6 4"/><text x="{LEFT + 4}" y="{slo_y - 4:.1f}" fill="{COLOURS["slo"]}">'
        f"SLO p95 {slo_p95_s * 1000:g} ms</text>"
    )
    ideal = min(x_max, rps_max)
    parts.append(
        f'<line x1="{x(0):.1f}" y1="{y(0, rps_max):.1f}" x2="{x(ideal):.1f}" y2="{y(ideal, rps_max):.1f}" '
        f'stroke="{COLOURS["ideal"]}" stroke-dasharray="2 3"/>'
    )
    if knee.rps is not None:
        kx = x(knee.rps)
        parts.append(
            f'<line x1="{kx:.1f}" x2="{kx:.1f}" y1="{TOP}" y2="{TOP + h}" stroke="{COLOURS["knee"]}"/>'
            f'<text x="{kx + 4:.1f}" y="{TOP + 12}" fill="{COLOURS["knee"]}">knee {knee.rps:g} req/s</text>'
        )
    achieved = [(x(s.offered_rps), y(s.achieved_rps, rps_max)) for s in steps]
    latency = [(x(s.offered_rps), y(s.p95_s * 1000, ms_max)) for s in steps if s.p95_s is not None]
    for points, colour in ((achieved, COLOURS["achieved"]), (latency, COLOURS["p95"])):
        if points:
            d = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<path d="{d}" fill="none" stroke="{colour}"/>')
            parts.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>' for px, py in points)
    parts.append(
        f'<text x="4" y="{TOP + 10}">p95 ms</text>'
        f'<text x="{WIDTH - 4}" y="{TOP + 10}" text-anchor="end">req/s</text>'
        f'<text x="{LEFT + w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">offered req/s</text>'
    )
    legend = " · ".join(
        f'<span style="color:{COLOURS[k]}">{label}</span>'
        for k, label in (
            ("p95", "━ p95 latency (left, ms)"),
            ("achieved", "━ achieved req/s (right)"),
            ("ideal", "┅ achieved = offered"),
            ("slo", "┅ SLO"),
            ("knee", "│ knee"),
        )
    )
    verdict = (
        "no step met the SLO"
        if knee.rps is None
        else f"capacity at the SLO: {knee.rps:g} req/s per replica"
        + ("" if knee.breach is not None else " (a lower bound: the SLO was never breached)")
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scalepilot loadtest</title>'
        "<style>body{font-family:sans-serif;margin:1em 2em}</style></head><body>"
        f"<h1>scalepilot loadtest</h1><p>{html.escape(url)} — {html.escape(verdict)}</p><p>{legend}</p>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-size="11" '
        f'font-family="sans-serif">{"".join(parts)}</svg></body></html>\n'
    )
