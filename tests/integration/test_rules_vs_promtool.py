"""Differential test: scalepilot's rule engine against Debian's ``promtool test rules``.

For each scenario, scalepilot evaluates the rules minute by minute and records its
timeline: the firing alerts (labels and annotations) and the ``ALERTS`` series at every
step. That timeline is written as a promtool unit-test file — an ``alert_rule_test`` and
a ``promql_expr_test`` for every step — and handed to promtool: it passes only if
Prometheus's own engine produces exactly the same firing timeline, pending states
included. The same file is also run through ``scalepilot rules test``.

Scenarios avoid one known, deliberate difference: scalepilot's PromQL follows
Prometheus 3 (lookback and range windows exclude their left edge) while Debian ships
2.42, so no input series has a gap of five minutes or more and range windows
(``[4m30s]``) never start exactly on a sample.
"""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scalepilot.config.rules import load_rule_text
from scalepilot.control.alerting.rules.compile import compile_file
from scalepilot.control.alerting.rules.group import GroupEvaluator, vector_of
from scalepilot.control.alerting.rules.unittest import MemorySeries, expand_values, parse_series_labels
from scalepilot.control.query.engine import Engine
from scalepilot.domain.alerts import AlertState
from scalepilot.domain.labels import METRIC_NAME, Labels
from scalepilot.faces.cli.main import app
from tests.support import require_binary

STEP_MS = 60_000


@dataclass(frozen=True)
class Scenario:
    name: str
    rules: list[dict[str, Any]]
    series: list[tuple[str, str]]
    minutes: int = 20


def _alert(name: str, expr: str, **extra: Any) -> dict[str, Any]:
    return {"alert": name, "expr": expr, **extra}


TEMPLATES = {
    "humanize": "{{ humanize $value }}",
    "humanize1024": "{{ humanize1024 $value }}",
    "pct": "{{ humanizePercentage $value }}",
    "dur": "{{ humanizeDuration $value }}",
    "ts": "{{ humanizeTimestamp $value }}",
    "printf": '{{ printf "%.3f|%5.1f|%e|%g|%d|%s|%q|%x" $value $value $value $value 42 "s" "q" 255 }}',
    "print": "{{ print $value }} {{ $value }} {{ .Value }}",
    "case": '{{ toUpper "abc" }} {{ toLower "ABC" }} {{ title "hello world" }}',
    "re": '{{ reReplaceAll "(.*):(.*)" "$2" $labels.instance }} {{ match "^x" $labels.instance }}',
    "range": "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
    "with": "{{ with $labels.missing }}has{{ else }}none{{ end }} {{ with $labels.instance }}{{ . }}{{ end }}",
    "cmp": "{{ if lt $value 10.0 }}small{{ else if ge $value 1000.0 }}big{{ else }}mid{{ end }}",
    "logic": '{{ and true "x" }} {{ or "" "y" }} {{ not false }} {{ len $labels }} {{ index $labels "job" }}',
    "eq": '{{ eq $labels.job "api" "web" }} {{ ne 1 2 }}',
    "strip": '{{ stripPort "host:9100" }} {{ stripPort "[::1]:80" }}',
    "pipe": '{{ $labels.job | toUpper | printf "<%s>" }}',
    "vars": "{{ $x := 3 }}{{ $x }}{{ $x = 4 }}{{ $x }}",
    "ext": "{{ $externalLabels.cluster }} {{ $externalURL }}",
    "safe": '{{ "a<b" | safeHtml }} {{ "a<b" }}',
    "trim": "  {{- $labels.job -}}  ",
    "raw": '{{ `back\\tick` }} {{ "tab\\there" }}',
    "nan": "{{ humanize 0.000001234 }} {{ humanize 1234567890 }} {{ humanizeDuration 0.5 }} {{ humanizeDuration -90 }}",
    "tpl_err": "{{ index $labels 5 }}",
}

