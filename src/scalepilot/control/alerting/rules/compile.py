"""From rule files as written (:mod:`scalepilot.config.rules`) to groups the evaluator runs.

Compiling parses every label and annotation template of alerting rules — the last of
``promtool check rules``'s checks, worded as it words them (``label "sev": template:
__alert_B:1: unclosed action``) — and parses each expression with scalepilot's own PromQL
parser, so an expression Prometheus accepts but scalepilot cannot evaluate is reported
when the file is loaded, not at the first evaluation. Problems join the loader's list,
in promtool's order; a rule with any problem is left out of its group.
"""

from __future__ import annotations

from collections.abc import Sequence

from scalepilot.config.rules import GroupSpec, RuleFileSpec, RuleIssue, RuleSpec
from scalepilot.control.alerting.rules.model import AlertingRule, AnomalyParams, RecordingRule, Rule, RuleGroup
from scalepilot.control.alerting.rules.template import AlertTemplate, TemplateSyntaxError
from scalepilot.control.query.parser import parse as parse_promql
from scalepilot.domain.query import QueryError


def _issue(group: GroupSpec, rule: RuleSpec, line_key: str, message: str, n: int) -> RuleIssue:
    at = rule.at(line_key)
    return RuleIssue(
        group.file, at.line, at.column, message, group.name, rule.index, rule.name, (group.index, rule.index, 100 + n)
    )


def _parse_error(expr: str, exc: QueryError) -> str:
    """promtool's wording: ``line:column: parse error: ...``."""
    text = str(exc)
    if exc.column is None:
        return text
    text = text.removesuffix(f" (at column {exc.column})")
    before = expr[: max(0, exc.column - 1)]
    line = before.count("\n") + 1
    column = exc.column - (before.rfind("\n") + 1)
    return f"{line}:{column}: {text}"


def compile_rule(group: GroupSpec, rule: RuleSpec, known: Sequence[RuleIssue]) -> tuple[Rule | None, list[RuleIssue]]:
    issues: list[RuleIssue] = []
    already = [i for i in known if i.group == group.name and i.rule == rule.index and i.file == group.file]
    parsed_labels: list[tuple[str, AlertTemplate]] = []
    parsed_annotations: list[tuple[str, AlertTemplate]] = []
    if rule.kind == "alert":
        for key, values, out, what in (
            ("labels", rule.labels, parsed_labels, "label"),
            ("annotations", rule.annotations, parsed_annotations, "annotation"),
        ):
            for name, text in values:
                try:
                    out.append((name, AlertTemplate.parse(text, rule.name)))
                except TemplateSyntaxError as exc:
                    issues.append(_issue(group, rule, key, f'{what} "{name}": {exc}', len(issues)))
    if rule.expr and not any("could not parse expression" in i.message for i in already):
        try:
            parse_promql(rule.expr)
        except QueryError as exc:
            key = "anomaly" if rule.anomaly is not None else "expr"
            issues.append(
                _issue(group, rule, key, f"could not parse expression: {_parse_error(rule.expr, exc)}", len(issues))
            )
        except NotImplementedError:  # pragma: no cover - a parser still being written
            pass
    if already or issues:
        return None, issues
    if rule.kind == "record":
        return RecordingRule(rule.name, rule.expr, rule.labels, rule.index), issues
    anomaly = None
    if rule.anomaly is not None:
        a = rule.anomaly
        anomaly = AnomalyParams(
            a.seasonality,
            a.k,
            a.window_ms,
            a.history_ms,
            a.min_seasons,
            a.direction,
            a.min_deviation,
            a.min_deviation_ratio,
        )
    return (
        AlertingRule(
            rule.name,
            rule.expr,
            rule.for_ms,
            rule.keep_firing_for_ms,
            tuple(parsed_labels),
            tuple(parsed_annotations),
            rule.index,
            anomaly,
        ),
        issues,
    )


def compile_file(
    spec: RuleFileSpec, known: Sequence[RuleIssue], default_interval_ms: int
) -> tuple[list[RuleGroup], list[RuleIssue]]:
    """The groups of one file and the problems compiling found (``known``: the loader's,
    so a rule is not reported twice for one mistake)."""
    groups: list[RuleGroup] = []
    issues: list[RuleIssue] = []
    for g in spec.groups:
        rules: list[Rule] = []
        for r in g.rules:
            compiled, found = compile_rule(g, r, known)
            issues.extend(found)
            if compiled is not None:
                rules.append(compiled)
        groups.append(
            RuleGroup(g.name, g.file, g.interval_ms or default_interval_ms, tuple(rules), g.limit, g.query_offset_ms)
        )
    return groups, issues


def sort_issues(issues: Sequence[RuleIssue]) -> list[RuleIssue]:
    """promtool's order: by group, rule, then check."""
    return sorted(issues, key=lambda i: (i.file, i.order, i.line, i.column))
