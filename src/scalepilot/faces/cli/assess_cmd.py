"""``scalepilot assess``: grade a repository's infrastructure files (docs/assessment.md)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from scalepilot.control.assessment import RULE, STATIC_NOTE, Assessment, Status, grade_rank
from scalepilot.control.assessment.report import coverage, to_html, to_json, to_markdown
from scalepilot.faces.cli.common import console, print_error
from scalepilot.service.assessment import assess_path

_GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "dark_orange", "F": "bold red"}
_STATUS = {Status.PASS: "[green]pass[/green]", Status.FAIL: "[red]fail[/red]", Status.NA: "[dim]n/a[/dim]"}


class AssessOutput(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _grade(grade: str) -> Text:
    return Text(grade, style=_GRADE_STYLE.get(grade, "dim"))


def print_table(result: Assessment, path: str) -> None:
    console.print(f"[b]scalepilot assess[/b] {path}", highlight=False)
    console.print(f"[dim]{STATIC_NOTE}[/dim]", highlight=False)
    summary = Table(title="grades", title_justify="left", header_style="bold")
    for col in ("category", "grade", "score", "checks passed"):
        summary.add_column(col)
    for c in result.categories:
        summary.add_row(
            c.name,
            _grade(c.grade),
            "-" if c.score is None else f"{c.score:g}",
            f"{c.passed}/{c.applicable}" if c.applicable else "n/a",
        )
    applicable = sum(c.applicable for c in result.categories)
    summary.add_row(
        Text("overall", style="bold"),
        _grade(result.grade),
        "-" if result.score is None else f"{result.score:g}",
        f"{sum(c.passed for c in result.categories)}/{applicable}" if applicable else "n/a",
    )
    console.print(summary)
    console.print(f"overall {result.grade}: {coverage(result)}", highlight=False)

    if result.problems:
        console.print("[b red]could not read[/b red] (left out of every check):")
        for f in result.problems:
            console.print(f"  {f.file}:{f.line} {f.message}", markup=False, highlight=False, soft_wrap=True)

    for c in result.categories:
        if c.score is None:
            continue  # nothing to check: the summary says n/a, and each check would only repeat it
        table = Table(
            title=f"{c.name}: {c.grade}" + ("" if c.score is None else f" ({c.score:g})"),
            title_justify="left",
            header_style="bold",
            show_lines=True,
        )
        table.add_column("check", overflow="fold", ratio=2)
        table.add_column("", no_wrap=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("findings and what to write", overflow="fold", ratio=5)
        for r in c.checks:
            if r.status is Status.NA:
                continue
            if r.findings:
                body = Text()
                for i, f in enumerate(r.findings):
                    if i:
                        body.append("\n")
                    body.append(f"{f.file}:{f.line}", style="cyan")
                    body.append(f" {f.message}\n")
                    body.append(f"→ {f.recommendation}", style="dim")
            else:
                body = Text(r.detail, style="dim")
            table.add_row(Text(f"{r.spec.title}\n{r.spec.id}"), _STATUS[r.status], r.spec.severity.value, body)
        console.print(table)
        na = [r.spec.id for r in c.checks if r.status is Status.NA]
        if na:
            console.print(f"[dim]not applicable here: {', '.join(na)}[/dim]", highlight=False)
    empty = [c.name for c in result.categories if c.score is None]
    if empty:
        console.print(f"n/a (no file they apply to): {', '.join(empty)}", highlight=False)

    if result.notes:
        console.print("[b]not read[/b]:")
        for n in result.notes:
            console.print(f"  {n.file}: {n.message}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"read {len(result.files)} infrastructure and dependency files, searched {result.sources_scanned} source "
        "files for health and metrics routes",
        highlight=False,
    )
    console.print(f"[dim]grading: {RULE}[/dim]", highlight=False)


def assess_cmd(
    path: Path = typer.Argument(Path(), help="Repository (or one file) to read."),
    output: AssessOutput = typer.Option(AssessOutput.table, "-o", "--output", help="table, json or markdown."),
    plot: Path | None = typer.Option(None, "--plot", help="Also write a bar chart of the scores (.html)."),
    fail_under: str | None = typer.Option(
        None, "--fail-under", help="Exit 1 when the overall grade is below this one (A-F), for CI."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Leave out paths matching this glob (repeatable), e.g. 'tests/*'."
    ),
) -> None:
    """Grade a repository's infrastructure files (Dockerfiles, docker-compose, Kubernetes
    manifests, CI workflows) per category, with file:line findings and what to write instead.

    A static reading of the files: nothing is built, run or measured. Also read:
    dependency files (a Prometheus client library? a web framework?) and string literals
    in source files (a /health or /metrics route). Malformed YAML is reported with its
    line and left out; Helm templates and CI systems other than GitHub Actions and GitLab
    CI are listed as not read.

    [b]Grading[/b]: a check passes when nothing it applies to fails it, and is n/a when
    there is nothing to apply it to. A category's score is the severity-weighted share of
    its applicable checks that pass (high 3, medium 2, low 1); A >= 90, B >= 80, C >= 70,
    D >= 60, F below; a category with nothing to check is n/a, not F. The overall score is
    the mean of the graded categories' scores. Every check: docs/assessment.md.

    [b]Examples[/b]

      scalepilot assess

      scalepilot assess ../shop -o markdown > assessment.md

      scalepilot assess . -o json --plot assessment.html

      scalepilot assess . --fail-under C --exclude 'tests/*'
    """
    threshold: int | None = None
    wanted = (fail_under or "").strip().upper()
    if fail_under is not None:
        try:
            threshold = grade_rank(fail_under)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fail-under") from None
    try:
        result = assess_path(path, exclude)
    except FileNotFoundError as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(1) from None
    shown = str(path)
    if output is AssessOutput.json:
        typer.echo(json.dumps(to_json(result, shown), indent=2, ensure_ascii=False))
    elif output is AssessOutput.markdown:
        typer.echo(to_markdown(result, shown))
    else:
        print_table(result, shown)
    if plot is not None:
        try:
            plot.write_text(to_html(result, shown), encoding="utf-8")
        except OSError as exc:
            print_error(f"error: cannot write {plot}: {exc.strerror or exc}")
            raise typer.Exit(1) from None
        if output is AssessOutput.table:
            console.print(f"plot written to {plot}", highlight=False, soft_wrap=True)
    if threshold is not None and result.score is not None and grade_rank(result.grade) < threshold:
        print_error(f"overall grade {result.grade} is below --fail-under {wanted}")
        raise typer.Exit(1)