FLAP = "0 1 0 1 1 0 1 1 1 0 0 1 1 1 1 0 1 0 0 0 1 1 1"
SCENARIOS = [
    Scenario("for-zero fires at once", [_alert("High", "m > 5")], [("m", "0 3 6 9 2 7 8 1")], 8),
    Scenario("for-3m", [_alert("High", "m > 5", **{"for": "3m"})], [("m", "0+1x20")]),
    Scenario("for exactly reached", [_alert("High", "m > 0", **{"for": "2m"})], [("m", "0 1 1 1 0 1 1 0 1 1 1 1")], 12),
    Scenario(
        "pending that clears is dropped", [_alert("High", "m > 0", **{"for": "5m"})], [("m", "1 1 1 0 1 1 1 1 0 0")], 10
    ),
    Scenario(
        "keep_firing_for", [_alert("High", "m > 0", keep_firing_for="3m")], [("m", "1 1 0 0 0 0 0 1 0 1 0 0")], 12
    ),
    Scenario(
        "for and keep_firing_for",
        [_alert("High", "m > 0", **{"for": "2m", "keep_firing_for": "2m"})],
        [("m", "1 1 1 1 0 0 1 0 0 0 1 1 1 0 1 0 0 0")],
        18,
    ),
    Scenario("flapping, for 0", [_alert("Flap", "m > 0")], [("m", FLAP)], 22),
    Scenario("flapping, for 2m", [_alert("Flap", "m > 0", **{"for": "2m"})], [("m", FLAP)], 22),
    Scenario("flapping, keep_firing_for 2m", [_alert("Flap", "m > 0", keep_firing_for="2m")], [("m", FLAP)], 22),
    Scenario(
        "several label sets",
        [_alert("Down", "up == 0", **{"for": "2m"})],
        [
            ('up{job="a", instance="a:1"}', "1 0 0 0 0 1 1 0 0 0"),
            ('up{job="a", instance="a:2"}', "0 0 0 0 0 0 0 0 0 0"),
            ('up{job="b", instance="b:1"}', "1 1 1 0 0 0 0 0 1 1"),
        ],
        10,
    ),
    Scenario(
        "templated annotations",
        [
            _alert(
                "High",
                "m > 1",
                labels={"severity": "page"},
                annotations={
                    "summary": "{{ $labels.instance }} at {{ $value }}",
                    "pretty": '{{ humanize $value }} / {{ printf "%.2f" $value }}',
                },
            )
        ],
        [('m{instance="x:1"}', "0 1.5 2.25 3 1000 1234567 0")],
        7,
    ),
    Scenario(
        "templated labels",
        [
            _alert(
                "Big",
                "m > 10",
                labels={"severity": "{{ if gt $value 100.0 }}critical{{ else }}warning{{ end }}"},
            )
        ],
        [('m{job="j"}', "5 20 200 300 50 20 5")],
        7,
    ),
    Scenario(
        "label that expands to empty is dropped",
        [_alert("A", "m > 0", labels={"team": "{{ $labels.team }}", "sev": "x"})],
        [('m{team="core"}', "1 1 0 1"), ('m{zone="z"}', "1 0 1 1")],
        4,
    ),
    Scenario(
        "humanizePercentage and humanizeDuration",
        [
            _alert(
                "Ratio",
                "m > 0",
                annotations={"a": "{{ humanizePercentage $value }}", "b": "{{ humanizeDuration $value }}"},
            )
        ],
        [("m", "0.05 0.5 3661 90061 0.001")],
        5,
    ),
    Scenario(
        "recording rule feeds alert",
        [
            {"record": "job:m:sum", "expr": "sum by (job) (m)"},
            _alert("JobHigh", "job:m:sum > 10", **{"for": "1m"}),
        ],
        [('m{job="a", i="1"}', "1+1x15"), ('m{job="a", i="2"}', "2+1x15"), ('m{job="b", i="1"}', "0+0x15")],
        15,
    ),
    Scenario(
        "rate-based alert",
        [_alert("Errors", "rate(errors_total[4m30s]) > 0.05", **{"for": "2m"})],
        [("errors_total", "0+1x6 6+10x8 86+0x10")],
        24,
    ),
    Scenario(
        "absent",
        [_alert("Missing", 'absent(m{job="x"})', **{"for": "1m"})],
        [('m{job="x"}', "1 1 1 stale _ _ 1 1 1")],
        9,
    ),
    Scenario(
        "stale marker ends alert",
        [_alert("High", "m > 0", **{"for": "1m"})],
        [("m", "1 1 1 1 stale _ _ 1 1 1 1")],
        11,
    ),
    Scenario(
        "value changes keep active_at",
        [_alert("High", "m > 0", **{"for": "3m"}, annotations={"v": "{{ $value }}"})],
        [("m", "1 2 3 4 5 6 0 7 8")],
        9,
    ),
    Scenario(
        "two rules with one name",
        [
            _alert("Same", "m > 5", labels={"severity": "warning"}),
            _alert("Same", "m > 8", labels={"severity": "critical"}, **{"for": "1m"}),
        ],
        [("m", "0 6 9 9 9 7 9 2")],
        8,
    ),
    Scenario(
        "label set changes with value",
        [_alert("ByBucket", 'label_replace(m, "bucket", "$1", "b", "(.*)") > 0', **{"for": "1m"})],
        [('m{b="x"}', "1 1 1 0 0 1 1"), ('m{b="y"}', "0 1 1 1 1 0 0")],
        7,
    ),
    Scenario(
        "template functions",
        [_alert("Tpl", "m > 0", annotations=TEMPLATES)],
        [('m{instance="x:9100", job="api"}', "0 1 1234.5678 0.000123 1e9 86400.25 -2 3 0")],
        9,
    ),
    Scenario(
        "external labels in templates",
        [_alert("Ext", "m > 0", annotations={"where": "{{ $externalLabels.cluster }}/{{ $labels.instance }}"})],
        [('m{instance="i"}', "1 1 0 1")],
        4,
    ),
    Scenario(
        "keep_firing_for longer than the gap",
        [_alert("Sticky", "m > 0", **{"for": "1m", "keep_firing_for": "10m"})],
        [("m", "1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 1 0")],
        17,
    ),
    Scenario(
        "aggregated alert across instances",
        [_alert("TooManyDown", "count(up == 0) > 1", **{"for": "1m"}, annotations={"n": "{{ $value }} down"})],
        [('up{i="1"}', "1 0 0 0 0 1 1"), ('up{i="2"}', "0 0 0 1 0 0 0"), ('up{i="3"}', "1 1 0 0 0 0 1")],
        7,
    ),
]

