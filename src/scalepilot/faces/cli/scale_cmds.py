"""``scalepilot scale``, ``pause``, ``resume`` (ask a running scalepilot) and ``explain``
(read the decisions from the data directory)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from scalepilot.domain.events import EventKind
from scalepilot.domain.scaling import Decision
from scalepilot.faces.cli.common import DEFAULT_CONFIG, Output, ago, api_call, cli_actor, console
from scalepilot.faces.cli.inspect_cmds import open_store, server_url


def _act(config: Path, url: str | None, service: str, action: str, body: dict[str, Any]) -> None:
    """POST one of the service actions to a running scalepilot and print the outcome."""
    path = f"/api/v1/services/{service}/{action}"
    svc = api_call("POST", server_url(config, url), path, json={**body, "actor": cli_actor()})
    console.print(_summary(svc), highlight=False)


def _summary(svc: dict[str, Any]) -> str:
    r = svc["replicas"] or {}
    text = f"{svc['name']}: {r.get('desired')} desired, {r.get('ready')} ready"
    auto = svc.get("autoscaling")
    if auto and auto["paused"]:
        until = auto["paused_until"]
        text += "; autoscaling paused" + (f" for {until - time.time():.0f}s" if until else " until resumed")
    return text


def scale(
    service: str = typer.Argument(..., help="The service to scale."),
    replicas: int = typer.Argument(..., help="How many replicas to run."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded in the event."),
    force: bool = typer.Option(False, "--force", help="Allow a count above autoscaling.max_replicas."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask."),
    url: str | None = typer.Option(None, help="Base URL of a running scalepilot (overrides -c)."),
) -> None:
    """Scale a service by hand, now. The autoscaler pauses for autoscaling.manual_pause.

    [b]Examples[/b]

      scalepilot scale shop 6 --reason "campaign starts at 20:00"

      scalepilot scale shop 2 -r "night" --url http://127.0.0.1:8420

      scalepilot scale shop 40 -r "launch, above max_replicas on purpose" --force
    """
    _act(config, url, service, "scale", {"replicas": replicas, "reason": reason, "force": force})


def pause(
    service: str = typer.Argument(..., help="The service whose autoscaler to pause."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; recorded in the event."),
    duration: str | None = typer.Option(None, "--for", help="How long (30m, 2h); default until resumed."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask."),
    url: str | None = typer.Option(None, help="Base URL of a running scalepilot (overrides -c)."),
) -> None:
    """Pause a service's autoscaler (it keeps evaluating, and says what it would do).

    [b]Examples[/b]

      scalepilot pause shop --for 2h -r "load test"

      scalepilot pause shop -r "investigating"
    """
    _act(config, url, service, "pause", {"duration": duration, "reason": reason})


def resume(
    service: str = typer.Argument(..., help="The service whose autoscaler to resume."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask."),
    url: str | None = typer.Option(None, help="Base URL of a running scalepilot (overrides -c)."),
) -> None:
    """Resume a paused autoscaler.

    [b]Example[/b]

      scalepilot resume shop
    """
    _act(config, url, service, "resume", {})


def explain(
    service: str = typer.Argument(..., help="The service whose decisions to show."),
    last: int = typer.Option(10, "--last", "-n", help="How many decisions, newest first."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """Show the autoscaler's last decisions and why: each metric's value against its
    target, the proposal, the limits that changed it and the final replica count.

    Reads the data directory, so it works with or without a running scalepilot.

    [b]Examples[/b]

      scalepilot explain shop

      scalepilot explain shop -n 50 -o json
    """
    store = open_store(config, data_dir)
    try:
        events = store.events(kinds=[EventKind.SCALING_DECISION], service=service, limit=last)
        latest = (store.get_state(f"autoscaler/{service}") or {}).get("last_decision")
    finally:
        store.close()
    decisions = [Decision.from_dict(e.details) for e in events]
    if latest and (not decisions or latest["time"] > decisions[0].time):
        decisions.insert(0, Decision.from_dict(latest))
    if output is Output.json:
        typer.echo(json.dumps([d.to_dict() for d in decisions], indent=2))
        return
    if not decisions:
        console.print(f"no decisions recorded for {service}", style="yellow")
        return
    now = time.time()
    table = Table(box=None, header_style="bold")
    for col in ("when", "replicas", "metrics", "reason"):
        table.add_column(col, overflow="fold")
    for d in decisions:
        metrics = ", ".join(_metric(m.name, m.value, m.target, m.unit) for m in d.metrics)
        change = f"{d.current} → {d.replicas}" if d.change else str(d.replicas)
        table.add_row(ago(now - d.time), change, metrics, d.reason)
    console.print(table)


def _metric(name: str, value: float | None, target: float, unit: str) -> str:
    def fmt(v: float) -> str:
        if unit == "s":
            return f"{v * 1000:.0f}ms"
        if unit == "%":
            return f"{v:.0f}%"
        return f"{v:.3g}{(' ' + unit) if unit else ''}"

    return f"{name} {'?' if value is None else fmt(value)}/{fmt(target)}"
