"""The ``scalepilot`` command."""

from __future__ import annotations

import typer

from scalepilot import __version__

app = typer.Typer(
    name="scalepilot",
    help="A self-hosted infrastructure scaling control plane.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.command()
def version() -> None:
    """Print scalepilot's version."""
    typer.echo(__version__)


def main() -> None:
    app()
