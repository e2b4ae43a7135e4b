"""The ``scalepilot`` command: one sub-command per job, each with examples in --help."""

from __future__ import annotations

import typer

from scalepilot import __version__
from scalepilot.faces.cli import (
    alerts_cmd,
    config_cmds,
    demo_cmd,
    import_cmd,
    inspect_cmds,
    loadtest_cmd,
    metrics_cmds,
    query_cmd,
    recommend_cmd,
    rules_cmd,
    run_cmd,
    scale_cmds,
    simulate_cmd,
    token_cmd,
    tune_cmd,
)

app = typer.Typer(
    name="scalepilot",
    help="A self-hosted infrastructure scaling control plane: watch services, store their "
    "metrics, and (soon) alert, autoscale and roll out.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

app.command("demo")(demo_cmd.demo)
app.command("run")(run_cmd.run)
app.command("check")(config_cmds.check)
app.command("schema")(config_cmds.schema)
app.command("check-metrics")(metrics_cmds.check_metrics_cmd)
app.command("targets")(inspect_cmds.targets)
app.command("series")(inspect_cmds.series)
app.command("events")(inspect_cmds.events)
app.command("query")(query_cmd.query_cmd)
app.command("import")(import_cmd.import_cmd)
app.command("scale")(scale_cmds.scale)
app.command("pause")(scale_cmds.pause)
app.command("resume")(scale_cmds.resume)
app.command("explain")(scale_cmds.explain)
app.command("simulate")(simulate_cmd.simulate_cmd)
app.command("tune")(tune_cmd.tune_cmd)
app.command("loadtest")(loadtest_cmd.loadtest_cmd)
app.command("recommend")(recommend_cmd.recommend_cmd)
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(alerts_cmd.alerts_app, name="alerts")
app.add_typer(alerts_cmd.silence_app, name="silence")
app.add_typer(token_cmd.token_app, name="token")


@app.command()
def version() -> None:
    """Print scalepilot's version.

    [b]Example[/b]

      scalepilot version
    """
    typer.echo(__version__)


def main() -> None:
    app()