EXTERNAL_LABELS = {"cluster": "eu-1"}


def _timeline(
    sc: Scenario, rule_file: Path
) -> tuple[list[list[tuple[Labels, Labels]]], list[list[tuple[Labels, float]]]]:
    spec, issues = load_rule_text(rule_file.read_text(), str(rule_file))
    groups, more = compile_file(spec, issues, STEP_MS)
    assert not issues and not more, [str(i) for i in [*issues, *more]]
    store = MemorySeries()
    for series, values in sc.series:
        labels = parse_series_labels(series)
        for i, v in enumerate(expand_values(values)):
            if v is not None:
                store.add(labels, i * STEP_MS, v)
    engine = Engine(store, lookback_ms=300_000)
    evaluators = [GroupEvaluator(g, external_labels=EXTERNAL_LABELS, for_grace_period_ms=0) for g in groups]

    def write(samples: Any, ts: int) -> None:
        for labels, value in samples:
            store.add(labels, ts, value)

    firing: list[list[tuple[Labels, Labels]]] = []
    for step in range(sc.minutes + 1):
        ts = step * STEP_MS
        for ev in evaluators:
            ev.evaluate(ts, engine, write)
            assert all(s.health == "ok" for s in ev.status.values()), [s.last_error for s in ev.status.values()]
        firing.append(
            [
                (a.labels, tuple(sorted(a.annotations)))
                for ev in evaluators
                for _, a in ev.alerts()
                if a.state is AlertState.FIRING and a.resolved_at_ms is None
            ]
        )
    alerts = [
        sorted((s.labels, s.value) for s in vector_of(engine.instant("ALERTS", step * STEP_MS)))
        for step in range(sc.minutes + 1)
    ]
    return firing, alerts


def _promql_series(labels: Labels) -> str:
    name = dict(labels).get(METRIC_NAME, "")
    inner = ", ".join(f'{k}="{v}"' for k, v in labels if k != METRIC_NAME)
    return f"{name}{{{inner}}}"


