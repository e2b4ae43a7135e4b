"""``scalepilot report --plot``: a self-contained HTML page, inline SVG, no script.

Per service: the recorded traffic and ready replicas over the range (measured), and
the projected replica-hours per 30 days of each growth, the service's policy beside
the oracle (simulated). Each chart says which of the two it is.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import numpy as np

from scalepilot.control.simulation.plot import (
    COLOURS,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    axis_ticks,
    reduce_points,
    svg,
    svg_path,
)
from scalepilot.service.report import ScalingReport, ServiceReport

BAR_BOTTOM = 36
"""Room under the bars for two lines of labels."""
LOAD, REPLICAS, POLICY, ORACLE = COLOURS["load"], COLOURS["replicas"], COLOURS["capacity"], "#aec7e8"
CAPPED = "#e377c2"


def nice_ceiling(x: float) -> float:
    """The smallest round number (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8 × 10^k) at or above
    ``x``: each quarter of the axis is then a round number too."""
    if x <= 0:
        return 1.0
    power = 10 ** np.floor(np.log10(x))
    return float(next(m * power for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10) if m * power >= x))


def _measured(r: ServiceReport) -> str:
    m = r.minutes
    if m is None or not np.isfinite(m["load_rps"]).any():
        return "<p>No traffic recorded in the range.</p>"
    load = reduce_points(m["load_rps"], "max")
    ready = reduce_points(m["replicas_ready"], "mean")
    y_max = float(np.nanmax(load)) * 1.05 or 1.0
    r_max = (float(np.nanmax(ready)) if np.isfinite(ready).any() else 1.0) * 1.05 or 1.0
    fmt = "%Y-%m-%d %H:%M"
    start = datetime.fromtimestamp(m.start_ms / 1000, UTC).strftime(fmt)
    end = datetime.fromtimestamp(m.start_ms / 1000 + (m.size - 1) * m.step_s, UTC).strftime(fmt)
    body = (
        axis_ticks(y_max, r_max)
        + f'<path d="{svg_path(ready * (y_max / r_max), y_max)}" fill="none" stroke="{REPLICAS}" '
        'stroke-dasharray="4 3"/>'
        + f'<path d="{svg_path(load, y_max)}" fill="none" stroke="{LOAD}"/>'
        + f'<text x="{LEFT}" y="{HEIGHT - 6}">{start}</text>'
        + f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{end}</text>'
        + f'<text x="4" y="{TOP + 10}">req/s</text>'
        + f'<text x="{WIDTH - 4}" y="{TOP + 10}" text-anchor="end">replicas</text>'
    )
    legend = (
        f'<span style="color:{LOAD}">━ traffic (req/s, peak per point)</span> · '
        f'<span style="color:{REPLICAS}">┅ ready replicas (right axis)</span>'
    )
    return f"<h3>Recorded (measured)</h3><p>{legend}</p>{svg(body)}"


def _projected(r: ServiceReport) -> str:
    if not r.projections:
        return f"<p>{html.escape(r.projection_note)}</p>" if r.projection_note else ""
    bars = []
    values = [(p.run.replica_hours if p.run else 0.0, p.oracle.replica_hours) for p in r.projections]
    top = nice_ceiling(max(max(a, b) for a, b in values) * 1.1)
    h = HEIGHT - TOP - BAR_BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / len(values)
    width = min(60.0, slot / 3)
    for i, (p, (mine, best)) in enumerate(zip(r.projections, values, strict=True)):
        x = LEFT + i * slot + slot / 2 - width
        for k, (value, colour) in enumerate(((mine, CAPPED if p.capped else POLICY), (best, ORACLE))):
            if k == 0 and p.run is None:
                continue
            bh = value / top * h
            bx = x + k * width
            bars.append(
                f'<rect x="{bx:.1f}" y="{TOP + h - bh:.1f}" width="{width - 2:.1f}" height="{bh:.1f}" fill="{colour}">'
                f"<title>{html.escape(p.label)}: {value:,.0f} replica-hours</title></rect>"
                f'<text x="{bx + width / 2:.1f}" y="{TOP + h - bh - 3:.1f}" text-anchor="middle">{value:,.0f}</text>'
            )
        viol = "" if p.run is None else f" · {p.run.slo_violation_minutes:,.0f} violation min"
        needs = f"needs {p.needed_replicas}" + (f", capped at {p.ceiling}" if p.capped else "")
        bars.append(
            f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - 16}" text-anchor="middle">'
            f"{html.escape(p.label)}{viol}</text>"
            f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle" '
            f'fill="{CAPPED if p.capped else "#000"}">{needs}</text>'
        )
    ticks = "".join(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + h - f * h:.1f}" y2="{TOP + h - f * h:.1f}" stroke="#eee"/>'
        f'<text x="{LEFT - 4}" y="{TOP + h - f * h + 4:.1f}" text-anchor="end">{f * top:,.0f}</text>'
        for f in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    legend = (
        f'<span style="color:{POLICY}">■ {html.escape(r.projections[0].policy)}</span> · '
        f'<span style="color:{CAPPED}">■ the same, capped by its ceiling (cheaper only by violating)</span> · '
        f'<span style="color:{ORACLE}">■ oracle (the least a policy without violations spends)</span>'
    )
    return (
        f"<h3>Projected replica-hours per 30 days (simulated)</h3><p>{legend}. "
        f"{html.escape(r.projection_note)}.</p>{svg(ticks + ''.join(bars))}"
    )


def render_report_html(report: ScalingReport) -> str:
    start = datetime.fromtimestamp(report.start_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp(report.end_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    sections = "".join(f"<h2>{html.escape(r.service)}</h2>{_measured(r)}{_projected(r)}" for r in report.services)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scalepilot report</title>'
        "<style>body{font-family:sans-serif;margin:1em 2em}h2{margin-top:1.5em}h3{font-size:14px}</style>"
        f"</head><body><h1>scalepilot scaling report</h1><p>{start} to {end} UTC.</p>{sections}</body></html>\n"
    )
