"""The ``autoscaling:`` section: parsing, defaults, compilation and errors.

Covers: a full hpa-mode section with every metric kind; the HPA's ``behavior`` block
pasted unchanged from a manifest (including the documentation's "Default behavior",
which compiles to the same policy as no block); partial behavior merged with the
defaults; the seeds' threshold section; unit spellings (``70%``/``70``, ``250ms``,
``3000/min``, tolerance ``50m``); clear errors for bad values (min above max, a
policy value of 0, an unknown metric type, a bad cron or time zone, mode mix-ups,
duplicate names, bad PromQL, scale to zero without a wake-capable metric...); the JSON
Schema; the pinned public API of ``control.scaling``.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import scalepilot.control.scaling as scaling
from scalepilot.config.loader import ConfigError, load_text
from scalepilot.config.models import Service
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.scaling import compile_policy
from scalepilot.control.scaling.policy import DirectionRules, Mode, RatePolicy, Select
from scalepilot.domain.scaling import TargetType

FULL = """
mode: hpa
min_replicas: 2
max_replicas: 20
metrics:
  - {type: cpu, target: 70%}
  - {type: memory, target: 80}
  - {type: rps, target: 3000/min}
  - {type: in_flight, target: 8}
  - {type: latency, quantile: 0.99, target: 250ms}
  - type: series
    name: queue
    query: sum(queue_length{queue="orders"})
    target_type: average_value
    unit: jobs
    target: 30
behavior:                       # as in an HPA manifest
  scaleDown:
    stabilizationWindowSeconds: 600
    selectPolicy: Min
    policies:
    - type: Percent
      value: 10
      periodSeconds: 60
    - type: Pods
      value: 5
      periodSeconds: 60
  scaleUp:
    tolerance: 50m
schedules:
  - {name: weekday, cron: "0 9 * * mon-fri", duration: 10h, timezone: Europe/Istanbul, min_replicas: 6}
"""


def settings(text: str) -> AutoscalingSettings:
    return AutoscalingSettings.model_validate(yaml.safe_load(text))


def test_full_hpa_section_compiles() -> None:
    p = compile_policy(settings(FULL))
    assert (p.mode, p.min_replicas, p.max_replicas) == (Mode.HPA, 2, 20)
    got = [(m.name, m.kind, m.target_type, m.unit, m.target) for m in p.metrics]
    assert got == [
        ("cpu", "cpu", TargetType.UTILIZATION, "%", 70.0),
        ("memory", "memory", TargetType.UTILIZATION, "%", 80.0),
        ("rps", "rps", TargetType.AVERAGE_VALUE, "req/s", 50.0),
        ("in_flight", "in_flight", TargetType.AVERAGE_VALUE, "", 8.0),
        ("p99", "latency", TargetType.VALUE, "s", 0.25),
        ("queue", "series", TargetType.AVERAGE_VALUE, "jobs", 30.0),
    ]
    assert p.scale_down == DirectionRules(
        600.0, Select.MIN, (RatePolicy(True, 10, 60.0), RatePolicy(False, 5, 60.0)), 0.1
    )
    assert p.scale_up.tolerance == 0.05
    assert p.scale_up.policies == (RatePolicy(False, 4, 15.0), RatePolicy(True, 100, 15.0))  # defaults kept
    assert (p.history, p.event_history) == (600.0, 60.0)
    (sched,) = p.schedules
    assert (sched.name, sched.timezone, sched.duration, sched.min_replicas) == ("weekday", "Europe/Istanbul", 36000, 6)
    assert (p.cooldown_up, p.cooldown_down, p.scale_to_zero) == (0.0, 0.0, False)


def test_documented_default_behavior_equals_no_behavior() -> None:
    # "Default behavior" from the HPA documentation, pasted unchanged
    default_block = """
max_replicas: 10
metrics: [{type: cpu, target: 50}]
behavior:
  scaleDown:
    stabilizationWindowSeconds: 300
    policies:
    - type: Percent
      value: 100
      periodSeconds: 15
  scaleUp:
    stabilizationWindowSeconds: 0
    policies:
    - type: Percent
      value: 100
      periodSeconds: 15
    - type: Pods
      value: 4
      periodSeconds: 15
    selectPolicy: Max
