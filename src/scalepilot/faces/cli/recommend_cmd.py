"""``scalepilot recommend``: CPU and memory requests/limits per replica from stored
history, by robusta krr's ``simple`` rule (docs/rightsizing.md)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.durations import parse_duration
from scalepilot.config.loader import LoadedConfig
from scalepilot.config.models import StorageSettings
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.control.rightsizing import MIB, ResourceRecommendation, RightsizingSettings, Status, change
from scalepilot.domain.store import StoreError
from scalepilot.faces.cli.common import Output, console, err_console, load_or_exit
from scalepilot.service.recommend import Current, Report, ServiceRecommendation, recommend, step_for


def _fail(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(1)


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _fail(f"{option}: {exc}") from None


def parse_percent(text: str) -> float:
    """``15%`` or ``15`` → 0.15. Raises ValueError."""
    raw = text.strip().removesuffix("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"not a percentage: {text!r} (use e.g. 15%)") from None
    if value < 0:
        raise ValueError(f"must not be negative: {text!r}")
    return value / 100


def format_cores(cores: float | None) -> str:
    return "-" if cores is None else f"{cores:.2f}"


def format_bytes(nbytes: float | None) -> str:
    if nbytes is None:
        return "-"
    mib = nbytes / MIB
    if mib >= 10 * 1024:
        return f"{mib / 1024:.1f}Gi"
    return f"{mib:.0f}Mi" if mib >= 10 else f"{mib:.1f}Mi"


def _pct(ratio: float | None) -> str:
    if ratio is None:
        return ""
    sign = "+" if ratio >= 0 else "−"
    return f" ({sign}{abs(ratio) * 100:.0f} %)"


def _current_resources(loaded: LoadedConfig | None) -> dict[str, Current]:
    if loaded is None:
        return {}
    out = {}
    for svc in loaded.config.services:
        if isinstance(svc.target, LocalTargetSettings):
            res = svc.target.resources
            out[svc.name] = Current(cpu=res.cpu, memory=float(res.memory) if res.memory else None)
        else:
            out[svc.name] = Current()
    return out


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _resource_json(r: ResourceRecommendation, current: float | None, unit: str) -> dict[str, Any]:
    measured_key = "percentile" if unit == "cores" else "peak"
    return {
        "status": r.status.value,
        "reason": r.reason,
        "unit": unit,
        measured_key: r.measured,
        "request": r.request,
        "limit": r.limit,
        "current": current,
        "change": change(current, r.request),
        "points": r.points,
        "covered_seconds": r.covered_s,
        "first": _iso(r.first_ms),
        "last": _iso(r.last_ms),
        "replicas": list(r.replicas),
    }


def report_json(report: Report, window_s: float) -> dict[str, Any]:
    s = report.settings
    return {
        "strategy": "krr simple",
        "source": report.source,
        "window": {
            "requested_seconds": window_s,
            "start": _iso(report.start_ms),
            "end": _iso(report.end_ms),
            "step_seconds": report.step_s,
        },
        "settings": {
            "cpu_percentile": s.cpu_percentile,
            "memory_buffer": s.memory_buffer,
            "min_data_seconds": s.min_data_s,
        },
        "services": [
            {
                "service": r.service,
                "cpu": _resource_json(r.cpu, r.current.cpu, "cores"),
                "memory": _resource_json(r.memory, r.current.memory, "bytes"),
            }
            for r in report.services
        ],
    }


def _coverage(r: ServiceRecommendation) -> str:
    res = r.cpu if r.cpu.covered_s >= r.memory.covered_s else r.memory
    if res.status is Status.NO_DATA:
        return "[yellow]no data[/yellow]"
    replicas = len(set(r.cpu.replicas) | set(r.memory.replicas))
    return f"{res.covered_s / 3600:.1f} h · {replicas} replicas · {res.points} points"


def _cpu_cell(r: ServiceRecommendation, percentile: float) -> str:
    c = r.cpu
    if c.measured is None:
        return "-"
    head = f"p{percentile:g} {format_cores(c.measured)}"
    if c.request is None:
        return f"{head} → [yellow]?[/yellow]"
    return f"{head} → {format_cores(c.request)} (limit unset)"


def _mem_cell(r: ServiceRecommendation) -> str:
    m = r.memory
    if m.measured is None:
        return "-"
    head = f"max {format_bytes(m.measured)}"
    if m.request is None:
        return f"{head} → [yellow]?[/yellow]"
    return f"{head} → {format_bytes(m.request)}"


def _change_cell(r: ServiceRecommendation) -> str:
    parts = []
    if r.current.cpu is not None and r.cpu.request is not None:
        parts.append(
            f"cpu {format_cores(r.current.cpu)} → {format_cores(r.cpu.request)}"
            f"{_pct(change(r.current.cpu, r.cpu.request))}"
        )
    if r.current.memory is not None and r.memory.request is not None:
        parts.append(
            f"memory {format_bytes(r.current.memory)} → {format_bytes(r.memory.request)}"
            f"{_pct(change(r.current.memory, r.memory.request))}"
        )
    return ", ".join(parts) or "-"


def _basis(r: ServiceRecommendation) -> str:
    if r.cpu.status is r.memory.status:
        return r.cpu.reason
    return f"cpu: {r.cpu.reason}\nmemory: {r.memory.reason}"


def print_table(report: Report, window_s: float) -> None:
    s = report.settings
    table = Table(
        title=f"right-sizing (krr simple): cpu p{s.cpu_percentile:g}, no limit; "
        f"memory max + {s.memory_buffer * 100:g} %",
        title_justify="left",
        header_style="bold",
    )
    for col in ("service", "data", "cpu cores / replica", "memory / replica (request = limit)", "current", "change"):
        table.add_column(col, overflow="fold")
    table.add_column("basis", overflow="fold")
    for r in report.services:
        current = f"cpu {format_cores(r.current.cpu)}, memory {format_bytes(r.current.memory)}"
        if r.current.cpu is None and r.current.memory is None:
            current = "-"
        table.add_row(
            r.service, _coverage(r), _cpu_cell(r, s.cpu_percentile), _mem_cell(r), current, _change_cell(r), _basis(r)
        )
    console.print(table)
    console.print(
        f"window: {window_s / 86400:g} d requested, {_iso(report.start_ms)} to {_iso(report.end_ms)}, "
        f"one point per {report.step_s:g} s; a recommendation needs {s.min_data_s / 3600:g} h of data",
        highlight=False,
    )
    console.print(f"source: {report.source}", highlight=False, markup=False)
    if not report.services:
        console.print("no services with process stats in the window", style="yellow")


def recommend_cmd(
    config: Path | None = typer.Option(
        None, "-c", "--config", help="scalepilot.yaml: current resources (target.resources) and the data directory."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (overrides -c; default .scalepilot)."
    ),
    window: str = typer.Option("14d", "--window", help="How far back to look (krr's default: 14d)."),
    cpu_percentile: float = typer.Option(95.0, "--cpu-percentile", help="CPU request = this percentile of usage."),
    memory_buffer: str = typer.Option("15%", "--memory-buffer", help="Memory request = limit = peak + this."),
    min_data: str = typer.Option("24h", "--min-data", help="Data a resource needs before it is right-sized."),
    service: list[str] = typer.Option([], "--service", "-s", help="Only this service (repeatable)."),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """Recommend CPU and memory per replica from stored history, as robusta krr's
    [b]simple[/b] strategy does.

    CPU request = the 95th percentile of each replica's CPU use (cores, one 1-minute
    rate per minute), the highest replica's; no CPU limit. Memory request = memory
    limit = the highest RSS of any replica + 15 %. Measured from scalepilot's own
    process stats of local replicas and watched processes; a resource with less than
    --min-data of data gets no recommendation, only what was measured.
    Reads the data directory read-only, so it works next to a running scalepilot.

    [b]Examples[/b]

      scalepilot recommend -c scalepilot.yaml

      scalepilot recommend --data-dir .scalepilot --window 7d --service shop

      scalepilot recommend -c scalepilot.yaml --cpu-percentile 99 --memory-buffer 25% -o json
    """
    window_s = _duration(window, "--window")
    min_data_s = _duration(min_data, "--min-data")
    if window_s <= 0:
        raise _fail("--window must be positive")
    try:
        settings = RightsizingSettings(
            cpu_percentile=cpu_percentile, memory_buffer=parse_percent(memory_buffer), min_data_s=min_data_s
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    loaded = load_or_exit(config) if config is not None else None
    if data_dir is None:
        data_dir = loaded.data_dir() if loaded else Path(".scalepilot")
    storage = loaded.config.storage if loaded else StorageSettings()
    step_s = step_for(loaded.config.host_stats.interval) if loaded else step_for(15.0)
    if not data_dir.exists():
        raise _fail(f"no data directory at {data_dir}")
    try:
        store = SQLiteStore.open(data_dir, storage, read_only=True)
    except StoreError as exc:
        raise _fail(f"cannot open {data_dir}: {exc}") from None
    try:
        report = recommend(
            store,
            now_ms=int(time.time() * 1000),
            window_s=window_s,
            settings=settings,
            step_s=step_s,
            services=service,
            current=_current_resources(loaded),
        )
    finally:
        store.close()
    if output is Output.json:
        typer.echo(json.dumps(report_json(report, window_s), indent=2))
        return
    print_table(report, window_s)
