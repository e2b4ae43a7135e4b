"""``scalepilot alerts`` (list, ``ack``) and ``scalepilot silence`` (``add``, ``list``,
``expire``): they ask the running scalepilot, whose router holds the live alerts, over
``/api/v1/alerts`` and ``/api/v1/silences``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from scalepilot.faces.cli.common import DEFAULT_CONFIG, Output, ago, api_call, cli_actor, console, err_console
from scalepilot.faces.cli.inspect_cmds import server_url

# No help= here: the callback's docstring (with its examples) is the group's help.
alerts_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
silence_app = typer.Typer(help="Silence alerts: add, list and expire silences.", no_args_is_help=True)

ConfigOpt = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask.")
UrlOpt = typer.Option(None, help="Base URL of a running scalepilot (overrides -c).")


def _labels(labels: dict[str, str], skip: tuple[str, ...] = ("alertname",)) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in skip)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    state: list[str] = typer.Option(
        [], "--state", "-s", help="Only these states (repeatable): firing, suppressed, pending, resolved."
    ),
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """Show the alerts that fire (or are suppressed by a silence, inhibition or a
    maintenance window) and the pending ones, with their age, labels and who
    acknowledged them.

    [b]Examples[/b]

      scalepilot alerts

      scalepilot alerts -s firing -o json

      scalepilot alerts ack 3f2a --comment "looking into it"
    """
    if ctx.invoked_subcommand is not None:
        return
    found: list[dict[str, Any]] = api_call(
        "GET", server_url(config, url), "/api/v1/alerts", params=[("state", s) for s in state]
    )
    if output is Output.json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        console.print("no alerts", style="green")
        return
    table = Table(box=None, header_style="bold")
    for col in ("fingerprint", "alert", "state", "age", "labels", "note"):
        table.add_column(col, overflow="fold")
    for a in found:
        note = []
        if a.get("acknowledged"):
            note.append(f"acked by {a['acknowledged']['by']}")
        if a.get("silenced_by"):
            note.append("silenced")
        if a.get("inhibited_by"):
            note.append("inhibited")
        if a.get("maintenance_window"):
            note.append(f"window {a['maintenance_window']}")
        style = {"firing": "red", "pending": "yellow"}.get(a["state"], "dim")
        table.add_row(
            a["fingerprint"][:8],
            a["name"],
            f"[{style}]{a['state']}[/]",
            ago(a["age_seconds"]).removesuffix(" ago"),
            _labels(a["labels"]),
            ", ".join(note),
        )
    console.print(table)


@alerts_app.command("ack")
def ack(
    fingerprints: list[str] = typer.Argument(None, help="Fingerprints (a unique prefix will do) of firing alerts."),
    match: list[str] = typer.Option(
        [], "--match", "-m", help='Acknowledge every firing alert matching, e.g. service="shop" (repeatable).'
    ),
    comment: str = typer.Option("", "--comment", help="Why, or what is being done."),
    until: str | None = typer.Option(None, "--for", help="Notify again after this long (2h); default until resolved."),
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
) -> None:
    """Acknowledge firing alerts: no repeats or escalation until resolved.

    Or, with --for, until that time has passed.

    [b]Examples[/b]

      scalepilot alerts ack 3f2a9c

      scalepilot alerts ack -m 'service="shop"' --for 2h --comment "deploy rolling back"
    """
    if not fingerprints and not match:
        err_console.print("error: name alerts by fingerprint or with --match", highlight=False, markup=False)
        raise typer.Exit(2)
    body = {
        "fingerprints": fingerprints or [],
        "matchers": match,
        "by": cli_actor(),
        "comment": comment,
        "until": until,
    }
    acks: list[dict[str, Any]] = api_call("POST", server_url(config, url), "/api/v1/alerts/ack", json=body)
    for a in acks:
        until_text = f" until {a['until']}" if a["until"] else " until resolved"
        console.print(f"acknowledged {a['name']} {a['fingerprint'][:8]}{until_text}", highlight=False)


@silence_app.command("add")
def silence_add(
    matchers: list[str] = typer.Argument(..., help='Label matchers, e.g. alertname="HighLatency" service=~"shop.*".'),
    duration: str | None = typer.Option(None, "--for", "-d", help="How long (2h, 30m)."),
    ends_at: str | None = typer.Option(None, "--until", help="When it ends (RFC 3339 time); instead of --for."),
    starts_at: str | None = typer.Option(None, "--from", help="When it starts (RFC 3339 time); default now."),
    until_resolved: bool = typer.Option(
        False, "--until-resolved", help="Also end once every alert it matched resolved (alone: no end time)."
    ),
    comment: str = typer.Option(..., "--comment", help="Why; shown with the silence."),
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
) -> None:
    """Silence alerts matching every matcher. Give --for, --until or --until-resolved.

    [b]Examples[/b]

      scalepilot silence add 'alertname="HighLatency"' 'service="shop"' --for 2h --comment "load test"

      scalepilot silence add 'service="db"' --until-resolved --comment "failover in progress"
    """
    if duration is None and ends_at is None and not until_resolved:
        err_console.print("error: give --for, --until or --until-resolved", highlight=False, markup=False)
        raise typer.Exit(2)
    body = {
        "matchers": matchers,
        "duration": duration,
        "ends_at": ends_at,
        "starts_at": starts_at,
        "until_resolved": until_resolved,
        "created_by": cli_actor(),
        "comment": comment,
    }
    s = api_call("POST", server_url(config, url), "/api/v1/silences", json=body)
    console.print(f"silence {s['id']} {s['state']}, ends {s['ends_at'] or 'when resolved'}", highlight=False)


@silence_app.command("list")
def silence_list(
    all_: bool = typer.Option(False, "--all", "-a", help="Include expired silences."),
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """List the silences (active and pending; --all adds expired ones).

    [b]Examples[/b]

      scalepilot silence list

      scalepilot silence list --all -o json
    """
    found: list[dict[str, Any]] = api_call(
        "GET", server_url(config, url), "/api/v1/silences", params={"all": str(all_).lower()}
    )
    if output is Output.json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        console.print("no silences", style="green")
        return
    table = Table(box=None, header_style="bold")
    for col in ("id", "state", "matchers", "ends", "by", "comment"):
        table.add_column(col, overflow="fold")
    for s in found:
        ends = s["ends_at"] or "when resolved"
        if s["ends_at"] and s["until_resolved"]:
            ends += " or when resolved"
        table.add_row(s["id"], s["state"], " ".join(s["matchers"]), ends, s["created_by"], s["comment"])
    console.print(table)


@silence_app.command("expire")
def silence_expire(
    silence_id: str = typer.Argument(..., help="The silence's id (from silence list)."),
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
) -> None:
    """Expire a silence now.

    [b]Example[/b]

      scalepilot silence expire 3f2a9c1d-0b1e-4c2a-9f00-1a2b3c4d5e6f
    """
    s = api_call("DELETE", server_url(config, url), f"/api/v1/silences/{silence_id}", params={"by": cli_actor()})
    console.print(f"silence {s['id']} expired", highlight=False)
