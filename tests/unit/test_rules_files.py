"""Rule files, promtool unit-test files and the built-in pack: loading, problems with
``file:line:column``, the expanding notation, and ``scalepilot rules check|test``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalepilot.config.models import Config
from scalepilot.config.rules import BuiltinRules, load_rule_text
from scalepilot.control.alerting.rules.builtin import ServiceShape, builtin_rule_file
from scalepilot.control.alerting.rules.compile import compile_file, sort_issues
from scalepilot.control.alerting.rules.model import AlertingRule, RecordingRule
from scalepilot.control.alerting.rules.unittest import RuleTestFileError, expand_values, parse_test_file
from scalepilot.domain.samples import is_stale
from scalepilot.faces.cli.main import app


def load(text: str) -> tuple[list[str], list[object]]:
    spec, issues = load_rule_text(text, "r.yml")
    groups, more = compile_file(spec, issues, 60_000)
    return [str(i) for i in sort_issues([*issues, *more])], list(groups)


GOOD = """
groups:
  - name: g
    interval: 30s
    limit: 10
    query_offset: 1m
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {source: rec}
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} down"}
"""


def test_a_prometheus_rule_file_loads_unchanged() -> None:
    problems, groups = load(GOOD)
    assert problems == []
    (g,) = groups
    assert g.interval_ms == 30_000 and g.limit == 10 and g.query_offset_ms == 60_000  # type: ignore[attr-defined]
    rec, alert = g.rules  # type: ignore[attr-defined]
    assert isinstance(rec, RecordingRule) and rec.labels == (("source", "rec"),)
    assert isinstance(alert, AlertingRule)
    assert (alert.for_ms, alert.keep_firing_for_ms) == (300_000, 120_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n",
            'r.yml:5:15: group "g", rule 1, "A": could not parse expression: 1:6: parse error: unexpected end of input',
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n",
            'r.yml:6:14: for: not a valid duration string: "5x"',
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: 'a b'\n        expr: up\n",
            'r.yml:4:17: group "g", rule 1, "a b": invalid recording rule name: a b',
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - expr: up\n",
            "r.yml:4:9: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        annotations: {s: '{{ $labels.x '}\n",
            'r.yml:6:22: group "g", rule 1, "A": annotation "s": template: __alert_A:1: unclosed action',
        ),
        (
            "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
            'r.yml:4:5: groupname: "g" is repeated in the same file',
        ),
        ("groups:\n  - name: g\n    bogus: 1\n", "r.yml:3:5: group 1: unknown key 'bogus'"),
        ("groups: [\n", "r.yml:2:1: invalid YAML"),
    ],
)
def test_problems_name_file_line_and_column(text: str, expected: str) -> None:
    problems, _ = load(text)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_bad_rule_is_left_out_and_the_rest_of_its_group_kept() -> None:
    problems, groups = load(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n      - alert: B\n        expr: up\n"
    )
    assert len(problems) == 1
    assert [r.name for r in groups[0].rules] == ["B"]  # type: ignore[attr-defined]


# --- the expanding notation ---------------------------------------------------------------------
def test_expanding_notation() -> None:
    assert expand_values("1+1x3") == [1, 2, 3, 4]
    assert expand_values("10-2x2 _x2 _ 7") == [10, 8, 6, None, None, None, 7]
    assert expand_values("5x2") == [5, 5, 5]
    vals = expand_values("1 stale Inf -Inf NaN")
    assert vals[0] == 1 and is_stale(vals[1])  # type: ignore[arg-type]
    assert vals[2] == math.inf and vals[3] == -math.inf and math.isnan(vals[4])  # type: ignore[arg-type]
    with pytest.raises(RuleTestFileError, match="invalid value"):
        expand_values("1 x 2")


def test_unit_test_file_is_read_strictly() -> None:
    tf = parse_test_file("rule_files: [a.yml]\ntests:\n  - input_series: []\n")
    assert tf.evaluation_interval_ms == 60_000 and tf.tests[0].interval_ms == 60_000
    with pytest.raises(RuleTestFileError, match="unknown field 'bogus'"):
        parse_test_file("tests:\n  - bogus: 1\n")
    with pytest.raises(RuleTestFileError, match="misses required attribute alertname"):
        parse_test_file("tests:\n  - alert_rule_test:\n      - eval_time: 5m\n")


# --- CLI --------------------------------------------------------------------------------------
def test_rules_check_exit_codes(tmp_path: Path) -> None:
    good, bad, dup = tmp_path / "good.yml", tmp_path / "bad.yml", tmp_path / "dup.yml"
    good.write_text(GOOD)
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n")
    dup.write_text(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n      - record: r\n        expr: up\n"
    )
    runner = CliRunner()
    ok = runner.invoke(app, ["rules", "check", str(good)])
    assert ok.exit_code == 0 and "SUCCESS: 2 rules found" in ok.output
    failed = runner.invoke(app, ["rules", "check", str(good), str(bad)])
    assert failed.exit_code == 1 and "bad.yml:5:15:" in failed.output
    lint = runner.invoke(app, ["rules", "check", str(dup)])
    assert lint.exit_code == 0 and "1 duplicate rule(s) found" in lint.output
    assert runner.invoke(app, ["rules", "check", "--lint-fatal", str(dup)]).exit_code == 3
    assert runner.invoke(app, ["rules", "check", "--lint=none", str(dup)]).exit_code == 0


def test_rules_test_reports_a_readable_diff(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(GOOD)
    (tmp_path / "t.yml").write_text(
        """
