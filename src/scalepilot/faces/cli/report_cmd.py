"""``scalepilot report``: the scaling report of a data directory: usage, headroom, cost,
recommendations, and what growth would need and cost (docs/report.md)."""

from __future__ import annotations

import asyncio
import json
import time
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.durations import format_duration
from scalepilot.config.models import Config
from scalepilot.control.report import Growth, factor_growth, growth_plan, users_growth
from scalepilot.domain.store import StoreError
from scalepilot.faces.cli.common import console, duration_option, load_or_exit, print_error
from scalepilot.faces.cli.report_plot import render_report_html
from scalepilot.faces.report_text import (
    PROJECTION_COLUMNS,
    heading,
    iso,
    projection_row,
    summary_lines,
    to_markdown,
    usage_rows,
)
from scalepilot.service.loadtest import ModelFileError, load_capacity_model
from scalepilot.service.metric_source import EmbeddedMetricSource
from scalepilot.service.report import Capacity, Options, ScalingReport, build_report


class ReportOutput(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _numbers(text: str, option: str) -> list[float]:
    out = []
    for part in text.split(","):
        raw = part.strip().lstrip("×x*").replace("_", "")
        if not raw:
            continue
        try:
            out.append(float(raw))
        except ValueError:
            raise typer.BadParameter(f"not a number: {part.strip()!r}", param_hint=option) from None
    return out


def _growths(users_now: float | None, users: str | None, growth: str | None) -> list[Growth]:
    if users is not None and users_now is None:
        raise typer.BadParameter("say how many users made the recorded traffic", param_hint="--users-now")
    try:
        out = users_growth(users_now, _numbers(users, "--users")) if users is not None and users_now is not None else []
        return out + (factor_growth(_numbers(growth, "--growth")) if growth else [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--users/--growth") from None


def _capacity(model: Path | None, replica_rps: float | None) -> Capacity | None:
    if replica_rps is not None and not replica_rps > 0:
        raise typer.BadParameter("must be greater than 0", param_hint="--replica-rps")
    if model is not None:
        try:
            measured = load_capacity_model(model)
        except ModelFileError as exc:
            print_error(f"error: {exc}")
            raise typer.Exit(1) from None
        return Capacity(
            replica_rps or measured.replica_rps,
            measured.startup_delay,
            f"the capacity model {model}" + (" (replica rps given)" if replica_rps else ""),
            f"the capacity model's startup_delay ({model})",
        )
    return None if replica_rps is None else Capacity(replica_rps, source="--replica-rps")


def print_table(report: ScalingReport) -> None:
    priced = report.price is not None
    console.print(
        f"[b]scaling report[/b] {iso(report.start_ms)} to {iso(report.end_ms)} UTC "
        f"({format_duration(report.range_s)}), one value per minute",
        highlight=False,
    )
    for r in report.services:
        console.rule(heading(r), align="left")
        table = Table(title="usage (measured)", title_justify="left", header_style="bold")
        for col in ("figure", "mean", "p95", "max", "note"):
            table.add_column(col, overflow="fold", justify="right" if col in ("mean", "p95", "max") else "left")
        for row in usage_rows(r):
            table.add_row(*row)
        console.print(table)
        for line in summary_lines(r):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        if r.projections:
            proj = Table(title="projected (simulated, per 30 days)", title_justify="left", header_style="bold")
            for col in PROJECTION_COLUMNS:
                proj.add_column(col, overflow="fold", justify="left" if col in ("growth", "note") else "right")
            for p in r.projections:
                proj.add_row(*projection_row(p, priced))
            console.print(proj)
        if r.projection_note:
            console.print(r.projection_note, style="dim", highlight=False, markup=False, soft_wrap=True)
        if r.recommendations:
            rec = Table(title="recommendations", title_justify="left", header_style="bold")
            for col in ("#", "what to change", "evidence", "source"):
                rec.add_column(col, overflow="fold")
            for i, x in enumerate(r.recommendations, 1):
                rec.add_row(str(i), x.text, x.evidence, x.source)
            console.print(rec)
        else:
            console.print("recommendations: none; nothing in the figures above asks for a change", highlight=False)
    if not report.services:
        console.print("no services in the config (or none of those asked for)", style="yellow")


def report_cmd(
    config: Path = typer.Option(
        Path("scalepilot.yaml"), "-c", "--config", help="scalepilot.yaml: the services, their autoscaling and limits."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (default: the config's)."),
    range_: str = typer.Option("7d", "--range", help="How far back to look (up to the data kept)."),
    service: list[str] = typer.Option([], "--service", "-s", help="Only this service (repeatable)."),
    model: Path | None = typer.Option(
        None,
        "--model",
        help="A capacity model from [b]scalepilot loadtest -o[/b]: capacity per replica and startup delay.",
        exists=True,
        dir_okay=False,
    ),
    replica_rps: float | None = typer.Option(
        None,
        "--replica-rps",
        help="Requests/s one replica serves within the SLO (overrides --model's).",
        show_default=False,
    ),
    startup_delay: str | None = typer.Option(
        None,
        "--startup-delay",
        help="Scale-up to ready, for projections (default: measured from the replicas' own starts, else the "
        "model's, else 60s).",
        show_default=False,
    ),
    price: float | None = typer.Option(
        None,
        "--price",
        help="Cost of one replica for an hour, in any currency: adds costs.",
        show_default=False,
    ),
    users_now: float | None = typer.Option(
        None,
        "--users-now",
        help="How many users made the recorded traffic (scalepilot cannot know).",
        show_default=False,
    ),
    users: str | None = typer.Option(
        None,
        "--users",
        help="User counts to project, comma-separated, e.g. 500,1000 (needs --users-now).",
        show_default=False,
    ),
    growth: str | None = typer.Option(
        None,
        "--growth",
        help="Traffic multiples to project, comma-separated, e.g. 2,5.",
        show_default=False,
    ),
    output: ReportOutput = typer.Option(ReportOutput.table, "-o", "--output", help="table, json or markdown."),
    plot: Path | None = typer.Option(None, "--plot", help="Write charts of traffic, replicas and projections (.html)."),
) -> None:
    """The scaling report: per service, usage, headroom, cost and recommendations from
    what scalepilot recorded, and what more users would need and cost.

    Usage is measured, one value per minute of the range: traffic, p95 latency, errors,
    CPU and memory per replica against their limits and targets, replicas, and the
    minutes at max_replicas. Headroom compares the peak with the ceiling; with a
    capacity per replica (--model from [b]scalepilot loadtest[/b], --replica-rps, or the
    config's autoscaling.predictive.replica_rps) also in req/s. Projections replay the
    recorded traffic × each growth (--users N ÷ --users-now, or --growth) through the
    service's own autoscaling section in the simulator and through the oracle, per 30
    days: they are simulated, not measured, and assume load grows in proportion.
    Recommendations name their evidence. Reads the data directory read-only, so it
    works next to a running scalepilot. See docs/report.md.

    [b]Examples[/b]

      scalepilot report -c scalepilot.yaml

      scalepilot report --range 14d --model shop-model.yaml --price 0.04 --users-now 120 --users 500,1000

      scalepilot report -s api --replica-rps 50 --growth 2,5 -o markdown > report.md

      scalepilot report --replica-rps 50 --growth 3 --plot report.html
    """
    range_s = duration_option(range_, "--range")
    if range_s < 3600:
        raise typer.BadParameter("must be at least 1h", param_hint="--range")
    if price is not None and price < 0:
        raise typer.BadParameter("must not be negative", param_hint="--price")
    if plot is not None and plot.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter("only .html plots are written (self-contained SVG)", param_hint="--plot")
    growths = _growths(users_now, users, growth)
    capacity = _capacity(model, replica_rps)
    delay = duration_option(startup_delay, "--startup-delay") if startup_delay else None
    loaded = load_or_exit(config)
    names = {s.name for s in loaded.config.services}
    unknown = [s for s in service if s not in names]
    if unknown:
        raise typer.BadParameter(f"no service {', '.join(unknown)} in {config}", param_hint="--service")
    directory = data_dir or loaded.data_dir()
    if not directory.exists():
        print_error(f"error: no data directory at {directory}")
        raise typer.Exit(1)
    try:
        store = SQLiteStore.open(directory, loaded.config.storage, read_only=True)
    except StoreError as exc:
        print_error(f"error: cannot open {directory}: {exc}")
        raise typer.Exit(1) from None
    options = Options(
        range_s=range_s, services=service, capacity=capacity, startup_delay=delay, price=price, growths=growths
    )
    count = len(service) or len(names)
    if capacity is not None and count > 1:
        # One replica's capacity is one service's: say so rather than guess which.
        print_error(f"note: the capacity given ({capacity.source}) applies to all {count} services; use -s for one")
    try:
        report = _build(store, loaded.config, options, count, output is ReportOutput.table)
    finally:
        store.close()
    if plot is not None:
        plot.write_text(render_report_html(report), encoding="utf-8")
    if output is ReportOutput.json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif output is ReportOutput.markdown:
        typer.echo(to_markdown(report), nl=False)
    else:
        print_table(report)
        if plot is not None:
            console.print(f"plot written to {plot}", highlight=False, soft_wrap=True)


def _build(store: SQLiteStore, config: Config, options: Options, services: int, show_progress: bool) -> ScalingReport:
    source = EmbeddedMetricSource(store)
    now_ms = int(time.time() * 1000)
    projected = services * len(growth_plan(options.growths)) if options.capacity is not None else 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not show_progress or not projected,
    ) as bars:
        task = bars.add_task("projecting", total=projected)

        def step(label: str) -> None:
            bars.update(task, advance=1, description=f"projected {label}")

        return asyncio.run(build_report(store, source, config, now_ms=now_ms, options=options, progress=step))
