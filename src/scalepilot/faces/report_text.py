"""The scaling report as text: the rows and lines the CLI's table prints, and the
Markdown document the CLI (``-o markdown``) and the API (``format=markdown``) give."""

from __future__ import annotations

from datetime import UTC, datetime

from scalepilot.config.durations import format_duration
from scalepilot.control.report import Projection, Stats, minutes_text
from scalepilot.service.report import ScalingReport, ServiceReport


def iso(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _n(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _stat_row(name: str, s: Stats | None, scale: float = 1.0, digits: int = 1, note: str = "") -> list[str]:
    if s is None:
        return [name, "-", "-", "-", note or "no data"]
    return [name, _n(s.mean * scale, digits), _n(s.p95 * scale, digits), _n(s.max * scale, digits), note]


def _above(r: ServiceReport, metric: str) -> str:
    target = r.facts.targets.get(metric)
    share = r.usage.above_target.get(metric)
    if target is None:
        return ""
    unit = " %" if metric != "rps" else " req/s"
    tail = "" if share is None else f"; above it {share * 100:.0f} % of the time"
    return f"target {target:g}{unit}{tail}"


def _cores(n: float) -> str:
    return "1 core" if n == 1 else f"{n:g} cores"


def usage_rows(r: ServiceReport) -> list[list[str]]:
    u = r.usage
    mem_note = _above(r, "memory") if r.facts.memory_limit_bytes else "no memory limit set"
    return [
        _stat_row("traffic (req/s)", u.traffic_rps),
        _stat_row("latency p95 (ms)", u.latency_p95_seconds, 1000.0, 0),
        _stat_row("error ratio (%)", u.error_ratio, 100.0, 2),
        _stat_row(
            f"CPU per replica (% of {_cores(r.facts.cpu_limit_cores)})", u.cpu_utilization, note=_above(r, "cpu")
        ),
        _stat_row("memory per replica (% of limit)", u.memory_utilization, note=mem_note),
        _stat_row("req/s per replica", u.rps_per_replica, note=_above(r, "rps")),
        _stat_row("ready replicas", u.ready_replicas),
    ]


def summary_lines(r: ServiceReport) -> list[str]:
    rep = r.replicas
    out = []
    covered = format_duration(round(rep["covered_seconds"]))
    line = f"replica-hours: {rep['replica_hours']:,.2f} over {covered} recorded (measured)"
    if r.cost is not None:
        line += (
            f"; cost {r.cost['cost']:,.2f} at {r.cost['price_per_replica_hour']:g} per replica-hour, "
            f"{r.cost['per_30_days']:,.2f} per 30 days at this rate"
        )
    out.append(line)
    a = r.actions
    out.append(
        f"scaling actions: {a['scaling_actions']} ({a['scale_ups']} up, {a['scale_downs']} down, "
        f"{a['manual']} by hand), {a['failed']} failed"
    )
    if r.facts.autoscaling is not None:
        out.append(
            f"minutes at max_replicas ({r.facts.autoscaling.max_replicas}): {r.usage.minutes_at_max}; "
            f"at min_replicas ({r.facts.autoscaling.min_replicas}): {r.usage.minutes_at_min} "
            f"of {r.usage.covered_minutes}"
        )
    slo = []
    if r.usage.slow_minutes is not None and r.facts.latency_slo is not None:
        at_max = f", {r.usage.slow_at_max} of them at max_replicas" if r.usage.slow_minutes else ""
        slo.append(f"p95 above {r.facts.latency_slo * 1000:g} ms in {minutes_text(r.usage.slow_minutes)}{at_max}")
    if r.usage.failing_minutes is not None and r.facts.error_slo is not None:
        slo.append(f"errors above {r.facts.error_slo * 100:g} % in {minutes_text(r.usage.failing_minutes)}")
    if slo:
        out.append(
            f"SLO (the built-in alerts' critical thresholds): {'; '.join(slo)} of {r.usage.covered_minutes} (measured)"
        )
    h = r.headroom
    if h.peak_rps is None:
        out.append("headroom: no traffic recorded")
    else:
        line = f"headroom: peak {h.peak_rps:,.1f} req/s at {iso(h.peak_at_ms)}"
        if h.ready_at_peak is not None:
            line += f" on {h.ready_at_peak:g} ready replicas"
        if h.replica_headroom is not None:
            line += f"; the ceiling ({h.ceiling}) is {h.replica_headroom:.1f}× that"
        if h.capacity_rps is not None and h.growth is not None and r.capacity is not None:
            line += (
                f"; {h.ceiling} × {h.replica_rps:g} req/s = {h.capacity_rps:,.0f} req/s = {h.growth:.1f}× the peak "
                f"(capacity from {r.capacity.source})"
            )
        out.append(line)
    return out


PROJECTION_COLUMNS = (
    "growth",
    "peak req/s",
    "needs",
    "policy peak",
    "violation min",
    "replica-h",
    "cost",
    "oracle replica-h",
    "oracle cost",
    "note",
)


def projection_row(p: Projection, priced: bool) -> list[str]:
    """``priced``: whether the report had a price (else the costs are not figures)."""
    run = p.run
    note = p.note
    if p.capped:
        note = (note + "; " if note else "") + f"needs more than the ceiling ({p.ceiling})"
    return [
        p.label,
        _n(p.peak_rps),
        str(p.needed_replicas),
        "-" if p.peak_replicas is None else str(p.peak_replicas),
        "-" if run is None else _n(run.slo_violation_minutes, 0),
        "-" if run is None else _n(run.replica_hours, 0),
        "-" if run is None or not priced else _n(run.cost, 2),
        _n(p.oracle.replica_hours, 0),
        _n(p.oracle.cost, 2) if priced else "-",
        note,
    ]


def heading(r: ServiceReport) -> str:
    auto = r.facts.autoscaling
    if auto is not None:
        return f"{r.service}: autoscaling ({auto.mode} mode), {auto.min_replicas}–{auto.max_replicas} replicas"
    if r.facts.replicas is not None:
        return f"{r.service}: {r.facts.replicas} replicas, no autoscaling"
    return f"{r.service}: watched only"


def _md_table(header: list[str] | tuple[str, ...], rows: list[list[str]]) -> list[str]:
    def cell(x: str) -> str:
        return x.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def to_markdown(report: ScalingReport) -> str:
    priced = report.price is not None
    lines = [
        "# Scaling report",
        "",
        f"{iso(report.start_ms)} to {iso(report.end_ms)} UTC ({format_duration(report.range_s)}), one value per "
        "minute. Usage is measured; projections are simulated.",
    ]
    for r in report.services:
        lines += ["", f"## {heading(r)}", "", "### Usage (measured)", ""]
        lines += _md_table(["figure", "mean", "p95", "max", "note"], usage_rows(r))
        lines += [""] + [f"* {line}" for line in summary_lines(r)]
        if r.projections:
            lines += ["", "### Projected (simulated, per 30 days)", ""]
            lines += _md_table(PROJECTION_COLUMNS, [projection_row(p, priced) for p in r.projections])
        if r.projection_note:
            lines += ["", f"_{r.projection_note}_"]
        lines += ["", "### Recommendations", ""]
        if r.recommendations:
            lines += [
                f"{i}. **{x.text}** — {x.evidence} ({x.source or 'advice'})" for i, x in enumerate(r.recommendations, 1)
            ]
        else:
            lines.append("None: nothing in the figures above asks for a change.")
    lines += ["", "## Sources", ""] + [f"* {k}: {v}" for k, v in report.sources.items()]
    return "\n".join(lines) + "\n"
