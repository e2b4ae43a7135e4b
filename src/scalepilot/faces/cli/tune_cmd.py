"""``scalepilot tune``: which parameters of a policy would have served this traffic for less?

The face of :mod:`scalepilot.control.simulation.tuning`: read the trace and the base
policy, run the trials through the simulator (in parallel processes, two rounds:
exploration, then refinement around the best), and print the Pareto front of
SLO-violation minutes against cost, the cheapest policy within the budget as an
``autoscaling:`` block, or one JSON object; optionally a self-contained HTML scatter.
"""

from __future__ import annotations

import html
import json
import os
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import typer
import yaml
from pydantic import ValidationError
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from scalepilot.config.durations import format_duration
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation import Report, ServiceModel, Trace, UnsupportedPolicy, simulate
from scalepilot.control.simulation.baselines import REACTIVE, baseline
from scalepilot.control.simulation.tuning import (
    Params,
    Trial,
    apply,
    base_params,
    best_within,
    parents_for_refinement,
    pareto_front,
    refine,
    sample,
    space_for,
    split,
)
from scalepilot.faces.cli.common import Output, console, duration_option, err_console, print_error
from scalepilot.faces.cli.sim_inputs import check_service, policy_or_exit, service_model, trace_or_exit
from scalepilot.service.traces import FORMATS

SIMULATED = (
    "Simulated, not measured: each trial replayed through the live engine's decide() on a virtual clock "
    "against the capacity model."
)


def tune_cmd(
    trace_file: Path = typer.Option(
        ..., "--trace", help="Request-rate trace to tune on.", exists=True, dir_okay=False, show_default=False
    ),
    trace_format: str = typer.Option(
        "csv", "--trace-format", help=f"One of {', '.join(FORMATS)}: a timestamp,rps CSV, or a public trace."
    ),
    replica_rps: float = typer.Option(
        ..., "--replica-rps", help="Requests/s one replica serves within the SLO (its capacity).", show_default=False
    ),
    startup_delay: str = typer.Option("60s", "--startup-delay", help="From a scale-up to the replicas being ready."),
    min_replicas: int = typer.Option(1, "--min", help="Fewest replicas of the --base policy (the lowest floor tried)."),
    max_replicas: int = typer.Option(100, "--max", help="Most replicas of the --base policy."),
    cost: float = typer.Option(1.0, "--cost-per-replica-hour", help="Cost of one replica for an hour."),
    policy: Path | None = typer.Option(
        None, "--policy", help="YAML file with an autoscaling: block to tune (instead of --base).", dir_okay=False
    ),
    base: str = typer.Option("hpa", "--base", help=f"Baseline to tune when no --policy: {', '.join(REACTIVE)}."),
    budget: float | None = typer.Option(
        None,
        "--budget",
        help="SLO-violation minutes allowed. Default: the base policy's own, so the answer is never worse.",
    ),
    trials: int = typer.Option(60, "--trials", help="Policies to simulate, the base included (1-5000)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the search: same seed, same trials."),
    jobs: int | None = typer.Option(
        None, "--jobs", help="Worker processes (default: one per CPU); 1 runs the trials in this process."
    ),
    step: str = typer.Option("60s", "--step", help="Simulation step the trace is resampled to."),
    scrape_interval: str = typer.Option("15s", "--scrape-interval", help="How often metrics are sampled."),
    scale_peak: float | None = typer.Option(
        None, "--scale-peak-replicas", help="Scale the trace so its peak needs about this many replicas."
    ),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json (one object)."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a scatter of all trials (.html)."),
) -> None:
    """Search a scaling policy's parameters for the lowest cost within an SLO-violation budget.

    Tries variations of the base policy (target utilisation, metric window, scale-down
    stabilization or cooldown, min replicas, and for a predictive base its safety factor
    and horizon) on the trace, each through the simulator [b]scalepilot simulate[/b]
    uses. Prints the Pareto front (SLO-violation minutes against cost), and the cheapest
    policy within [b]--budget[/b] as an autoscaling: block for scalepilot.yaml. Random
    search then refinement around the best, seeded: same seed, same trials. Every figure
    is simulated. See docs/simulation.md, "Tuning".

    [b]Examples[/b]

      scalepilot tune --trace traffic.csv --replica-rps 50 --startup-delay 90s --budget 30

      scalepilot tune --trace az.csv --trace-format azure-functions --replica-rps 10 --base predictive

      scalepilot tune --trace traffic.csv --replica-rps 50 --policy mine.yaml --trials 200 --seed 7 --plot tune.html
    """
    delay = duration_option(startup_delay, "--startup-delay")
    step_s = duration_option(step, "--step")
    scrape_s = duration_option(scrape_interval, "--scrape-interval")
    check_service(replica_rps, min_replicas, max_replicas, plot)
    if base not in REACTIVE:
        raise typer.BadParameter(f"unknown {base!r}; choose from {', '.join(REACTIVE)}", param_hint="--base")
    if not 1 <= trials <= 5000:
        raise typer.BadParameter("must be between 1 and 5000", param_hint="--trials")
    if jobs is not None and jobs < 1:
        raise typer.BadParameter("must be 1 or more", param_hint="--jobs")
    if budget is not None and budget < 0:
        raise typer.BadParameter("must not be negative", param_hint="--budget")
    model = service_model(replica_rps, delay, cost, scrape_s)
    trace = trace_or_exit(trace_file, trace_format, step_s, scale_peak, replica_rps)

    if policy is not None:
        settings = policy_or_exit(policy)
        base_name = policy.stem
    else:
        settings = baseline(
            base, replica_rps=replica_rps, min_replicas=min_replicas, max_replicas=max_replicas, startup_delay=delay
        )
        base_name = base
    data = settings.model_dump(mode="json", exclude_unset=True)
    space = space_for(settings, startup_delay=delay, peak_replicas=trace.peak / replica_rps)
    start = base_params(settings, replica_rps)
    rng = np.random.default_rng(seed)
    seen: set[Params] = {start}
    explore_n, refine_n = split(trials)

    try:
        workers = min(trials, jobs if jobs is not None else os.cpu_count() or 1)
        with _Runner(data, trace, model, step_s, replica_rps, trials, workers) as runner:
            done = runner.run([start, *sample(space, start, rng, explore_n, seen)])
            limit = budget if budget is not None else done[0].report.slo_violation_minutes
            parents = parents_for_refinement(done, limit)
            done += runner.run(refine(space, parents, rng, refine_n, seen), start=len(done))
    except UnsupportedPolicy as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(1) from None

    front = pareto_front(done)
    best = best_within(done, limit)
    best_data = apply(data, done[best].params, replica_rps=replica_rps) if best is not None else None

    if plot is not None:
        plot.write_text(_render_html(done, front, best, limit, base_name), encoding="utf-8")
        err_console.print(f"plot written to {plot}", highlight=False, soft_wrap=True)
    if output is Output.json:
        typer.echo(json.dumps(_document(done, front, best, best_data, limit, base_name, seed)))
        return
    _table(done, front, best, limit, base_name, trace, replica_rps, step_s)
    _verdict(done, best, limit, base_name)
    if best_data is not None:
        typer.echo(
            f"# The cheapest policy within {limit:g} SLO-violation minutes (simulated); paste into scalepilot.yaml:"
        )
        typer.echo(yaml.safe_dump({"autoscaling": best_data}, sort_keys=False, allow_unicode=True), nl=False)