def _write_scenario(sc: Scenario, tmp: Path) -> tuple[Path, int]:
    rule_file = tmp / "rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": sc.rules}]}, sort_keys=False))
    firing, alerts = _timeline(sc, rule_file)
    names = sorted({r["alert"] for r in sc.rules if "alert" in r})
    alert_tests = []
    for step, current in enumerate(firing):
        for name in names:
            exp = []
            for labels, annots in current:
                d = dict(labels)
                if d.get("alertname") != name:
                    continue
                d.pop("alertname")
                exp.append({"exp_labels": d, "exp_annotations": dict(annots)})
            alert_tests.append({"eval_time": f"{step}m", "alertname": name, "exp_alerts": exp})
    promql_tests = [
        {
            "expr": "ALERTS",
            "eval_time": f"{step}m",
            "exp_samples": [{"labels": _promql_series(labels), "value": value} for labels, value in samples],
        }
        for step, samples in enumerate(alerts)
    ]
    test_file = tmp / "test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yml"],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "external_labels": EXTERNAL_LABELS,
                        "input_series": [{"series": s, "values": v} for s, v in sc.series],
                        "alert_rule_test": alert_tests,
                        "promql_expr_test": promql_tests,
                    }
                ],
            },
            sort_keys=False,
        )
    )
    # Changes of the firing set or of ALERTS (which shows pending alerts too).
    transitions = sum(1 for a, b in itertools.pairwise(firing) if a != b) + sum(
        1 for a, b in itertools.pairwise(alerts) if a != b
    )
    return test_file, transitions


def test_there_are_at_least_twenty_scenarios() -> None:
    assert len(SCENARIOS) >= 20
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_firing_timeline_matches_promtool(sc: Scenario, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    test_file, transitions = _write_scenario(sc, tmp_path)
    # A scenario where nothing ever fires or changes would prove nothing.
    assert transitions >= 1, "scenario never changes its alerts"
    proc = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"promtool disagrees with scalepilot:\n{proc.stdout}\n{proc.stderr}"
    ours = CliRunner().invoke(app, ["rules", "test", str(test_file)])
    assert ours.exit_code == 0, ours.output
    assert "SUCCESS" in ours.output


def test_promtool_rejects_a_wrong_timeline(tmp_path: Path) -> None:
    """The differential check has teeth: shift one expectation and promtool fails it."""
    promtool = require_binary("promtool")
    sc = SCENARIOS[1]
    test_file, _ = _write_scenario(sc, tmp_path)
    data = yaml.safe_load(test_file.read_text())
    tests = data["tests"][0]["alert_rule_test"]
    firing_steps = [t for t in tests if t["exp_alerts"]]
    firing_steps[0]["exp_alerts"] = []
    test_file.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 1
    ours = CliRunner().invoke(app, ["rules", "test", str(test_file)])
    assert ours.exit_code == 1


_G = "groups:\n  - name: g\n    rules:\n"
CHECK_CASES = {
    "good": _G + "      - record: r\n        expr: sum(up)\n      - alert: A\n        expr: up == 0\n        for: 5m\n",
    "bad_expr": "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n",
    "bad_for": "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n",
    "bad_template": _G + "      - alert: A\n        expr: up\n        annotations: {s: '{{ $labels.x '}\n",
    "bad_record_name": "groups:\n  - name: g\n    rules:\n      - record: 'a b'\n        expr: up\n",
    "repeated_group": "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
    "unknown_key": "groups:\n  - name: g\n    bogus: 1\n    rules: []\n",
    "duplicates": _G + "      - record: r\n        expr: up\n      - record: r\n        expr: up\n",
}


@pytest.mark.parametrize("case", sorted(CHECK_CASES))
@pytest.mark.parametrize("flags", [[], ["--lint-fatal"]])
def test_rules_check_exits_as_promtool_does(case: str, flags: list[str], tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    path = tmp_path / f"{case}.yml"
    path.write_text(CHECK_CASES[case])
    theirs = subprocess.run(
        [promtool, "check", "rules", *flags, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    ours = CliRunner().invoke(app, ["rules", "check", *flags, str(path)])
    assert ours.exit_code == theirs.returncode, (ours.output, theirs.stdout, theirs.stderr)
    assert ("SUCCESS" in ours.output) == ("SUCCESS" in theirs.stdout)


def test_builtin_pack_passes_promtool_check(tmp_path: Path) -> None:
    from scalepilot.config.rules import BuiltinRules
    from scalepilot.control.alerting.rules.builtin import ServiceShape, builtin_rule_file

    promtool = require_binary("promtool")
    shapes = [
        ServiceShape("web", cpu_limit_cores=0.5, memory_limit_bytes=512 << 20, autoscaling=True),
        ServiceShape("external", balanced=False, replicas=False),
    ]
    path = tmp_path / "builtin.yml"
    path.write_text(builtin_rule_file(shapes, BuiltinRules()))
    proc = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 12 rules found" in proc.stdout
