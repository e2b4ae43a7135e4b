"""The ``scalepilot`` command: one sub-command per job, each with examples in --help."""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.core
import typer.main

from scalepilot import __version__

_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

# name -> (module in scalepilot.faces.cli, attribute): a command function or a Typer
# group. Loaded when the command is run: the modules import the config models, the
# query engine or FastAPI, and a command should not wait for the others' (about half a
# second of every start).
_LAZY: dict[str, tuple[str, str]] = {
    "demo": ("demo_cmd", "demo"),
    "run": ("run_cmd", "run"),
    "check": ("config_cmds", "check"),
    "schema": ("config_cmds", "schema"),
    "check-metrics": ("metrics_cmds", "check_metrics_cmd"),
    "targets": ("inspect_cmds", "targets"),
    "series": ("inspect_cmds", "series"),
    "events": ("inspect_cmds", "events"),
    "query": ("query_cmd", "query_cmd"),
    "import": ("import_cmd", "import_cmd"),
    "scale": ("scale_cmds", "scale"),
    "pause": ("scale_cmds", "pause"),
    "resume": ("scale_cmds", "resume"),
    "explain": ("scale_cmds", "explain"),
    "simulate": ("simulate_cmd", "simulate_cmd"),
    "tune": ("tune_cmd", "tune_cmd"),
    "loadtest": ("loadtest_cmd", "loadtest_cmd"),
    "recommend": ("recommend_cmd", "recommend_cmd"),
    "rules": ("rules_cmd", "app"),
    "alerts": ("alerts_cmd", "alerts_app"),
    "silence": ("alerts_cmd", "silence_app"),
    "token": ("token_cmd", "token_app"),
}


# Click's types are left as ``Any``: Typer vendors its own click since 0.20, and which
# one it uses is its business.


def load_command(name: str) -> Any:
    """The click command ``scalepilot NAME`` runs, importing its module."""
    module, attr = _LAZY[name]
    obj = getattr(importlib.import_module(f"scalepilot.faces.cli.{module}"), attr)
    # Built as it would be inside the app (a sub-group gets no completion options).
    holder = typer.Typer(add_completion=False, rich_markup_mode="rich", context_settings=_SETTINGS)
    holder.callback()(_main)
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=name)
    else:
        holder.command(name)(obj)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]  # a group


class _LazyGroup(typer.core.TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return [*_LAZY, *(n for n in self.commands if n not in _LAZY)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _LAZY:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)


def _main() -> None:
    # A callback makes Typer build a group even while ``version`` is the one command
    # registered up front; the rest come from ``_LazyGroup``.
    pass


app = typer.Typer(
    name="scalepilot",
    cls=_LazyGroup,
    help="A self-hosted infrastructure scaling control plane: watch services, store their "
    "metrics, alert, autoscale, simulate and report.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings=_SETTINGS,
    pretty_exceptions_enable=False,
)

app.callback()(_main)


def all_commands() -> list[str]:
    """Every command and group subcommand, as typed after ``scalepilot`` (loads them all)."""
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    names: list[str] = []
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]  # a group
        command = group.get_command(ctx, name)  # type: ignore[attr-defined]
        if hasattr(command, "list_commands"):
            names += [f"{name} {sub}" for sub in command.list_commands(ctx)]
        else:
            names.append(name)
    return sorted(names)


@app.command()
def version() -> None:
    """Print scalepilot's version.

    [b]Example[/b]

      scalepilot version
    """
    typer.echo(__version__)


def main() -> None:
    app()