"""
    explicit = compile_policy(settings(default_block))
    implicit = compile_policy(settings("max_replicas: 10\nmetrics: [{type: cpu, target: 50}]\n"))
    assert implicit.scale_up == DirectionRules(
        0.0, Select.MAX, (RatePolicy(False, 4, 15.0), RatePolicy(True, 100, 15.0)), 0.1
    )
    assert implicit.scale_down == DirectionRules(300.0, Select.MAX, (RatePolicy(True, 100, 15.0),), 0.1)
    assert (explicit.scale_down, explicit.scale_up.window, explicit.scale_up.select) == (
        implicit.scale_down,
        0.0,
        Select.MAX,
    )
    assert set(explicit.scale_up.policies) == set(implicit.scale_up.policies)


def test_partial_behavior_merges_with_the_defaults() -> None:
    base = "max_replicas: 5\nmetrics: [{type: cpu, target: 50}]\n"
    p = compile_policy(settings(base + "behavior: {scaleDown: {stabilizationWindowSeconds: 60}}\n"))
    assert p.scale_down == DirectionRules(60.0, Select.MAX, (RatePolicy(True, 100, 15.0),), 0.1)
    empty = compile_policy(settings(base + "behavior: {scaleUp: {policies: []}}\n"))
    assert empty.scale_up.policies == (RatePolicy(False, 4, 15.0), RatePolicy(True, 100, 15.0))


def test_the_seeds_threshold_section() -> None:
    p = compile_policy(
        settings(
            """
mode: threshold
min_replicas: 3
max_replicas: 25
metrics:
  - {type: cpu, scale_up_above: 70%, scale_down_below: 30%}
  - {type: memory, scale_up_above: 80%, scale_down_below: 40%}
  - {type: rps, scale_up_above: 1000/min, scale_down_below: 200/min}
  - {type: latency, scale_up_above: 500ms, scale_down_below: 100ms}
