"""``scalepilot simulate``: what would a scaling policy have done to this traffic?

The face of :mod:`scalepilot.control.simulation`: read the trace and the policies,
resample, run each reactive policy through the live engine (in parallel processes when
there are several), add the static provisioning and the oracle, and print a table or
one JSON object; optionally write a self-contained HTML plot.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation import Run, ServiceModel, Trace, UnsupportedPolicy, oracle, simulate, static
from scalepilot.control.simulation.baselines import ALL, DEFAULT, REACTIVE, baseline
from scalepilot.control.simulation.plot import render_html
from scalepilot.faces.cli.common import Output, console, duration_option, err_console, print_error
from scalepilot.faces.cli.sim_inputs import check_service, policy_or_exit, service_model, trace_or_exit
from scalepilot.service.loadtest import ModelFileError, load_capacity_model
from scalepilot.service.traces import FORMATS


def simulate_cmd(
    trace_file: Path = typer.Option(
        ..., "--trace", help="Request-rate trace to replay.", exists=True, dir_okay=False, show_default=False
    ),
    trace_format: str = typer.Option(
        "csv", "--trace-format", help=f"One of {', '.join(FORMATS)}: a timestamp,rps CSV, or a public trace."
    ),
    replica_rps: float | None = typer.Option(
        None,
        "--replica-rps",
        help="Requests/s one replica serves within the SLO (its capacity); required unless --model gives it.",
        show_default=False,
    ),
    model_file: Path | None = typer.Option(
        None,
        "--model",
        help="A capacity model written by [b]scalepilot loadtest -o[/b]: its replica rps, startup delay and cost "
        "apply unless given as options.",
        exists=True,
        dir_okay=False,
    ),
    startup_delay: str | None = typer.Option(
        None, "--startup-delay", help="From a scale-up to the replicas being ready (default 60s).", show_default=False
    ),
    min_replicas: int = typer.Option(1, "--min", help="Fewest replicas (0 lets keda scale to zero)."),
    max_replicas: int = typer.Option(100, "--max", help="Most replicas."),
    cost: float | None = typer.Option(
        None, "--cost-per-replica-hour", help="Cost of one replica for an hour (default 1).", show_default=False
    ),
    compare: str = typer.Option(
        ",".join(DEFAULT), "--compare", help=f"Baselines to run, comma-separated: {', '.join(ALL)}; '' for none."
    ),
    policies: list[Path] = typer.Option(
        [], "--policy", help="YAML file with an autoscaling: block (repeatable); named by its file name."
    ),
    step: str = typer.Option("60s", "--step", help="Simulation step the trace is resampled to."),
    scrape_interval: str = typer.Option("15s", "--scrape-interval", help="How often metrics are sampled."),
    scale_peak: float | None = typer.Option(
        None, "--scale-peak-replicas", help="Scale the trace so its peak needs about this many replicas."
    ),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json (one object)."),
    plot: Path | None = typer.Option(None, "--plot", help="Write load, capacity and replicas per policy (.html)."),
) -> None:
    """Replay a traffic trace through scaling policies and compare them with the oracle.

    Each policy runs through the engine [b]scalepilot run[/b] uses, on a virtual clock,
    against a simulated service: new replicas are ready only after the startup delay,
    metrics are scraped and read over the policy's window. Reported per policy: minutes
    in which load exceeded ready capacity (SLO-violation minutes), replica-hours, cost,
    scaling actions and the requests above capacity. The [b]oracle[/b] (perfect
    foresight, instant startup) is the lower bound no policy can beat. Same input, same
    numbers. See docs/simulation.md.

    [b]Examples[/b]

      scalepilot simulate --trace traffic.csv --replica-rps 50 --startup-delay 90s

      scalepilot simulate --trace wc98.csv --trace-format worldcup98 --replica-rps 10 --scale-peak-replicas 20

      scalepilot simulate --trace traffic.csv --replica-rps 50 --compare hpa --policy mine.yaml --plot runs.html

      scalepilot loadtest http://127.0.0.1:8080/ -o shop.yaml

      scalepilot simulate --trace traffic.csv --model shop.yaml --compare hpa,predictive
    """
    if model_file is not None:
        try:
            measured = load_capacity_model(model_file)
        except ModelFileError as exc:
            print_error(f"error: {exc}")
            raise typer.Exit(1) from None
        replica_rps = measured.replica_rps if replica_rps is None else replica_rps
        startup_delay = startup_delay or f"{measured.startup_delay:g}s"
        cost = measured.cost_per_replica_hour if cost is None else cost
    if replica_rps is None:
        raise typer.BadParameter("give --replica-rps or a --model that has it", param_hint="--replica-rps")
    cost = 1.0 if cost is None else cost
    delay = duration_option(startup_delay or "60s", "--startup-delay")
    step_s = duration_option(step, "--step")
    scrape_s = duration_option(scrape_interval, "--scrape-interval")
    check_service(replica_rps, min_replicas, max_replicas, plot)
    names = [n.strip() for n in compare.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise typer.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(ALL)}", param_hint="--compare")
    model = service_model(replica_rps, delay, cost, scrape_s)
    trace = trace_or_exit(trace_file, trace_format, step_s, scale_peak, replica_rps)

    runs_wanted: list[tuple[str, AutoscalingSettings]] = []
    for name in names:
        if name in REACTIVE:
            runs_wanted.append(
                (
                    name,
                    baseline(
                        name,
                        replica_rps=replica_rps,
                        min_replicas=min_replicas,
                        max_replicas=max_replicas,
                        startup_delay=delay,
                    ),
                )
            )
    for path in policies:
        settings = policy_or_exit(path)
        name = path.stem
        while name in {n for n, _ in runs_wanted} | set(ALL):
            name += "'"
        runs_wanted.append((name, settings))

    try:
        simulated = _run_all(runs_wanted, trace, model, step_s)
    except UnsupportedPolicy as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(1) from None
    runs: list[Run] = []
    for name in names:
        runs.append(static(trace, model, min_replicas, max_replicas, step_s) if name == "static" else simulated[name])
    runs.extend(simulated[name] for name, _ in runs_wanted if name not in names)
    best = oracle(trace, model, min_replicas, max_replicas, step_s)

    if plot is not None:
        plot.write_text(render_html(trace, [*runs, best], replica_rps), encoding="utf-8")
    if output is Output.json:
        doc: dict[str, Any] = {
            "trace": {
                "start": trace.start,
                "end": trace.end,
                "step": step_s,
                "steps": int(trace.rps.size),
                "peak_rps": trace.peak,
                "peak_replicas": trace.peak / replica_rps,
            },
            "policies": {run.name: run.report.to_dict() for run in runs},
            "oracle": best.report.to_dict(),
        }
        typer.echo(json.dumps(doc))
        return
    _table(runs, best, trace, replica_rps, step_s)
    if plot is not None:
        console.print(f"plot written to {plot}", highlight=False, soft_wrap=True)


def _table(runs: list[Run], best: Run, trace: Trace, replica_rps: float, step: float) -> None:
    days = trace.span / 86400
    table = Table(
        title=f"{trace.rps.size:,} steps of {step:g}s ({days:.1f} days), peak {trace.peak:,.1f} req/s "
        f"≈ {trace.peak / replica_rps:.1f} replicas",
        title_justify="left",
        caption="Simulated, not measured: each policy replayed through the live engine's decide() on a virtual "
        "clock; oracle = perfect foresight and instant startup, the lower bound.",
        caption_justify="left",
    )
    # Two-line headers keep the table readable in an 80-column terminal or a CI log.
    for col in (
        "policy",
        "SLO viol.\nminutes",
        "replica\nhours",
        "vs\noracle",
        "cost",
        "scaling\nactions",
        "overload\nrequests",
    ):
        table.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    base = best.report.replica_hours
    for run in [*runs, best]:
        r = run.report
        ratio = f"{r.replica_hours / base:.2f}×" if base > 0 else "—"
        table.add_row(
            run.name,
            f"{r.slo_violation_minutes:,.0f}",
            f"{r.replica_hours:,.1f}",
            ratio,
            f"{r.cost:,.2f}",
            f"{r.scaling_actions:,}",
            f"{r.overload_requests:,.0f}",
            style="bold" if run is best else None,
        )
    console.print(table)


def _worker(
    name: str, settings: AutoscalingSettings, trace: Trace, model: ServiceModel, step: float, progress: Any
) -> Run:
    def report(done: int, total: int) -> None:
        if progress is not None:
            progress.put((name, done, total))

    return simulate(name, settings, trace, model, step=step, progress=report)


def _run_all(
    wanted: list[tuple[str, AutoscalingSettings]], trace: Trace, model: ServiceModel, step: float
) -> dict[str, Run]:
    """Each policy's run; in parallel processes when there are several (each run is
    single-threaded Python), with one progress bar per policy on standard error."""
    out: dict[str, Run] = {}
    if not wanted:
        return out
    bars = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed:>7,.0f}/{task.total:,.0f} steps"),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    total = int(trace.rps.size)
    with bars:
        tasks: dict[str, TaskID] = {name: bars.add_task(name, total=total) for name, _ in wanted}
        if len(wanted) == 1:
            name, settings = wanted[0]
            out[name] = simulate(
                name,
                settings,
                trace,
                model,
                step=step,
                progress=lambda done, _total: bars.update(tasks[name], completed=done),
            )
            return out
        with multiprocessing.Manager() as manager:
            updates = manager.Queue()
            workers = min(len(wanted), os.cpu_count() or 1)
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures: dict[Future[Run], str] = {
                    pool.submit(_worker, name, settings, trace, model, step, updates): name for name, settings in wanted
                }
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(updates, bars, tasks)
                    for future in done:
                        run = future.result()
                        out[run.name] = run
                        bars.update(tasks[run.name], completed=total)
    return out


def _drain(updates: Any, bars: Progress, tasks: dict[str, TaskID]) -> None:
    while True:
        try:
            name, done, _total = updates.get_nowait()
        except queue.Empty:
            return
        bars.update(tasks[name], completed=done)
