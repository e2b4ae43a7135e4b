"""``scalepilot rollout``: see and steer a service's rollout on a running scalepilot."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from scalepilot.faces.cli.common import DEFAULT_CONFIG, Output, ago, api_call, cli_actor, console
from scalepilot.faces.cli.inspect_cmds import server_url

# No help= here: the callback's docstring (with its examples) is the group's help.
rollout_app = typer.Typer(no_args_is_help=True)

ConfigOpt = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config whose server address to ask.")
UrlOpt = typer.Option(None, help="Base URL of a running scalepilot (overrides -c).")
ServiceArg = typer.Argument(..., help="The service (with a local target).")


@rollout_app.callback()
def rollout() -> None:
    """See and steer rollouts: a local target whose command, env or cwd a reload changed
    is rolled out by the service's rollout strategy (canary steps or blue-green, with
    analysis). See docs/rollouts.md.

    [b]Examples[/b]

      scalepilot rollout status shop

      scalepilot rollout promote shop           # end the current pause

      scalepilot rollout promote shop --full    # straight to all traffic

      scalepilot rollout abort shop             # all traffic back on the stable version
    """


def _summary(svc: dict[str, Any]) -> str:
    r = svc.get("rollout")
    if r is None:
        return f"{svc['name']}: no rollout since scalepilot started; running {svc.get('revision')}"
    text = (
        f"{svc['name']}: rollout of {r['revision']} (replacing {r['stable_revision']}) {r['phase']}, "
        f"stage {r['stage']}/{len(r['stages'])} {r['stage_label']}, {r['weight']}% of traffic"
    )
    return text + (f": {r['reason']}" if r["reason"] else "")


def _act(config: Path, url: str | None, service: str, action: str) -> None:
    path = f"/api/v1/services/{service}/rollout"
    svc = api_call("POST", server_url(config, url), path, json={"action": action, "actor": cli_actor()})
    console.print(_summary(svc), highlight=False, markup=False)


@rollout_app.command()
def status(
    service: str = ServiceArg,
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json."),
) -> None:
    """Show the service's latest rollout: its stages, where it is, the traffic split,
    and the canary's latest measurements.

    [b]Examples[/b]

      scalepilot rollout status shop

      scalepilot rollout status shop -o json
    """
    svc = api_call("GET", server_url(config, url), f"/api/v1/services/{service}")
    if output is Output.json:
        print(json.dumps(svc.get("rollout"), indent=2))
        return
    console.print(_summary(svc), highlight=False, markup=False)
    r = svc.get("rollout")
    if r is None:
        return
    stages = Table(title="stages", title_justify="left")
    for col in ("", "stage", "traffic", "hold"):
        stages.add_column(col)
    for i, s in enumerate(r["stages"], start=1):
        here = "▶" if i == r["stage"] and r["phase"] in ("progressing", "paused") else ""
        hold = "until promoted" if s["hold_seconds"] is None else f"{s['hold_seconds']:g}s"
        stages.add_row(here, s["label"], f"{s['weight']}%", hold)
    console.print(stages)
    if r["measurements"]:
        table = Table(title=f"measurements ({r['failures']} failed)", title_justify="left")
        for col in ("when", "stage", "verdict", "values"):
            table.add_column(col)
        for m in reversed(r["measurements"]):
            values = ", ".join(
                f"{v['name']} {'no data' if v['value'] is None else format(v['value'], '.4g')} ({v['bound']})"
                for v in m["values"]
            )
            table.add_row(ago(time.time() - m["at"]), str(m["stage"] + 1), m["verdict"], values)
        console.print(table)


@rollout_app.command()
def promote(
    service: str = ServiceArg,
    full: bool = typer.Option(False, "--full", help="Skip every remaining stage: straight to all traffic."),
    config: Path = ConfigOpt,
    url: str | None = UrlOpt,
) -> None:
    """Go on: end the current stage's pause (a `pause: manual` step, a preview, or a
    pause for no data) and move to the next stage.

    [b]Examples[/b]

      scalepilot rollout promote shop

      scalepilot rollout promote shop --full
    """
    _act(config, url, service, "promote_full" if full else "promote")


@rollout_app.command()
def pause(service: str = ServiceArg, config: Path = ConfigOpt, url: str | None = UrlOpt) -> None:
    """Hold the rollout where it is (traffic stays split; analysis goes on).

    [b]Example[/b]

      scalepilot rollout pause shop
    """
    _act(config, url, service, "pause")


@rollout_app.command()
def resume(service: str = ServiceArg, config: Path = ConfigOpt, url: str | None = UrlOpt) -> None:
    """Go on from a pause; the time paused does not count for the stage's hold.

    [b]Example[/b]

      scalepilot rollout resume shop
    """
    _act(config, url, service, "resume")


@rollout_app.command()
def abort(service: str = ServiceArg, config: Path = ConfigOpt, url: str | None = UrlOpt) -> None:
    """Put all traffic back on the stable version and stop the new replicas.

    [b]Example[/b]

      scalepilot rollout abort shop
    """
    _act(config, url, service, "abort")


@rollout_app.command()
def retry(service: str = ServiceArg, config: Path = ConfigOpt, url: str | None = UrlOpt) -> None:
    """Start an aborted rollout again from its first stage.

    [b]Example[/b]

      scalepilot rollout retry shop
    """
    _act(config, url, service, "retry")
