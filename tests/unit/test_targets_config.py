"""The ``target:`` settings models (``config/targets.py``).

Covers: both documented YAML examples parse, with durations and sizes in human notation;
defaults (and that every field is described, for the schema and CLI help); the
discriminator picks the kind and names unknown kinds; placeholders of the other kind are
rejected as typos while other braces (kubectl jsonpath) pass; a scale command must use
{replicas}; empty argv, bad env names, reserved env names, backoff max < initial, and
paths without a leading slash are rejected.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from scalepilot.config.targets import (
    BackoffSettings,
    CommandTargetSettings,
    CrashLoopSettings,
    HTTPReadiness,
    LocalTargetSettings,
    ResourceSettings,
    TargetSettings,
    TCPReadiness,
)

ADAPTER: TypeAdapter[LocalTargetSettings | CommandTargetSettings] = TypeAdapter(TargetSettings)

LOCAL_YAML = """
type: local
command: ["python", "-m", "scalepilot.examples.shop", "--port", "{port}"]
env: {LOG_LEVEL: info, NAME: "shop-{replica}"}
cwd: .
replicas: 2
readiness: {type: http, path: /healthz, interval: 1s, timeout: 500ms}
grace_period: 30s
stop_timeout: 10s
restart_backoff: {initial: 1s, max: 60s, multiplier: 2}
crash_loop: {restarts: 3, within: 5m}
resources: {cpu: 1.0, memory: 256MiB}
metrics_path: /metrics
"""

COMMAND_YAML = """
type: command
scale: ["kubectl", "scale", "deployment/shop", "--replicas={replicas}"]
status: ["sh", "-c", "kubectl get deploy shop -o jsonpath={.status.readyReplicas}"]
timeout: 30s
retry_backoff: {initial: 2s, max: 5m}
"""


def parse(text: str, **changes: Any) -> LocalTargetSettings | CommandTargetSettings:
    doc = yaml.safe_load(text) | changes
    return ADAPTER.validate_python(doc)


def errors(text: str, **changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        parse(text, **changes)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.value.errors()]


def test_local_example_parses() -> None:
    s = parse(LOCAL_YAML)
    assert isinstance(s, LocalTargetSettings)
    assert s.command[-1] == "{port}" and s.env == {"LOG_LEVEL": "info", "NAME": "shop-{replica}"}
    assert s.replicas == 2 and s.grace_period == 30.0 and s.stop_timeout == 10.0
    assert isinstance(s.readiness, HTTPReadiness) and s.readiness.timeout == 0.5
    assert s.restart_backoff.max == 60.0 and s.crash_loop.within == 300.0
    assert s.resources.cpu == 1.0 and s.resources.memory == 256 * 1024**2


def test_command_example_parses() -> None:
    s = parse(COMMAND_YAML)
    assert isinstance(s, CommandTargetSettings)
    assert s.status is not None and "jsonpath={.status.readyReplicas}" in s.status[-1]
    assert (s.retry_backoff.initial, s.retry_backoff.max, s.retry_backoff.multiplier) == (2.0, 300.0, 2.0)
    assert s.replicas is None and s.timeout == 30.0


def test_defaults() -> None:
    s = parse("type: local\ncommand: [app]\n")
    assert isinstance(s, LocalTargetSettings)
    assert s.replicas == 1 and str(s.cwd) == "."
    assert isinstance(s.readiness, HTTPReadiness) and s.readiness.path == "/healthz"
    assert (s.grace_period, s.stop_timeout) == (30.0, 10.0)
    assert (s.restart_backoff.initial, s.restart_backoff.max) == (1.0, 60.0)
    assert (s.crash_loop.restarts, s.crash_loop.within) == (3, 300.0)
    assert s.metrics_path == "/metrics" and s.log_max_size == 10 * 1024**2
    tcp = parse("type: local\ncommand: [app]\nreadiness: {type: tcp}\n")
    assert isinstance(tcp, LocalTargetSettings) and isinstance(tcp.readiness, TCPReadiness)
    no_metrics = parse("type: local\ncommand: [app]\nmetrics_path: null\n")
    assert isinstance(no_metrics, LocalTargetSettings) and no_metrics.metrics_path is None


@pytest.mark.parametrize(
    "model",
    [
        LocalTargetSettings,
        CommandTargetSettings,
        HTTPReadiness,
        TCPReadiness,
        BackoffSettings,
        CrashLoopSettings,
        ResourceSettings,
    ],
)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    assert [n for n, f in model.model_fields.items() if n != "type" and not f.description] == []


def test_discriminator_names_the_kind() -> None:
    errs = errors("type: docker\ncommand: [app]\n")
    assert len(errs) == 1 and "'local', 'command'" in errs[0][1]
    assert errors("type: local\nscale: [x]\n") == [
        ("local.command", "Field required"),
        ("local.scale", "Extra inputs are not permitted"),
    ]


def test_placeholders_of_the_other_kind_are_typos() -> None:
    (loc, msg), *_ = errors("type: local\ncommand: [app, '--n={replicas}']\n")
    assert loc == "local.command" and "item 1 uses {replicas}" in msg
    (loc, msg), *_ = errors("type: command\nscale: [kubectl, '--replicas={replica}']\n")
    assert loc == "command.scale" and "{replica}" in msg
    (loc, msg), *_ = errors("type: command\nscale: [kubectl, scale, shop]\n")
    assert "must contain {replicas}" in msg
    (loc, msg), *_ = errors("type: local\ncommand: [app]\nenv: {N: '{replicas}'}\n")
    assert loc == "local.env" and "N uses {replicas}" in msg


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("type: local\ncommand: []\n", "local.command", "must name a program"),
        ("type: local\ncommand: ['']\n", "local.command", "must name a program"),
        ("type: local\ncommand: [app]\nenv: {'1X': a}\n", "local.env", "not an environment variable name"),
        ("type: local\ncommand: [app]\nenv: {SCALEPILOT_OWNER: a}\n", "local.env", "set by scalepilot"),
        ("type: local\ncommand: [app]\nreplicas: -1\n", "local.replicas", "greater than or equal to 0"),
        ("type: local\ncommand: [app]\nrestart_backoff: {initial: 2m, max: 1m}\n", "local.restart_backoff", "max"),
        ("type: local\ncommand: [app]\nrestart_backoff: {multiplier: 0.5}\n", "local.restart_backoff.multiplier", ""),
        ("type: local\ncommand: [app]\nreadiness: {type: http, path: healthz}\n", "local.readiness.http.path", "/"),
        ("type: local\ncommand: [app]\nmetrics_path: metrics\n", "local.metrics_path", "start with /"),
        ("type: local\ncommand: [app]\nstop_timeout: 0s\n", "local.stop_timeout", "greater than 0s"),
        ("type: local\ncommand: [app]\nresources: {memory: lots}\n", "local.resources.memory", "size"),
        ("type: command\nscale: [k, '{replicas}']\nstatus: [k, '{replicas}']\n", "command.status", "no placeholders"),
        ("type: command\nscale: [k, '{replicas}']\ntimeout: soon\n", "command.timeout", "not a duration"),
    ],
)
def test_bad_values_are_rejected(text: str, where: str, fragment: str) -> None:
    errs = errors(text)
    assert any(loc == where and fragment in msg for loc, msg in errs), errs


def test_settings_are_frozen() -> None:
    s = parse(LOCAL_YAML)
    with pytest.raises(ValidationError):
        s.replicas = 3  # type: ignore[misc]
