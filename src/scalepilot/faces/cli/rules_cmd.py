"""``scalepilot rules check|test|builtin``: rule files as ``promtool`` handles them.

``check`` and ``test`` print what ``promtool check rules`` / ``promtool test rules``
print and exit as they do (0 fine, 1 a problem, 3 only lint problems with
``--lint-fatal``), so they drop into an existing CI job. Problems carry
``file:line:column``; a failed unit test adds a line-by-line diff of expected and got.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from scalepilot.config.rules import RuleIssue, expand_rule_files, load_rule_file
from scalepilot.control.alerting.rules.compile import compile_file, sort_issues
from scalepilot.control.alerting.rules.model import AlertingRule, RuleGroup
from scalepilot.control.alerting.rules.unittest import (
    RuleTestFileError,
    parse_test_file,
    run_test_group,
)
from scalepilot.control.query.engine import Engine
from scalepilot.faces.cli.common import DEFAULT_CONFIG, load_or_exit

SUCCESS = 0
FAILURE = 1
LINT_FAILURE = 3

app = typer.Typer(
    help="Check and unit-test Prometheus rule files, as promtool does.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def duplicate_rules(groups: list[RuleGroup]) -> str | None:
    """promtool's ``duplicate-rules`` lint: two rules of one file with the same name
    and labels (they would write the same series)."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for g in groups:
        for r in g.rules:
            labels = r.raw_labels if isinstance(r, AlertingRule) else r.labels
            key = (r.name, tuple(sorted(labels)))
            seen[key] = seen.get(key, 0) + 1
    dups = sorted(k for k, n in seen.items() if n > 1)
    if not dups:
        return None
    msg = f"{len(dups)} duplicate rule(s) found.\n"
    for name, labels in dups:
        msg += f"Metric: {name}\nLabel(s):\n" + "".join(f"\t{k}: {v}\n" for k, v in labels)
    return msg + "Might cause inconsistency while recording expressions"


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Rule files to check.", show_default=False)],
    lint: Annotated[str, typer.Option(help="duplicate-rules or none (promtool's --lint).")] = "duplicate-rules",
    lint_fatal: Annotated[bool, typer.Option("--lint-fatal", help="Exit 3 on lint problems.")] = False,
) -> None:
    """Validate rule files as [b]promtool check rules[/b] does: YAML shape, fields,
    durations, label names, PromQL expressions and templates.

    [b]Examples[/b]

      scalepilot rules check rules/*.yml
      scalepilot rules check --lint=none alerts.yml
    """
    if lint not in ("duplicate-rules", "none"):
        _err(f"unknown --lint value {lint!r}: use duplicate-rules or none")
        raise typer.Exit(2)
    failed = errors = False
    for path in files:
        _out(f"Checking {path}")
        spec, found = load_rule_file(path)
        groups, more = compile_file(spec, found, 60_000)
        issues = sort_issues([*found, *more])
        if issues:
            _err("  FAILED:")
            for issue in issues:
                _err(str(issue))
            failed = errors = True
        elif lint == "duplicate-rules" and (dup := duplicate_rules(groups)) is not None:
            _err("  FAILED:")
            _err("lint error " + dup)
            failed = True
        else:
            _out(f"  SUCCESS: {spec.rule_count} rules found")
        _out()
    if failed and errors:
        raise typer.Exit(FAILURE)
    if failed and lint_fatal:
        raise typer.Exit(LINT_FAILURE)


def _load_groups(paths: list[Path]) -> tuple[list[RuleGroup], list[RuleIssue]]:
    groups: list[RuleGroup] = []
    issues: list[RuleIssue] = []
    for p in paths:
        spec, found = load_rule_file(p)
        compiled, more = compile_file(spec, found, 60_000)
        groups.extend(compiled)
        issues.extend(sort_issues([*found, *more]))
    return groups, issues


def run_test_file(path: Path, *, diff: bool = True) -> bool:
    """One unit-test file, printed as promtool prints it; True if it passed."""
    _out(f"Unit Testing:  {path}")
    errors: list[str] = []
    diffs: list[str] = []
    try:
        tf = parse_test_file(path.read_text(encoding="utf-8"))
    except OSError as exc:
        errors.append(f"open {path}: {exc.strerror or exc}")
    except RuleTestFileError as exc:
        errors.append(str(exc))
    else:
        rule_paths, warnings = expand_rule_files(list(tf.rule_files), path.parent)
        for w in warnings:
            _err(f"  WARNING: {w}")
        groups, issues = _load_groups(rule_paths)
        if issues:
            errors.extend(str(i) for i in issues)
        else:
            for tg in tf.tests:
                outcome = run_test_group(
                    tg,
                    groups,
                    tf.evaluation_interval_ms,
                    tf.group_eval_order,
                    lambda store: Engine(store, lookback_ms=300_000),
                )
                errors.extend(outcome.errors)
                diffs.extend(outcome.diffs)
    if errors:
        _err("  FAILED:")
        for e in errors:
            _err(e)
            _out()
        if diff and diffs:
            _err("  diff (- expected, + got):")
            for d in diffs:
                _err("\n".join("    " + line for line in d.splitlines()))
        _out()
        return False
    _out("  SUCCESS")
    _out()
    return True


@app.command("test")
def test(
    files: Annotated[list[Path], typer.Argument(help="Unit-test files in promtool's format.", show_default=False)],
    diff: Annotated[bool, typer.Option("--diff/--no-diff", help="Show a diff of expected and got.")] = True,
) -> None:
    """Run rule unit tests written for [b]promtool test rules[/b], unchanged:
    [i]rule_files[/i], [i]evaluation_interval[/i], [i]tests[/i] with [i]input_series[/i]
    ('1+1x10', '_x3', 'stale'), [i]alert_rule_test[/i] and [i]promql_expr_test[/i].

    [b]Example[/b]

      scalepilot rules test tests/alerts_test.yml
    """
    ok = True
    for path in files:
        ok = run_test_file(path, diff=diff) and ok
    if not ok:
        raise typer.Exit(FAILURE)


@app.command("builtin")
def builtin(
    config: Annotated[Path, typer.Option("--config", "-c", help="scalepilot.yaml")] = DEFAULT_CONFIG,
) -> None:
    """Print the built-in rule pack generated for the configured services, as a
    Prometheus rule file.

    [b]Example[/b]

      scalepilot rules builtin -c scalepilot.yaml > builtin.yml
    """
    from scalepilot.control.alerting.rules.builtin import builtin_rule_file
    from scalepilot.service.rule_evaluation import service_shapes

    cfg = load_or_exit(config).config
    sys.stdout.write(builtin_rule_file(service_shapes(cfg), cfg.alert_rules.builtin))
