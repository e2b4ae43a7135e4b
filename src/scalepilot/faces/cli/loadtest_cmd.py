"""``scalepilot loadtest URL``: measure one replica's capacity at the latency SLO.

The face of :mod:`scalepilot.service.loadtest`: check the options, run the bounded step
load with a progress bar and a line per step, print the steps and the knee, write the
capacity model (YAML) and the plot (self-contained HTML).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scalepilot.control.capacity import StepResult, render_html, violation
from scalepilot.faces.cli.common import console, duration_option, print_error
from scalepilot.service.loadtest import LoadTestPlan, LoadTestResult, NotLoopback, run_loadtest, write_capacity_model


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f}"


def _line(index: int, step: StepResult, slo_p95_s: float) -> str:
    why = violation(step, slo_p95_s)
    return (
        f"step {index + 1:>3}: offered {step.offered_rps:8,.1f} req/s  achieved {step.achieved_rps:8,.1f}  "
        f"p50 {_ms(step.p50_s):>6} ms  p95 {_ms(step.p95_s):>6} ms  p99 {_ms(step.p99_s):>6} ms  "
        f"errors {step.error_rate:6.1%}  " + ("ok" if why is None else f"OVER: {why}")
    )


def loadtest_cmd(
    url: str = typer.Argument(
        ..., metavar="URL", help="Loopback URL to load with GETs, e.g. http://127.0.0.1:8431/api/sync."
    ),
    slo_p95: str = typer.Option("200ms", "--slo-p95", help="Latency SLO: the p95 a step must stay within."),
    start: float = typer.Option(10.0, "--start", help="Requests/s offered by the first step."),
    step: float = typer.Option(10.0, "--step", help="Requests/s added at each step."),
    max_rps: float = typer.Option(2000.0, "--max-rps", help="No step offers more than this (req/s)."),
    step_duration: str = typer.Option("10s", "--step-duration", help="How long each step's arrivals last (>= 1s)."),
    max_duration: str = typer.Option("3m", "--max-duration", help="No step starts that would end after this."),
    concurrency_cap: int = typer.Option(
        512, "--concurrency-cap", help="Requests in flight at most; arrivals beyond it are shed (count as failed)."
    ),
    startup_delay: str = typer.Option(
        "60s", "--startup-delay", help="Scale-up to ready, for the model (configured: a URL cannot show it)."
    ),
    cost: float = typer.Option(1.0, "--cost-per-replica-hour", help="Cost of one replica for an hour, for the model."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the capacity model here (YAML)."),
    plot: Path | None = typer.Option(None, "--plot", help="Write p95 and achieved rate vs offered rate (.html)."),
) -> None:
    """Measure a service's capacity per replica at a latency SLO with a bounded step load.

    Open-loop arrivals at a fixed rate per step ([b]--start[/b], then [b]--step[/b] more
    each step) against ONE replica on loopback; per step the achieved rate, p50/p95/p99
    latency and error rate. The [b]knee[/b] is the highest step whose p95 stays within
    [b]--slo-p95[/b] with at most 1 % errors (two failing steps in a row confirm a breach;
    one is noise): its rate is the capacity per replica. The run stops by itself at the
    knee, at [b]--max-rps[/b] or at [b]--max-duration[/b]. Only loopback URLs are
    accepted. The startup delay and cost are configured, not measured. See docs/loadtest.md.

    [b]Examples[/b]

      scalepilot loadtest http://127.0.0.1:8431/api/sync

      scalepilot loadtest http://127.0.0.1:8431/api/sync --slo-p95 250ms --start 20 --step 5 -o shop-capacity.yaml

      scalepilot loadtest http://localhost:8080/ --step-duration 5s --max-duration 1m --plot knee.html
    """
    slo_s = duration_option(slo_p95, "--slo-p95")
    step_s = duration_option(step_duration, "--step-duration")
    max_s = duration_option(max_duration, "--max-duration")
    delay_s = duration_option(startup_delay, "--startup-delay")
    if not cost >= 0:
        raise typer.BadParameter("must not be negative", param_hint="--cost-per-replica-hour")
    if plot is not None and plot.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter("only .html plots are written (self-contained SVG)", param_hint="--plot")
    try:
        plan = LoadTestPlan(
            url=url,
            slo_p95_s=slo_s,
            start_rps=start,
            step_rps=step,
            max_rps=max_rps,
            step_duration_s=step_s,
            max_duration_s=max_s,
            concurrency_cap=concurrency_cap,
        )
    except NotLoopback as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    rates = plan.rates
    console.print(
        f"loadtest {url}: steps {rates[0]:g}→{rates[-1]:g} req/s by {step:g}, {step_s:g}s each, "
        f"SLO p95 {slo_s * 1000:g} ms, at most {max_s:g}s",
        highlight=False,
        soft_wrap=True,
    )
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>5.0f}/{task.total:.0f}s"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )
    with bar:
        task = bar.add_task("load", total=plan.planned_s)

        def on_progress(elapsed: float, rate: float) -> None:
            bar.update(task, completed=elapsed, description=f"{rate:,.0f} req/s")

        def on_step(index: int, result: StepResult) -> None:
            bar.console.print(_line(index, result, slo_s), highlight=False, soft_wrap=True)

        result = asyncio.run(run_loadtest(plan, on_progress=on_progress, on_step=on_step))

    _table(result)
    knee = result.knee
    stopped = {
        "knee": "the SLO breach was confirmed",
        "max-rps": "--max-rps was reached",
        "max-duration": "the next step would pass --max-duration",
    }[result.stopped_by]
    console.print(
        f"stopped: {result.stopped_by} ({stopped}) after {len(result.steps)} steps, {result.elapsed_s:.0f}s",
        highlight=False,
        soft_wrap=True,
    )
    if plot is not None:
        plot.write_text(render_html(result.steps, knee, slo_s, url), encoding="utf-8")
        console.print(f"plot written to {plot}", highlight=False, soft_wrap=True)
    if knee.rps is None:
        first = result.steps[0] if result.steps else None
        why = violation(first, slo_s) if first is not None else "no step ran"
        hint = (
            " — is the service running at that URL?"
            if first is not None and first.error_rate >= 1.0
            else "; lower --start"
        )
        print_error(f"error: no step met the SLO (first step: {why}){hint}. No capacity model written.")
        raise typer.Exit(1)
    lower_bound = knee.breach is None
    console.print(
        f"knee: {knee.rps:g} req/s per replica at p95 ≤ {slo_s * 1000:g} ms"
        + (" (a lower bound: the SLO was never breached)" if lower_bound else ""),
        highlight=False,
        soft_wrap=True,
    )
    if output is not None:
        model = result.model(startup_delay_s=delay_s, cost_per_replica_hour=cost)
        write_capacity_model(output, model, lower_bound=lower_bound)
        console.print(f"capacity model written to {output}", highlight=False, soft_wrap=True)


def _table(result: LoadTestResult) -> None:
    knee = result.knee
    slo = result.plan.slo_p95_s
    table = Table(
        title=f"{result.plan.url} — SLO p95 {slo * 1000:g} ms",
        title_justify="left",
        caption="Measured: open-loop Poisson arrivals at the offered rate (arrived: the actual count ÷ the "
        "step); latency of successful requests; errors include time-outs and arrivals shed at --concurrency-cap.",
        caption_justify="left",
    )
    for col in (
        "step",
        "offered\nreq/s",
        "arrived\nreq/s",
        "achieved\nreq/s",
        "p50\nms",
        "p95\nms",
        "p99\nms",
        "errors",
        "",
    ):
        table.add_column(col, justify="right", no_wrap=True)
    for i, s in enumerate(result.steps):
        mark = "knee" if i == knee.index else ("over" if violation(s, slo) else "")
        table.add_row(
            str(i + 1),
            f"{s.offered_rps:,.1f}",
            f"{s.requests / result.plan.step_duration_s:,.1f}",
            f"{s.achieved_rps:,.1f}",
            _ms(s.p50_s),
            _ms(s.p95_s),
            _ms(s.p99_s),
            f"{s.error_rate:.1%}",
            mark,
            style="bold" if i == knee.index else None,
        )
    console.print(table)
