"""An assessment as JSON-ready data, as Markdown (for an issue or a pull request), and as
a self-contained HTML page with a bar chart of the category scores.

The HTML follows ``control/simulation/plot.py``: inline SVG and CSS, no script, nothing
fetched from anywhere, so the page opens offline and can be attached to an issue.
"""

from __future__ import annotations

import html
import re
from typing import Any

from scalepilot.control.assessment.model import (
    NA,
    RULE,
    STATIC_NOTE,
    WEIGHTS,
    Assessment,
    CategoryResult,
    CheckResult,
    Finding,
    Status,
)

GRADE_COLOURS = {"A": "#2ca02c", "B": "#7cb518", "C": "#e6b800", "D": "#ff7f0e", "F": "#d62728", NA: "#bbbbbb"}


def _finding(f: Finding) -> dict[str, Any]:
    return {"file": f.file, "line": f.line, "message": f.message, "recommendation": f.recommendation}


def _check(c: CheckResult) -> dict[str, Any]:
    return {
        "id": c.spec.id,
        "title": c.spec.title,
        "status": c.status.value,
        "severity": c.spec.severity.value,
        "weight": WEIGHTS[c.spec.severity],
        "why": c.spec.why,
        "detail": c.detail,
        "findings": [_finding(f) for f in c.findings],
    }


def to_json(result: Assessment, path: str) -> dict[str, Any]:
    """The ``-o json`` object."""
    applicable = sum(c.applicable for c in result.categories)
    passed = sum(c.passed for c in result.categories)
    return {
        "path": path,
        "static_reading": STATIC_NOTE,
        "files": [{"file": f.file, "kind": f.kind, "objects": list(f.objects)} for f in result.files],
        "sources_scanned": result.sources_scanned,
        "problems": [_finding(f) for f in result.problems],
        "notes": [{"file": n.file, "message": n.message} for n in result.notes],
        "categories": {
            c.name: {"grade": c.grade, "score": c.score, "checks": [_check(r) for r in c.checks]}
            for c in result.categories
        },
        "overall": {
            "grade": result.grade,
            "score": result.score,
            "graded_categories": sum(1 for c in result.categories if c.score is not None),
            "applicable_checks": applicable,
            "passed_checks": passed,
            "coverage": coverage(result),
            "rule": RULE,
        },
    }


def coverage(result: Assessment) -> str:
    """How much the grade rests on: "graded on 2 of 38 checks; 5 of 7 categories n/a"."""
    applicable = sum(c.applicable for c in result.categories)
    total = sum(len(c.checks) for c in result.categories)
    na = sum(1 for c in result.categories if c.score is None)
    text = f"graded on {applicable} of {total} checks"
    if na:
        text += f"; {na} of {len(result.categories)} categories n/a (nothing to check)"
    return text