step: 2
"""
        )
    )
    assert [(m.name, round(m.target, 3), round(m.lower, 3)) for m in p.metrics] == [
        ("cpu", 70.0, 30.0),
        ("memory", 80.0, 40.0),
        ("rps", 16.667, 3.333),
        ("p95", 0.5, 0.1),
    ]
    assert (p.mode, p.step, p.step_percent, p.cooldown_up, p.cooldown_down) == (
        Mode.THRESHOLD,
        2.0,
        False,
        300.0,
        600.0,
    )
    metric = "metrics: [{type: cpu, scale_up_above: 70, scale_down_below: 30}]\n"
    assert compile_policy(settings("mode: threshold\nmax_replicas: 5\nstep: 50%\n" + metric)).step_percent


@pytest.mark.parametrize(
    ("written", "value"),
    [("70%", 70.0), ("70 %", 70.0), (70, 70.0), ("70", 70.0), ("12.5%", 12.5)],
)
def test_percent_spellings(written: Any, value: float) -> None:
    s = AutoscalingSettings.model_validate({"max_replicas": 2, "metrics": [{"type": "cpu", "target": written}]})
    assert compile_policy(s).metrics[0].target == value


@pytest.mark.parametrize(("written", "value"), [(50, 50.0), ("50/s", 50.0), ("3000/min", 50.0), ("180000/h", 50.0)])
def test_rate_spellings(written: Any, value: float) -> None:
    s = AutoscalingSettings.model_validate({"max_replicas": 2, "metrics": [{"type": "rps", "target": written}]})
    assert compile_policy(s).metrics[0].target == pytest.approx(value)


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        AutoscalingSettings.model_validate({"max_replicas": 10, **data})
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.value.errors()]


CPU = [{"type": "cpu", "target": 50}]
THRESHOLD_CPU = {"type": "cpu", "scale_up_above": 70, "scale_down_below": 30}

ERROR_CASES = [
    ({"min_replicas": 12, "metrics": CPU}, "", "min_replicas (12) must not exceed max_replicas (10)"),
    ({"min_replicas": 0, "metrics": CPU}, "",
     "min_replicas 0 needs scale_to_zero.enabled: true (otherwise use 1 or more)"),
    ({"metrics": []}, "", "give at least one metric (or a schedule) to scale on"),
    ({"metrics": [{"type": "cpu", "target": "150%"}]}, "metrics.0.cpu.target",
     "must not exceed 100%: utilization is a share of the replica's limit, which it cannot pass"),
    ({"metrics": [{"type": "cpu", "target": "lots"}]}, "metrics.0.cpu.target",
     "must be a percentage such as 70% or 70"),
    ({"metrics": [{"type": "rps", "target": "5/day"}]}, "metrics.0.rps.target",
     "must be a request rate such as 50, 50/s or 3000/min"),
    ({"metrics": [{"type": "latency", "target": "fast"}]}, "metrics.0.latency.target",
     "not a duration: 'fast' (use e.g. 500ms, 15s, 5m, 1h30m, 7d)"),
    ({"metrics": [{"type": "latency", "target": "250ms", "quantile": 1.5}]}, "metrics.0.latency.quantile",
     "Input should be less than 1"),
    ({"metrics": [{"type": "cpu"}]}, "", "metrics[0] (cpu): needs a target (mode hpa)"),
    ({"metrics": [{"type": "cpu", "target": 0}]}, "", "metrics[0] (cpu): target must be greater than 0"),
    ({"metrics": [{"type": "cpu", "target": 50, "scale_up_above": 70}]}, "",
     "metrics[0] (cpu): scale_up_above and scale_down_below need mode: threshold"),
    ({"metrics": [*CPU, {"type": "cpu", "target": 60}]}, "",
     "metric name 'cpu' is used twice (metrics[0] and metrics[1]); give one a name"),
    ({"metrics": [{"type": "cpu", "target": 50, "name": "9lives"}]}, "metrics.0.cpu.name",
     "must start with a letter or _ and use letters, digits, _ . : -, e.g. queue_depth"),
    ({"metrics": [{"type": "series", "name": "q", "query": "sum(rate(x[5m])", "target": 1}]}, "metrics.0.series.query",
     "invalid PromQL: unclosed left parenthesis"),
    ({"metrics": [{"type": "series", "name": "q", "query": "q", "target": 1, "target_type": "utilization"}]},
     "metrics.0.series.target_type", "Input should be 'value' or 'average_value'"),
    ({"metrics": CPU, "step": 2}, "", "step belongs to mode: threshold"),
    ({"metrics": CPU, "cooldown": {"up": "1m"}}, "", "cooldown belongs to mode: threshold"),
    ({"mode": "threshold", "metrics": [THRESHOLD_CPU], "tolerance": 0.2}, "", "tolerance belongs to mode: hpa"),
    ({"mode": "threshold", "metrics": [THRESHOLD_CPU], "behavior": {}}, "", "behavior belongs to mode: hpa"),
    ({"mode": "threshold", "metrics": CPU}, "",
     "metrics[0] (cpu): target belongs to mode hpa; give scale_up_above and scale_down_below"),
    ({"mode": "threshold", "metrics": [{"type": "cpu", "scale_up_above": 70}]}, "",
     "metrics[0] (cpu): needs scale_up_above and scale_down_below (mode threshold)"),
    ({"mode": "threshold", "metrics": [{"type": "cpu", "scale_up_above": 30, "scale_down_below": 70}]}, "",
     "metrics[0] (cpu): scale_down_below must be lower than scale_up_above"),
    ({"mode": "threshold", "metrics": [THRESHOLD_CPU], "step": "0%"},
     "step", "must be a number of replicas (1 or more) or a percentage such as 50%"),
    ({"mode": "threshold", "metrics": [THRESHOLD_CPU], "step": 0},
     "step", "must be a number of replicas (1 or more) or a percentage such as 50%"),
    ({"metrics": CPU, "behavior": {"scaleDown": {"policies": [{"type": "Percent", "value": 0, "periodSeconds": 60}]}}},
     "behavior.scaleDown.policies.0.value", "must be greater than 0"),
    ({"metrics": CPU, "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": -1, "periodSeconds": 60}]}}},
     "behavior.scaleUp.policies.0.value", "must be greater than 0"),
    ({"metrics": CPU, "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 3600}]}}},
     "behavior.scaleUp.policies.0.periodSeconds", "must be greater than 0 and at most 1800 (30 min)"),
    ({"metrics": CPU, "behavior": {"scaleUp": {"policies": [{"type": "Replicas", "value": 4, "periodSeconds": 60}]}}},
     "behavior.scaleUp.policies.0.type", "Input should be 'Pods' or 'Percent'"),
    ({"metrics": CPU, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 7200}}},
     "behavior.scaleDown.stabilizationWindowSeconds", "must be between 0 and 3600 (one hour)"),
    ({"metrics": CPU, "behavior": {"scaleDown": {"selectPolicy": "Largest"}}}, "behavior.scaleDown.selectPolicy",
     "Input should be 'Max', 'Min' or 'Disabled'"),
    ({"metrics": CPU, "behavior": {"scaleDown": {"stabilizationWindow": 60}}}, "behavior.scaleDown.stabilizationWindow",
     "Extra inputs are not permitted"),
    ({"metrics": CPU, "tolerance": "lots"}, "tolerance",
     "must be a fraction such as 0.1 (or a Kubernetes quantity such as 100m)"),
    ({"metrics": CPU, "schedules": [{"cron": "0 25 * * *", "duration": "1h", "min_replicas": 2}]}, "schedules.0.cron",
     "invalid cron expression: [0 25 * * *] is not acceptable, out of range"),
    ({"metrics": CPU, "schedules": [{"cron": "0 9 * *", "duration": "1h", "min_replicas": 2}]}, "schedules.0.cron",
     "must have five fields (minute hour day-of-month month day-of-week), e.g. '0 9 * * mon-fri'"),
    ({"metrics": CPU, "schedules": [{"cron": "0 9 * * *", "duration": "1h", "min_replicas": 2,
                                    "timezone": "Mars/Olympus"}]}, "schedules.0.timezone",
     "unknown time zone 'Mars/Olympus': use an IANA name such as Europe/Istanbul or UTC"),
    ({"metrics": CPU, "schedules": [{"cron": "0 9 * * *", "duration": "0s", "min_replicas": 2}]},
     "schedules.0.duration", "must be greater than 0s"),
    ({"metrics": CPU, "schedules": [{"cron": "0 9 * * *", "duration": "1h", "min_replicas": 11}]}, "",
     "schedules[0].min_replicas (11) must not exceed max_replicas (10)"),
    ({"metrics": CPU, "scale_to_zero": {"enabled": True}}, "",
     "scale_to_zero needs a metric other than cpu or memory: those cannot be read with no replica running, "
     "so nothing could wake the service"),
    ({"metrics": [{"type": "rps", "target": 5, "activation": 1}]}, "",
     "metrics[0] (rps): activation only applies with scale_to_zero.enabled: true"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "where", "message"), ERROR_CASES)
def test_errors_are_clear(data: dict[str, Any], where: str, message: str) -> None:
    assert (where, message) in errors(data)


def test_unknown_metric_type_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        AutoscalingSettings.model_validate({"max_replicas": 3, "metrics": [{"type": "gpu", "target": 50}]})
    (err,) = exc.value.errors()
    assert err["type"] == "union_tag_invalid"  # the loader words it: unknown type 'gpu'; expected one of ...
    assert err["ctx"]["tag"] == "gpu"
    assert "'cpu', 'memory', 'rps', 'in_flight', 'latency', 'series'" in err["ctx"]["expected_tags"]


@pytest.mark.skipif("autoscaling" not in Service.model_fields, reason="Service has no autoscaling section yet")
def test_errors_through_the_loader_name_file_line_column_and_key_path() -> None:
    text = """services:
  - name: shop
    autoscaling:
      max_replicas: 5
      metrics:
        - {type: cpu, target: 150%}
        - {type: gpu, target: 1}
      behavior:
        scaleDown: {stabilizationWindow: 60}
  - name: cart
    autoscaling: {min_replicas: 8, max_replicas: 5, metrics: [{type: cpu, target: 50}]}
