"""What ``simulate`` and ``tune`` both read from their options: the simulated service,
the trace and policy files, each refused with a usage error or ``file:line``."""

from __future__ import annotations

from pathlib import Path

import typer

from scalepilot.config.loader import ConfigError
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation import ServiceModel, Trace
from scalepilot.control.simulation.trace import TraceValueError
from scalepilot.faces.cli.common import print_error
from scalepilot.service.traces import TraceFormatError, load_policy, load_trace


def check_service(replica_rps: float, min_replicas: int, max_replicas: int, plot: Path | None) -> None:
    if not replica_rps > 0:
        raise typer.BadParameter("must be greater than 0", param_hint="--replica-rps")
    if min_replicas < 0 or max_replicas < max(1, min_replicas):
        raise typer.BadParameter("need 0 <= --min <= --max and --max >= 1", param_hint="--min/--max")
    if plot is not None and plot.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter("only .html plots are written (self-contained SVG)", param_hint="--plot")


def service_model(replica_rps: float, startup_delay: float, cost: float, scrape_interval: float) -> ServiceModel:
    try:
        return ServiceModel(replica_rps, startup_delay, cost, scrape_interval)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def trace_or_exit(path: Path, fmt: str, step: float, scale_peak: float | None, replica_rps: float) -> Trace:
    """The trace resampled to ``step`` (and scaled so its peak needs ``scale_peak``
    replicas); a bad file exits 1 naming its line."""
    try:
        trace = load_trace(path, fmt).resample(step)
        return trace if scale_peak is None else trace.scaled_to_peak(scale_peak, replica_rps)
    except (TraceFormatError, TraceValueError) as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(1) from None


def policy_or_exit(path: Path) -> AutoscalingSettings:
    """A policy file's ``autoscaling:`` block; every problem printed as file:line, exit 1."""
    try:
        return load_policy(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print_error(str(issue))
        raise typer.Exit(1) from None
