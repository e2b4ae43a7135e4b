"""``scalepilot check`` and ``scalepilot schema``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from scalepilot.config.loader import json_schema
from scalepilot.config.rules import expand_rule_files
from scalepilot.faces.cli.common import DEFAULT_CONFIG, console, load_or_exit


def check(
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config file to check."),
) -> None:
    """Validate a config file and the rule files it names; print every error with
    file:line:column and key path.

    Exits 0 when everything is valid, 1 otherwise.

    [b]Examples[/b]

      scalepilot check -c scalepilot.yaml

      scalepilot check -c examples/scalepilot.yaml && echo ok
    """
    loaded = load_or_exit(config, rules=True)
    cfg = loaded.config
    endpoints = sum(len(s.scrape.endpoints) for s in cfg.services)
    probes = sum(len(s.probes) for s in cfg.services)
    rule_files, _ = expand_rule_files(list(cfg.rule_files), loaded.base_dir)
    console.print(
        f"{config}: valid ({len(cfg.services)} services, {endpoints} scrape endpoints, {probes} probes, "
        f"{len(rule_files)} rule files)",
        highlight=False,
    )


def schema() -> None:
    """Print the JSON Schema of scalepilot.yaml, for editor completion and validation.

    [b]Examples[/b]

      scalepilot schema > scalepilot.schema.json

      # then, first line of scalepilot.yaml (YAML language server):
      # yaml-language-server: $schema=./scalepilot.schema.json
    """
    typer.echo(json.dumps(json_schema(), indent=2))