# --- running the trials -----------------------------------------------------------------------


def _trial(data: dict[str, Any], trace: Trace, model: ServiceModel, step: float) -> Report:
    settings = AutoscalingSettings.model_validate(data)
    return simulate("trial", settings, trace, model, step=step).report


class _Runner:
    """Runs batches of trials in worker processes (each run is single-threaded Python),
    with one progress bar over all of them on standard error."""

    def __init__(
        self,
        data: dict[str, Any],
        trace: Trace,
        model: ServiceModel,
        step: float,
        replica_rps: float,
        total: int,
        workers: int,
    ) -> None:
        self._data = data
        self._trace = trace
        self._model = model
        self._step = step
        self._rps = replica_rps
        self._workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._bar = Progress(
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
        )
        self._task = self._bar.add_task("trials", total=total)

    def __enter__(self) -> _Runner:
        self._bar.__enter__()
        if self._workers > 1:
            self._pool = ProcessPoolExecutor(max_workers=self._workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        self._bar.__exit__(None, None, None)

    def _policy(self, params: Params) -> dict[str, Any]:
        policy = apply(self._data, params, replica_rps=self._rps)
        try:
            AutoscalingSettings.model_validate(policy)
        except ValidationError as exc:  # a space bug, not the user's: say which point
            raise UnsupportedPolicy(f"the trial {params} is not a valid policy: {exc}") from exc
        return policy

    def run(self, points: list[Params], start: int = 0) -> list[Trial]:
        """The trials of ``points``, numbered from ``start``, in the order given."""
        policies = [self._policy(p) for p in points]
        reports: list[Report | None] = [None] * len(points)
        if self._pool is None or len(points) == 1:
            for i, policy in enumerate(policies):
                reports[i] = _trial(policy, self._trace, self._model, self._step)
                self._bar.advance(self._task)
        else:
            futures: dict[Future[Report], int] = {
                self._pool.submit(_trial, policy, self._trace, self._model, self._step): i
                for i, policy in enumerate(policies)
            }
            for future in as_completed(futures):
                reports[futures[future]] = future.result()
                self._bar.advance(self._task)
        out = []
        for k, (params, report) in enumerate(zip(points, reports, strict=True)):
            assert report is not None
            out.append(Trial(start + k, params, report))
        return out


# --- output -----------------------------------------------------------------------------------


def _trial_dict(trial: Trial) -> dict[str, Any]:
    return {"index": trial.index, "params": trial.params.to_dict(), **trial.report.to_dict()}


def _document(
    done: list[Trial],
    front: list[int],
    best: int | None,
    best_data: dict[str, Any] | None,
    budget: float,
    base_name: str,
    seed: int,
) -> dict[str, Any]:
    best_doc = None
    if best is not None:
        best_doc = {**_trial_dict(done[best]), "autoscaling": best_data}
    return {
        "base": {"name": base_name, **_trial_dict(done[0])},
        "budget": budget,
        "seed": seed,
        "trials": [_trial_dict(t) for t in done],
        "pareto": front,
        "best": best_doc,
    }


def _seconds(value: float | None) -> str:
    return "—" if value is None else format_duration(value)


def _table(
    done: list[Trial],
    front: list[int],
    best: int | None,
    budget: float,
    base_name: str,
    trace: Trace,
    replica_rps: float,
    step: float,
) -> None:
    predictive = done[0].params.safety_factor is not None
    table = Table(
        title=f"Pareto front of {len(done)} trials on {trace.rps.size:,} steps of {step:g}s "
        f"({trace.span / 86400:.1f} days), peak ≈ {trace.peak / replica_rps:.1f} replicas; "
        f"budget {budget:g} SLO-violation minutes",
        title_justify="left",
        caption=f"{SIMULATED} ★ the cheapest within budget; base = trial #0, {base_name} as given; "
        "+N: N more trials with the same figures; viol. min = SLO-violation minutes; down wait = scale-down "
        "stabilization (cooldown.down in mode threshold).",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    priced = any(t.report.cost != t.report.replica_hours for t in done)
    # Short two-line headers keep the table within an 80-column terminal or a CI log.
    columns = ["trial", "target\n%", "window", "down\nwait", "min"]
    if predictive:
        columns += ["safety\nfactor", "hori-\nzon"]
    # Cost is replica-hours × the price: one column of the two ranks the same.
    columns += ["viol.\nmin", "cost" if priced else "replica\nhours", "acts"]
    for col in columns:
        table.add_column(col, justify="left" if col == "trial" else "right", no_wrap=True)
    # Trials with the same figures (e.g. several that never scale) share one row: the
    # best or the base if among them, else the first; "+N" counts the others.
    groups: dict[tuple[float, float], list[int]] = {}
    for i in front:
        r = done[i].report
        groups.setdefault((r.slo_violation_minutes, r.replica_hours), []).append(i)
    rows: list[tuple[int, int]] = []
    for members in groups.values():
        shown = best if best in members else (0 if 0 in members else members[0])
        rows.append((shown, len(members) - 1))
    if 0 not in front:
        rows.append((0, 0))
    for i, more in rows:
        t = done[i]
        p, r = t.params, t.report
        label = f"{'★' if i == best else ''}{'base' if i == 0 else f'#{i}'}{f' +{more}' if more else ''}"
        cells = [label, "—" if p.target is None else f"{p.target:g}", _seconds(p.window), _seconds(p.scale_down)]
        cells.append(str(p.min_replicas))
        if predictive:
            cells += [f"{p.safety_factor:g}" if p.safety_factor is not None else "—", _seconds(p.horizon)]
        cells += [f"{r.slo_violation_minutes:,.0f}", f"{r.cost:,.2f}" if priced else f"{r.replica_hours:,.1f}"]
        cells.append(f"{r.scaling_actions:,}")
        style = "bold" if i == best else ("dim" if i not in front else None)
        table.add_row(*cells, style=style)
    console.print(table)


def _verdict(done: list[Trial], best: int | None, budget: float, base_name: str) -> None:
    base = done[0].report
    if best is None:
        _say(f"No trial stays within {budget:g} SLO-violation minutes; the front above is the trade-off available.")
        return
    r = done[best].report
    saved = (1 - r.cost / base.cost) * 100 if base.cost > 0 else 0.0
    _say(
        f"Best within budget: trial #{best}, {r.slo_violation_minutes:g} SLO-violation min, "
        f"{r.replica_hours:,.1f} replica-hours, cost {r.cost:,.2f} — vs {base_name}: "
        f"{base.slo_violation_minutes:g} min, {base.replica_hours:,.1f} replica-hours, cost {base.cost:,.2f} "
        f"({saved:+.1f} % saved). Simulated."
    )


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


# --- the plot ---------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 50
COLOURS = {"trial": "#9e9e9e", "front": "#1f77b4", "best": "#d62728", "base": "#2ca02c", "budget": "#d62728"}


def _render_html(done: list[Trial], front: list[int], best: int | None, budget: float, base_name: str) -> str:
    """A self-contained page: every trial as a dot (violation minutes across, cost up),
    the Pareto front joined and in colour, the budget as a dashed line. No script, no CDN."""
    xs = [t.report.slo_violation_minutes for t in done]
    ys = [t.report.cost for t in done]
    x_max = max([*xs, budget, 1e-9]) * 1.05
    y_lo, y_hi = min(ys), max(ys)
    pad = (y_hi - y_lo) * 0.05 or max(y_hi * 0.05, 1.0)
    y_lo, y_hi = max(0.0, y_lo - pad), y_hi + pad
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + x / x_max * w

    def py(y: float) -> float:
        return TOP + h - (y - y_lo) / (y_hi - y_lo) * h

    parts = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + h - frac * h
        x = LEFT + frac * w
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{y_lo + frac * (y_hi - y_lo):,.1f}</text>'
            f'<text x="{x:.1f}" y="{TOP + h + 16}" text-anchor="middle">{frac * x_max:,.0f}</text>'
        )
    bx = px(budget)
    parts.append(
        f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{TOP}" y2="{TOP + h}" stroke="{COLOURS["budget"]}" '
        'stroke-dasharray="5 4"/>'
    )
    for t in done:
        tip = html.escape(f"#{t.index}: {t.params.to_dict()}")
        parts.append(
            f'<circle cx="{px(t.report.slo_violation_minutes):.1f}" cy="{py(t.report.cost):.1f}" r="3" '
            f'fill="{COLOURS["trial"]}" fill-opacity="0.6"><title>{tip}</title></circle>'
        )
    line = " L".join(f"{px(xs[i]):.1f},{py(ys[i]):.1f}" for i in front)
    parts.append(f'<path class="front" d="M{line}" fill="none" stroke="{COLOURS["front"]}"/>')
    for i in front:
        parts.append(
            f'<circle class="front" cx="{px(xs[i]):.1f}" cy="{py(ys[i]):.1f}" r="4.5" fill="{COLOURS["front"]}">'
            f"<title>{html.escape(f'#{i}: {done[i].params.to_dict()}')}</title></circle>"
        )
    parts.append(
        f'<circle cx="{px(xs[0]):.1f}" cy="{py(ys[0]):.1f}" r="7" fill="none" stroke="{COLOURS["base"]}" '
        'stroke-width="2"/>'
    )
    if best is not None:
        parts.append(
            f'<circle cx="{px(xs[best]):.1f}" cy="{py(ys[best]):.1f}" r="9" fill="none" '
            f'stroke="{COLOURS["best"]}" stroke-width="2"/>'
        )
    parts.append(
        f'<text x="{LEFT + w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">SLO-violation minutes</text>'
        f'<text x="14" y="{TOP + h / 2:.1f}" transform="rotate(-90 14 {TOP + h / 2:.1f})" '
        'text-anchor="middle">cost</text>'
    )
    legend = " · ".join(
        f'<span style="color:{COLOURS[k]}">{label}</span>'
        for k, label in (
            ("trial", "● trial"),
            ("front", "● Pareto front"),
            ("base", f"◯ base ({html.escape(base_name)})"),
            ("best", "◯ cheapest within budget"),
            ("budget", f"┆ budget {budget:g} min"),
        )
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-size="11" '
        f'font-family="sans-serif">{"".join(parts)}</svg>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scalepilot tune</title>'
        "<style>body{font-family:sans-serif;margin:1em 2em}</style></head><body><h1>scalepilot tune</h1>"
        f"<p>{len(done)} trials of {html.escape(base_name)}. {html.escape(SIMULATED)}</p>"
        f"<p>{legend}</p>{svg}</body></html>\n"
    )
