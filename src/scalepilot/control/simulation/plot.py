"""A self-contained HTML page of simulated runs: one inline SVG chart per policy.

No script, no stylesheet from a CDN, no plotting library: the page opens anywhere,
offline, and can be attached to an issue. Each chart shows the offered load, the ready
capacity (ready replicas × per-replica capacity) and the provisioned replicas; the
right axis reads the same scale in replicas. Long runs are reduced to at most
``MAX_POINTS`` points per line, keeping each bucket's highest load (peaks are what
the chart is for) and mean capacity.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import numpy as np

from scalepilot.control.simulation.model import FloatArray, Run
from scalepilot.control.simulation.trace import Trace

MAX_POINTS = 1500
WIDTH, HEIGHT = 960, 220
LEFT, RIGHT, TOP, BOTTOM = 60, 60, 10, 24
COLOURS = {"load": "#d62728", "capacity": "#1f77b4", "replicas": "#7f7f7f"}


def reduce_points(values: FloatArray, how: str, buckets: int = MAX_POINTS) -> FloatArray:
    """At most ``buckets`` points: each bucket's highest value (``max``) or mean. A
    missing value (NaN) is skipped; a bucket of nothing else stays NaN, a gap."""
    if values.size <= buckets:
        return values
    starts = np.linspace(0, values.size, buckets + 1).astype(np.int64)[:-1]
    if how == "max":
        return np.fmax.reduceat(values, starts)
    known = np.isfinite(values)
    sums = np.add.reduceat(np.where(known, values, 0.0), starts)
    counts = np.add.reduceat(known.astype(np.int64), starts)
    with np.errstate(invalid="ignore"):
        return sums / counts


def svg_path(values: FloatArray, y_max: float) -> str:
    """A line across the chart's width; a missing value (NaN) breaks it, never reads as 0."""
    w = WIDTH - LEFT - RIGHT
    h = HEIGHT - TOP - BOTTOM
    xs = LEFT + (np.arange(values.size) / max(values.size - 1, 1)) * w
    out, pen = [], "M"
    for x, v in zip(xs.tolist(), values.tolist(), strict=True):
        if not np.isfinite(v):
            pen = "M"
            continue
        out.append(f"{pen}{x:.1f},{TOP + h - v / y_max * h:.1f}")
        pen = "L"
    return " ".join(out)


def axis_ticks(y_max: float, right_max: float) -> str:
    """Five grid lines, the left axis up to ``y_max`` and the right up to ``right_max``."""
    h = HEIGHT - TOP - BOTTOM
    out = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + h - frac * h
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{frac * y_max:,.0f}</text>'
            f'<text x="{WIDTH - RIGHT + 4}" y="{y + 4:.1f}">{frac * right_max:,.1f}</text>'
        )
    return "".join(out)


def svg(body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-size="11" '
        f'font-family="sans-serif">{body}</svg>'
    )


def _chart(run: Run, load: FloatArray, replica_rps: float, y_max: float, start: str, end: str) -> str:
    capacity = reduce_points(run.ready * replica_rps, "mean")
    provisioned = reduce_points(run.provisioned * replica_rps, "mean")
    r = run.report
    title = (
        f"{html.escape(run.name)} — {r.slo_violation_minutes:,.0f} SLO-violation min, "
        f"{r.replica_hours:,.1f} replica-hours, {r.scaling_actions:,} actions"
    )
    body = (
        axis_ticks(y_max, y_max / replica_rps)
        + f'<path d="{svg_path(provisioned, y_max)}" fill="none" stroke="{COLOURS["replicas"]}" '
        'stroke-dasharray="4 3"/>'
        f'<path d="{svg_path(capacity, y_max)}" fill="none" stroke="{COLOURS["capacity"]}"/>'
        f'<path d="{svg_path(load, y_max)}" fill="none" stroke="{COLOURS["load"]}"/>'
        f'<text x="{LEFT}" y="{HEIGHT - 6}">{start}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{end}</text>'
        f'<text x="4" y="{TOP + 10}">req/s</text><text x="{WIDTH - 4}" y="{TOP + 10}" '
        'text-anchor="end">replicas</text>'
    )
    return f"<h2>{title}</h2>{svg(body)}"


def render_html(trace: Trace, runs: list[Run], replica_rps: float) -> str:
    """The page for ``runs`` on ``trace`` (at the simulation step)."""
    load = reduce_points(trace.rps, "max")
    y_max = max(
        float(trace.rps.max()),
        *(float(run.provisioned.max()) * replica_rps for run in runs),
        1e-9,
    )
    y_max *= 1.05
    fmt = "%Y-%m-%d %H:%M"
    start = datetime.fromtimestamp(trace.start, UTC).strftime(fmt)
    end = datetime.fromtimestamp(trace.end, UTC).strftime(fmt)
    legend = " · ".join(
        f'<span style="color:{COLOURS[k]}">{label}</span>'
        for k, label in (
            ("load", "━ offered load (req/s)"),
            ("capacity", "━ ready capacity"),
            ("replicas", "┅ provisioned replicas"),
        )
    )
    charts = "".join(_chart(run, load, replica_rps, y_max, start, end) for run in runs)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scalepilot simulate</title>'
        "<style>body{font-family:sans-serif;margin:1em 2em}h2{font-size:14px;margin:1.2em 0 .2em}</style>"
        f"</head><body><h1>scalepilot simulate</h1><p>{legend}; {replica_rps:g} req/s per replica "
        f"(right axis).</p>{charts}</body></html>\n"
    )