"""
    with pytest.raises(ConfigError) as exc:
        load_text(text, "scalepilot.yaml")
    assert [str(i) for i in exc.value.issues] == [
        "scalepilot.yaml:6:31 services[0].autoscaling.metrics[0].target: must not exceed 100%: utilization is a "
        "share of the replica's limit, which it cannot pass",
        "scalepilot.yaml:7:11 services[0].autoscaling.metrics[1]: unknown type 'gpu'; expected one of 'cpu', "
        "'memory', 'rps', 'in_flight', 'latency', 'series'",
        "scalepilot.yaml:9:21 services[0].autoscaling.behavior.scaleDown.stabilizationWindow: unknown key; did you "
        "mean 'stabilizationWindowSeconds'? (allowed: stabilizationWindowSeconds, selectPolicy, policies, tolerance)",
        "scalepilot.yaml:11:18 services[1].autoscaling: min_replicas (8) must not exceed max_replicas (5)",
    ]


def test_json_schema_documents_the_fields() -> None:
    schema = AutoscalingSettings.model_json_schema()
    assert "the HPA's --horizontal-pod-autoscaler-tolerance" in schema["properties"]["tolerance"]["description"]
    rules = schema["$defs"]["HPAScalingRules"]["properties"]
    assert set(rules) == {"stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"}
    assert schema["$defs"]["CPUMetric"]["additionalProperties"] is False


def test_public_api_is_pinned() -> None:
    assert scaling.__all__ == ["Policy", "compile_policy", "decide"]
