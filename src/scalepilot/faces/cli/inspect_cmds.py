"""``scalepilot targets`` (live state from a running scalepilot) and ``scalepilot series``
(latest values straight from the data directory, with or without a running server)."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.durations import parse_duration
from scalepilot.config.models import StorageSettings
from scalepilot.control.query.selector import parse_selector
from scalepilot.domain.labels import format_labels
from scalepilot.domain.query import QueryError
from scalepilot.faces.cli.common import DEFAULT_CONFIG, Output, ago, api_headers, console, err_console, load_or_exit


def server_url(config: Path, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    if config.exists():
        server = load_or_exit(config).config.server
        host = server.host if ":" not in server.host else f"[{server.host}]"
        return f"http://{host}:{server.port}"
    return "http://127.0.0.1:8420"


def targets(
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask."),
    url: str | None = typer.Option(None, help="Base URL of a running scalepilot (overrides -c)."),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """Show every scrape target of a running scalepilot: up or down, and why.

    [b]Examples[/b]

      scalepilot targets

      scalepilot targets --url http://127.0.0.1:8420 -o json
    """
    base = server_url(config, url)
    try:
        resp = httpx.get(f"{base}/status", headers=api_headers(), timeout=5)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        err_console.print(f"cannot reach scalepilot at {base}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    status: dict[str, Any] = resp.json()
    if output is Output.json:
        typer.echo(json.dumps(status["targets"], indent=2))
        return
    table = Table(title=f"targets of {base}", title_justify="left")
    for col in ("service", "instance", "replica", "health", "last scrape", "duration", "samples", "error"):
        table.add_column(col, overflow="fold")
    now = time.time()
    for t in status["targets"]:
        health = {"up": "[green]up[/green]", "down": "[red]down[/red]"}.get(t["health"], t["health"])
        last = ago(now - t["last_scrape_ms"] / 1000) if t["last_scrape_ms"] else "never"
        dur = f"{t['last_duration_seconds'] * 1000:.0f}ms" if t["last_duration_seconds"] is not None else ""
        table.add_row(t["service"], t["instance"], t["replica"], health, last, dur, str(t["samples"]), t["last_error"])
    console.print(table)
    down = sum(t["health"] == "down" for t in status["targets"])
    console.print(f"{len(status['targets'])} targets, {down} down", highlight=False)


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    # The shortest text that reads back as the same float, as Prometheus prints values.
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def series(
    selector: str = typer.Argument(..., help="A series selector, e.g. 'up{service=\"shop\"}'."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
    include_stale: bool = typer.Option(False, "--stale", help="Also list series that have gone stale."),
) -> None:
    """Print the latest value of every series matching a selector.

    Reads the data directory directly (read-only), so it works whether or not scalepilot
    is running; a running scalepilot's data is visible up to its last flush (1s).

    [b]Examples[/b]

      scalepilot series 'up'

      scalepilot series 'http_requests_total{service="shop",code=~"5.."}' -o json

      scalepilot series '{__name__=~"scrape_.*"}' --data-dir .scalepilot
    """
    try:
        matchers = parse_selector(selector)
    except QueryError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    store = open_store(config, data_dir)
    try:
        latest = store.latest(matchers)
    finally:
        store.close()
    rows = sorted((s for s in latest if include_stale or not s.stale), key=lambda s: format_labels(s.labels))
    if output is Output.json:
        typer.echo(
            json.dumps(
                [
                    {
                        "metric": dict(s.labels),
                        "timestamp": s.timestamp_ms / 1000,
                        "value": _value(s.value),
                        "stale": s.stale,
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return
    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("series", overflow="fold")
    table.add_column("value", justify="right")
    table.add_column("at")
    now = time.time()
    for s in rows:
        at = datetime.fromtimestamp(s.timestamp_ms / 1000, tz=UTC).strftime("%H:%M:%S")
        value = "stale" if s.stale else _value(s.value)
        table.add_row(format_labels(s.labels), value, f"{at} ({ago(now - s.timestamp_ms / 1000)})")
    console.print(table)
    if not rows:
        console.print("no matching series", style="yellow")


def data_dir_of(config: Path, data_dir: Path | None) -> tuple[Path, StorageSettings]:
    """The data directory ``--data-dir`` names, else the one ``-c`` names (the default
    when there is no config file), and the storage settings that go with it."""
    if data_dir is not None:
        return data_dir, StorageSettings()
    loaded = load_or_exit(config) if config.exists() else None
    if loaded is None:
        return Path(StorageSettings().data_dir), StorageSettings()
    return loaded.data_dir(), loaded.config.storage


def open_store(config: Path, data_dir: Path | None) -> SQLiteStore:
    data_dir, settings = data_dir_of(config, data_dir)
    if not data_dir.exists():
        err_console.print(f"error: no data directory at {data_dir}", highlight=False, markup=False)
        raise typer.Exit(1)
    return SQLiteStore.open(data_dir, settings, read_only=True)


def events(
    kind: list[str] = typer.Option([], "--kind", "-k", help="Only these kinds (repeatable), e.g. target_down."),
    service: str | None = typer.Option(None, "--service", "-s", help="Only this service."),
    since: str = typer.Option("24h", help="How far back, as a duration (15m, 24h, 7d)."),
    limit: int = typer.Option(50, help="At most this many, newest first."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """List recorded events, newest first.

    Targets and probes going down (with the error) and up again, and scalepilot's
    starts (with the config revision) and stops.

    [b]Examples[/b]

      scalepilot events

      scalepilot events --kind target_down --kind probe_down --since 7d

      scalepilot events --service shop -o json
    """
    try:
        window = parse_duration(since)
    except ValueError as exc:
        err_console.print(f"error: --since: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    store = open_store(config, data_dir)
    try:
        rows = store.events(
            since_ms=int((time.time() - window) * 1000), kinds=kind or None, service=service, limit=limit
        )
    finally:
        store.close()
    if output is Output.json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "time": _iso(e.timestamp_ms),
                        "timestamp": e.timestamp_ms / 1000,
                        "kind": e.kind,
                        "service": e.service,
                        "message": e.message,
                        "details": e.details,
                    }
                    for e in rows
                ],
                indent=2,
            )
        )
        return
    table = Table(box=None, header_style="bold")
    for col in ("time", "kind", "service", "message"):
        table.add_column(col, overflow="fold")
    for e in rows:
        style = "red" if e.kind.endswith("_down") else ("green" if e.kind.endswith("_up") else "")
        table.add_row(_iso(e.timestamp_ms), f"[{style}]{e.kind}[/{style}]" if style else e.kind, e.service, e.message)
    console.print(table)
    if not rows:
        console.print("no events", style="yellow")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def reload(
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask."),
    url: str | None = typer.Option(None, help="Base URL of a running scalepilot (overrides -c)."),
) -> None:
    """Make a running scalepilot read its config and rule files again, and say what
    took effect and what needs a restart (the same as kill -HUP or POST /-/reload).

    Exits 1 when the reload is refused (every problem is printed with file:line:column;
    the running config is kept) or scalepilot cannot be reached.

    [b]Examples[/b]

      scalepilot reload -c scalepilot.yaml

      scalepilot check -c scalepilot.yaml && scalepilot reload -c scalepilot.yaml
    """
    base = server_url(config, url)
    try:
        resp = httpx.post(f"{base}/-/reload", headers=api_headers(), timeout=60)
    except httpx.HTTPError as exc:
        err_console.print(f"cannot reach scalepilot at {base}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    try:
        body = resp.json()
    except ValueError:
        body = {"detail": resp.text}
    if resp.status_code >= 400:
        err_console.print(f"error: {body.get('detail', resp.text)}", highlight=False, markup=False)
        for problem in body.get("problems", []):
            err_console.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(1)
    applied, restart = body["applied"], body["restart_needed"]
    console.print(f"applied: {', '.join(applied) if applied else 'nothing changed'}", highlight=False)
    if restart:
        console.print(f"needs a restart to take effect: {', '.join(restart)}", highlight=False)