def _md(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _score(c: CategoryResult | Assessment) -> str:
    return "–" if c.score is None else f"{c.score:g}"


def to_markdown(result: Assessment, path: str) -> str:
    lines = [
        f"## Infrastructure assessment of `{path}`: {result.grade}"
        + ("" if result.score is None else f" ({result.score:g}/100)"),
        "",
        f"> {STATIC_NOTE} Produced by `scalepilot assess`; {coverage(result)}.",
        "",
        "| Category | Grade | Score | Checks passed |",
        "|---|---|---|---|",
    ]
    for c in result.categories:
        checks = f"{c.passed}/{c.applicable}" if c.applicable else "n/a"
        lines.append(f"| {_md(c.name)} | **{c.grade}** | {_score(c)} | {checks} |")
    lines.append(f"| **Overall** | **{result.grade}** | {_score(result)} | |")
    lines.append("")
    if result.problems:
        lines += ["### Files that could not be read", ""]
        lines += [f"- `{f.file}:{f.line}` — {f.message}" for f in result.problems]
        lines.append("")
    for c in result.categories:
        if c.score is None:
            continue
        lines += [f"### {c.name} — {c.grade} ({c.score:g})", ""]
        for r in c.checks:
            if r.status is Status.NA:
                continue
            mark = "✅" if r.status is Status.PASS else "❌"
            lines.append(f"- {mark} **{r.spec.title}** (`{r.spec.id}`, {r.spec.severity.value}) — {r.detail}")
            for f in r.findings:
                lines.append(f"  - `{f.file}:{f.line}` {f.message}. **Fix:** {f.recommendation}")
        na = [f"`{r.spec.id}`" for r in c.checks if r.status is Status.NA]
        if na:
            lines.append(f"- ➖ not applicable here: {', '.join(na)}")
        lines.append("")
    empty = [c.name for c in result.categories if c.score is None]
    if empty:
        lines += [f"**n/a** (no file they apply to): {', '.join(empty)}.", ""]
    if result.notes:
        lines += ["### Not read", ""]
        lines += [f"- `{n.file}`: {n.message}" for n in result.notes]
        lines.append("")
    lines += [
        "<details><summary>Files read</summary>",
        "",
        *[f"- `{f.file}` ({f.kind})" for f in result.files],
        f"- {result.sources_scanned} source files searched for health and metrics routes",
        "",
        "</details>",
        "",
        f"*Grading:* {RULE}",
        "",
    ]
    return "\n".join(lines)


WIDTH = 760
BAR_LEFT, BAR_WIDTH, ROW = 220, 440, 30


def _chart(result: Assessment) -> str:
    rows = [*result.categories, None]
    height = ROW * len(rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-size="13" '
        'font-family="sans-serif" role="img" aria-label="score per category">'
    ]
    for frac in (0.0, 0.6, 0.7, 0.8, 0.9, 1.0):
        x = BAR_LEFT + frac * BAR_WIDTH
        parts.append(
            f'<line x1="{x:.0f}" x2="{x:.0f}" y1="4" y2="{height - 22}" stroke="#ddd"/>'
            f'<text x="{x:.0f}" y="{height - 8}" text-anchor="middle" fill="#666">{frac * 100:.0f}</text>'
        )
    for i, c in enumerate(rows):
        y = 8 + i * ROW
        name, grade, score = ("Overall", result.grade, result.score) if c is None else (c.name, c.grade, c.score)
        weight = "bold" if c is None else "normal"
        parts.append(
            f'<text x="{BAR_LEFT - 8}" y="{y + 15}" text-anchor="end" font-weight="{weight}">{html.escape(name)}</text>'
        )
        if score is None:
            parts.append(
                f'<rect x="{BAR_LEFT}" y="{y}" width="{BAR_WIDTH}" height="20" fill="none" stroke="#ccc" '
                f'stroke-dasharray="4 3"/><text x="{BAR_LEFT + 8}" y="{y + 15}" fill="#888">n/a: nothing to '
                "check</text>"
            )
            continue
        width = max(score / 100 * BAR_WIDTH, 1.0)
        parts.append(
            f'<rect x="{BAR_LEFT}" y="{y}" width="{width:.1f}" height="20" fill="{GRADE_COLOURS[grade]}"/>'
            f'<text x="{BAR_LEFT + width + 6:.1f}" y="{y + 15}" font-weight="bold">{grade} '
            f'<tspan font-weight="normal" fill="#555">{score:g}</tspan></text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _inline(text: str) -> str:
    """Escaped text with its `code spans` as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def to_html(result: Assessment, path: str) -> str:
    """A page with the chart and every failed check's findings."""
    esc = html.escape
    sections = []
    for c in result.categories:
        items = []
        for r in c.checks:
            if r.status is not Status.FAIL:
                continue
            findings = "".join(
                f"<li><code>{esc(f.file)}:{f.line}</code> {_inline(f.message)}<br>"
                f"<small>{_inline(f.recommendation)}</small></li>"
                for f in r.findings
            )
            items.append(
                f"<li><b>{esc(r.spec.title)}</b> <small>({esc(r.spec.id)}, {r.spec.severity.value})</small>"
                f"<ul>{findings}</ul></li>"
            )
        if items:
            sections.append(f"<h2>{esc(c.name)}: {c.grade}</h2><ul>{''.join(items)}</ul>")
    problems = "".join(f"<li><code>{esc(f.file)}:{f.line}</code> {esc(f.message)}</li>" for f in result.problems)
    problems_html = f"<h2>Files that could not be read</h2><ul>{problems}</ul>" if problems else ""
    overall = result.grade + ("" if result.score is None else f" ({result.score:g}/100)")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scalepilot assess</title>'
        "<style>body{font-family:sans-serif;margin:1em 2em;max-width:60em}h2{font-size:15px;margin:1.4em 0 .3em}"
        "li{margin:.3em 0}small{color:#555}code{background:#f4f4f4;padding:0 .2em}</style></head><body>"
        f"<h1>Infrastructure assessment: {esc(overall)}</h1>"
        f"<p><code>{esc(path)}</code>: {esc(coverage(result))}. {esc(STATIC_NOTE)}</p>"
        f"{_chart(result)}<p><small>{esc(RULE)}</small></p>{problems_html}{''.join(sections)}"
        "</body></html>\n"
    )
