"""Shared pieces of the CLI: the consoles, output formats, config location."""

from __future__ import annotations

import getpass
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from scalepilot.config.durations import parse_duration

if TYPE_CHECKING:
    from scalepilot.config.loader import LoadedConfig

console = Console()
err_console = Console(stderr=True)

DEFAULT_CONFIG = Path("scalepilot.yaml")

ConfigOption = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Path of scalepilot.yaml.")


class Output(StrEnum):
    table = "table"
    json = "json"


def load_or_exit(path: Path, *, rules: bool = False) -> LoadedConfig:
    """Load the config or print every problem and exit 1. With ``rules``, the rule
    files it names must load too: as Prometheus does, a broken rule file stops a start
    rather than silently leaving alerts out."""
    # Imported here: the config models take a few hundred milliseconds to build, and
    # commands that only talk to a running scalepilot never need them.
    from scalepilot.config.loader import ConfigError, load

    try:
        loaded = load(path)
    except ConfigError as exc:
        for issue in exc.issues:
            err_console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if rules:
        problems = rule_file_problems(loaded)
        for problem in problems:
            err_console.print(problem, markup=False, highlight=False, soft_wrap=True)
        if problems:
            raise typer.Exit(1)
    return loaded


def rule_file_problems(loaded: LoadedConfig) -> list[str]:
    """Every problem of the rule files ``rule_files`` names, as ``file:line:col: reason``."""
    from scalepilot.config.rules import expand_rule_files
    from scalepilot.service.rule_evaluation import load_rule_groups

    cfg = loaded.config
    paths, _warnings = expand_rule_files(list(cfg.rule_files), loaded.base_dir)
    _groups, issues = load_rule_groups(paths, round(cfg.evaluation_interval * 1000))
    return [str(issue) for issue in issues]


def ago(seconds: float) -> str:
    if seconds < 1:
        return "just now"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


TOKEN_ENV = "SCALEPILOT_TOKEN"


def api_headers() -> dict[str, str]:
    """``Authorization: Bearer $SCALEPILOT_TOKEN`` when set: commands that ask a running
    scalepilot with auth on send it (see docs/security.md)."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def cli_actor() -> str:
    """Who asks, for the events a write through the API records: ``cli:<user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def api_call(method: str, base: str, path: str, **kwargs: Any) -> Any:
    """One request to a running scalepilot's API; its JSON answer. A refusal or an
    unreachable server is printed and exits 1."""
    import httpx  # here: most commands never reach a server, and importing it costs a start

    try:
        resp = httpx.request(method, f"{base}{path}", headers=api_headers(), timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        err_console.print(f"cannot reach scalepilot at {base}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        if isinstance(detail, list):  # pydantic's validation errors
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}" for d in detail)
        err_console.print(f"error: {detail}", highlight=False, markup=False)
        raise typer.Exit(1)
    return resp.json()


def duration_option(text: str, option: str) -> float:
    """Seconds from a duration option (``90s``, ``5m``, ``1h30m``), or a usage error naming it."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def print_error(text: str) -> None:
    """One error line on stderr, unwrapped and taken literally (no rich markup)."""
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)