rule_files: [r.yml]
tests:
  - input_series:
      - series: 'up{job="a", instance="a:1"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 6m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: a, instance: "a:1"}
            exp_annotations: {summary: "a:1 down"}
      - eval_time: 2m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: a, instance: "a:1"}
            exp_annotations: {summary: "a:1 down"}
"""
    )
    res = CliRunner().invoke(app, ["rules", "test", str(tmp_path / "t.yml")])
    assert res.exit_code == 1
    # 6m passes (firing after for: 5m); 2m fails: still pending, so nothing fires.
    assert "alertname: Down, time: 2m," in res.output and "time: 6m" not in res.output
    assert "got:[]" in res.output
    assert '-Labels:{alertname="Down", instance="a:1", job="a", severity="page"}' in res.output


# --- the built-in pack ------------------------------------------------------------------------------
def test_builtin_pack_compiles_and_can_be_tuned_or_switched_off() -> None:
    shapes = [ServiceShape("web", cpu_limit_cores=2, memory_limit_bytes=1 << 30, autoscaling=True)]
    text = builtin_rule_file(shapes, BuiltinRules())
    problems, groups = load(text)
    assert problems == []
    names = [(r.name, dict(r.raw_labels)["severity"]) for r in groups[0].rules]  # type: ignore[attr-defined]
    assert names == [
        ("ServiceLatencyHigh", "warning"),
        ("ServiceLatencyHigh", "critical"),
        ("ServiceErrorRateHigh", "warning"),
        ("ServiceErrorRateHigh", "critical"),
        ("ReplicaCPUHigh", "warning"),
        ("ReplicaCPUHigh", "critical"),
        ("ReplicaMemoryHigh", "warning"),
        ("ReplicaMemoryHigh", "critical"),
        ("TargetDown", "critical"),
        ("ReplicaCrashLooping", "critical"),
        ("AutoscalerAtMaxReplicas", "warning"),
    ]
    lat = groups[0].rules[0]  # type: ignore[attr-defined]
    assert lat.expr.endswith("> 0.2") and "0.95" in lat.expr and lat.for_ms == 300_000
    err = groups[0].rules[2]  # type: ignore[attr-defined]
    assert err.expr.endswith("> 0.005") and 'code=~"5.."' in err.expr
    cap = groups[0].rules[-1]  # type: ignore[attr-defined]
    assert cap.for_ms == 600_000

    tuned = Config.model_validate(
        {
            "alert_rules": {
                "builtin": {
                    "cpu": {"enabled": False},
                    "services": {"web": {"latency": {"warning": "300ms", "critical": None}}},
                }
            }
        }
    ).alert_rules.builtin
    _, groups = load(builtin_rule_file(shapes, tuned))
    rules = groups[0].rules  # type: ignore[attr-defined]
    assert not any(r.name == "ReplicaCPUHigh" for r in rules)
    assert [r.expr.rsplit(" ", 1)[1] for r in rules if r.name == "ServiceLatencyHigh"] == ["0.3"]
    off = Config.model_validate({"alert_rules": {"builtin": {"enabled": False}}}).alert_rules.builtin
    assert load(builtin_rule_file(shapes, off))[1] == []


def test_rules_builtin_prints_the_pack_for_the_configured_services(tmp_path: Path) -> None:
    cfg = tmp_path / "scalepilot.yaml"
    cfg.write_text(
        "services:\n  - name: web\n    scrape:\n      endpoints: [{url: 'http://127.0.0.1:9/metrics'}]\n"
        "alert_rules:\n  builtin:\n    target_down: {for: 2m}\n"
    )
    res = CliRunner().invoke(app, ["rules", "builtin", "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    problems, groups = load(res.output)
    assert problems == []
    # Scraped only (no local replicas, no balancer): only TargetDown applies.
    (g,) = groups
    (down,) = g.rules  # type: ignore[attr-defined]
    assert down.name == "TargetDown" and down.expr == 'up{service="web"} == 0' and down.for_ms == 120_000
