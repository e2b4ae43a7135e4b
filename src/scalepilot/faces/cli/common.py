"""Shared pieces of the CLI: the consoles, output formats, config location."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from scalepilot.config.loader import ConfigError, LoadedConfig, load

console = Console()
err_console = Console(stderr=True)

DEFAULT_CONFIG = Path("scalepilot.yaml")

ConfigOption = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Path of scalepilot.yaml.")


class Output(StrEnum):
    table = "table"
    json = "json"


def load_or_exit(path: Path) -> LoadedConfig:
    try:
        return load(path)
    except ConfigError as exc:
        for issue in exc.issues:
            err_console.print(str(issue), markup=False, highlight=False)
        raise typer.Exit(1) from None


def ago(seconds: float) -> str:
    if seconds < 1:
        return "just now"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"
