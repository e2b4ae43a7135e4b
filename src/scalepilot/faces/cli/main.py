"""The ``scalepilot`` command: one sub-command per job, each with examples in --help."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import typer
import typer.core
import typer.main

from scalepilot import __version__

_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

# name -> (module in scalepilot.faces.cli, attribute, summary): a command function or a
# Typer group, loaded when the command runs. The modules import the config models, the
# query engine or FastAPI, and a command should not wait for the others' (about half a
# second of every start). The summary is what ``scalepilot --help`` lists, so listing
# loads nothing; a test checks each is the first paragraph of the command's own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("demo_cmd", "demo", "Watch scalepilot scale a real service under real load, with zero setup."),
    "run": ("run_cmd", "run", "Run scalepilot: scrape, probe and store, and serve /health, /ready, /metrics, /status."),
    "check": (
        "config_cmds",
        "check",
        "Validate a config file and the rule files it names; print every error with file:line:column and key path.",
    ),
    "reload": (
        "inspect_cmds",
        "reload",
        "Make a running scalepilot read its config and rule files again, and say what took effect and what "
        "needs a restart (the same as kill -HUP or POST /-/reload).",
    ),
    "backup": (
        "backup_cmds",
        "backup_cmd",
        "Copy the store to one file, consistently, while scalepilot keeps running.",
    ),
    "restore": (
        "backup_cmds",
        "restore_cmd",
        "Make a backup the store of a data directory. Stop scalepilot first: a running one holds the "
        "directory's lock and the restore is refused.",
    ),
    "schema": (
        "config_cmds",
        "schema",
        "Print the JSON Schema of scalepilot.yaml, for editor completion and validation.",
    ),
    "check-metrics": (
        "metrics_cmds",
        "check_metrics_cmd",
        "Check that a metrics page is valid Prometheus text 0.0.4 or OpenMetrics 1.0.",
    ),
    "targets": ("inspect_cmds", "targets", "Show every scrape target of a running scalepilot: up or down, and why."),
    "series": ("inspect_cmds", "series", "Print the latest value of every series matching a selector."),
    "events": ("inspect_cmds", "events", "List recorded events, newest first."),
    "query": ("query_cmd", "query_cmd", "Evaluate a PromQL query against the data directory."),
    "import": ("import_cmd", "import_cmd", "Import (backfill) historical samples from an OpenMetrics file."),
    "scale": (
        "scale_cmds",
        "scale",
        "Scale a service by hand, now. The autoscaler pauses for autoscaling.manual_pause.",
    ),
    "pause": ("scale_cmds", "pause", "Pause a service's autoscaler (it keeps evaluating, and says what it would do)."),
    "resume": ("scale_cmds", "resume", "Resume a paused autoscaler."),
    "explain": (
        "scale_cmds",
        "explain",
        (
            "Show the autoscaler's last decisions and why: each metric's value "
            "against its target, the proposal, the limits that changed it and the "
            "final replica count."
        ),
    ),
    "rollout": (
        "rollout_cmd",
        "rollout_app",
        "See and steer rollouts: a local target whose command, env or cwd a reload changed is rolled out by the "
        "service's rollout strategy (canary steps or blue-green, with analysis). See docs/rollouts.md.",
    ),
    "simulate": (
        "simulate_cmd",
        "simulate_cmd",
        "Replay a traffic trace through scaling policies and compare them with the oracle.",
    ),
    "tune": (
        "tune_cmd",
        "tune_cmd",
        "Search a scaling policy's parameters for the lowest cost within an SLO-violation budget.",
    ),
    "loadtest": (
        "loadtest_cmd",
        "loadtest_cmd",
        "Measure a service's capacity per replica at a latency SLO with a bounded step load.",
    ),
    "recommend": (
        "recommend_cmd",
        "recommend_cmd",
        "Recommend CPU and memory per replica from stored history, as robusta krr's [b]simple[/b] strategy does.",
    ),
    "report": (
        "report_cmd",
        "report_cmd",
        "The scaling report: per service, usage, headroom, cost and recommendations from what scalepilot "
        "recorded, and what more users would need and cost.",
    ),
    "assess": (
        "assess_cmd",
        "assess_cmd",
        "Grade a repository's infrastructure files (Dockerfiles, docker-compose, Kubernetes manifests, CI "
        "workflows) per category, with file:line findings and what to write instead.",
    ),
    "rules": ("rules_cmd", "app", "Check and unit-test Prometheus rule files, as promtool does."),
    "alerts": (
        "alerts_cmd",
        "alerts_app",
        (
            "Show the alerts that fire (or are suppressed by a silence, inhibition "
            "or a maintenance window) and the pending ones, with their age, labels "
            "and who acknowledged them."
        ),
    ),
    "silence": ("alerts_cmd", "silence_app", "Silence alerts: add, list and expire silences."),
    "token": (
        "token_cmd",
        "token_app",
        "API tokens with roles (viewer, operator, admin): create, list, revoke. See docs/security.md.",
    ),
}


# Click's types are left as ``Any``: Typer vendors its own click since 0.20, and which
# one it uses is its business.


def load_command(name: str) -> Any:
    """The click command ``scalepilot NAME`` runs, importing its module."""
    module, attr, _summary = COMMANDS[name]
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
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # Listed from the summaries, with stand-ins that are never run: the real
        # commands would load every module.
        stand_ins = {
            name: typer.core.TyperCommand(name, help=summary)
            for name, (_m, _a, summary) in COMMANDS.items()
            if name not in self.commands
        }
        self.commands.update(stand_ins)
        try:
            super().format_help(ctx, formatter)
        finally:
            for name, stand_in in stand_ins.items():
                if self.commands.get(name) is stand_in:
                    del self.commands[name]


def summary_matches_help(name: str) -> bool:
    """Whether ``COMMANDS``'s summary of ``name`` is its help's first paragraph."""
    command = load_command(name)
    first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
    return " ".join(first.split()) == COMMANDS[name][2]


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
