"""Config loading and its error messages.

Covers: a full valid file with defaults filled in; durations in Prometheus notation and
seconds; every error reported at once with file:line:column and key path; unknown keys
with a suggestion; missing keys pointed at their mapping; duplicate keys; YAML syntax
errors; union (probe type) errors; cross-field rules (timeout <= interval, unique names);
the JSON Schema; the bundled example config is valid.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scalepilot.config.durations import format_duration, parse_duration
from scalepilot.config.loader import ConfigError, json_schema, load, load_text
from scalepilot.config.models import HTTPProbe, TCPProbe

ROOT = Path(__file__).resolve().parents[2]


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_text(text, "scalepilot.yaml")
    return [str(i) for i in exc.value.issues]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15),
        ("5m", 300),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("2d", 172800),
        ("1w", 604800),
        ("1h1m1s1ms", 3661.001),
        ("0", 0),
        ("90", 90),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1.5m", "m", "5x", "1m1h", "-5s", "5 s", "1_000s"])
def test_bad_durations_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for s in (0.25, 15, 90, 5400, 86400 + 1):
        assert parse_duration(format_duration(s)) == pytest.approx(s)


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = load_text("services: []\n")
    assert cfg.server.address == "127.0.0.1:8420"
    assert cfg.scrape.interval == 15 and cfg.scrape.timeout == 10
    assert cfg.storage.retention.raw == 15 * 86400
    assert cfg.storage.flush_interval == 1


def test_empty_file_is_a_valid_config() -> None:
    assert load_text("").services == []


def test_full_service_parses_with_overrides() -> None:
    cfg = load_text(
        """
services:
  - name: shop
    labels: {team: a}
    scrape:
      interval: 1h30m
      timeout: 20s
      endpoints:
        - url: http://127.0.0.1:8431/metrics
          labels: {zone: z1}
    probes:
      - {type: http, name: h, url: "http://127.0.0.1:8431/healthz", expect_status: [200, 204], body_regex: "ok"}
      - {type: tcp, name: t, address: "127.0.0.1:5432"}
    processes:
      - pid: 123
      - cmdline: "python.*shop"
"""
    )
    svc = cfg.services[0]
    assert svc.scrape.interval == 5400
    assert svc.scrape.endpoints[0].labels == {"zone": "z1"}
    assert isinstance(svc.probes[0], HTTPProbe) and svc.probes[0].expect_status == [200, 204]
    assert isinstance(svc.probes[1], TCPProbe)


def test_error_names_file_line_column_and_key_path() -> None:
    text = """services:
  - name: shop
    scrape:
      interval: 0s
"""
    assert issues(text) == ["scalepilot.yaml:4:17 services[0].scrape.interval: must be greater than 0s"]


def test_every_error_is_reported_in_one_run() -> None:
    text = """server:
  address: localhost
storage:
  data_dri: x
services:
  - name: Shop
    scrape:
      timeout: abc
      endpoints:
        - url: ftp://x
"""
    assert issues(text) == [
        "scalepilot.yaml:2:12 server.address: must be host:port, e.g. 127.0.0.1:8420",
        "scalepilot.yaml:4:3 storage.data_dri: unknown key; did you mean 'data_dir'? (allowed: data_dir, "
        "flush_interval, head_window, maintenance_interval, retention)",
        "scalepilot.yaml:6:11 services[0].name: must be lower-case letters, digits, - and _, e.g. checkout-api",
        "scalepilot.yaml:8:16 services[0].scrape.timeout: not a duration: 'abc' (use e.g. 500ms, 15s, 5m, 1h30m, 7d)",
        "scalepilot.yaml:10:16 services[0].scrape.endpoints[0].url: must be an http:// or https:// URL with a host",
    ]


def test_missing_key_points_at_its_mapping() -> None:
    text = """services:
  - name: db
    probes:
      - type: tcp
        name: pg
"""
    assert issues(text) == ["scalepilot.yaml:4:9 services[0].probes[0].address: required key is missing"]


def test_unknown_probe_type_is_named() -> None:
    text = "services:\n  - name: a\n    probes:\n      - {type: smtp, name: x}\n"
    (msg,) = issues(text)
    assert msg.startswith("scalepilot.yaml:4:9 services[0].probes[0]: unknown type 'smtp'")
    assert "'http', 'tcp'" in msg


def test_duplicate_keys_are_errors() -> None:
    text = "scrape:\n  interval: 15s\n  interval: 10s\n"
    assert issues(text) == ["scalepilot.yaml:3:3 scrape.interval: duplicate key (first defined at line 2)"]


def test_yaml_syntax_error_has_position() -> None:
    (msg,) = issues("services:\n  - name: [a\n")
    assert msg.startswith("scalepilot.yaml:3:1 invalid YAML")


def test_reserved_and_invalid_labels() -> None:
    msgs = issues("services:\n  - name: a\n    labels: {job: x}\n  - name: b\n    labels: {'1x': y}\n")
    assert msgs[0] == "scalepilot.yaml:3:13 services[0].labels: label 'job' is set by scalepilot"
    assert msgs[1].startswith("scalepilot.yaml:5:13 services[1].labels: invalid label name '1x'")


def test_cross_field_rules() -> None:
    assert issues("scrape: {interval: 5s, timeout: 10s}\n") == [
        "scalepilot.yaml:1:9 scrape: timeout must not exceed interval"
    ]
    assert issues("services:\n  - name: a\n  - name: a\n") == [
        "scalepilot.yaml:2:3 services: service name 'a' is used twice (items 0 and 1)"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_loaded_config_resolves_data_dir_against_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "scalepilot.yaml"
    path.parent.mkdir()
    path.write_text("storage: {data_dir: data}\n")
    assert load(path).data_dir() == path.parent.resolve() / "data"


def test_json_schema_describes_fields() -> None:
    schema = json_schema()
    assert schema["title"] == "scalepilot.yaml"
    assert "services" in schema["properties"]
    storage = schema["$defs"]["StorageSettings"]["properties"]
    assert "crash loses at most" in storage["flush_interval"]["description"]
    assert schema["$defs"]["Service"]["additionalProperties"] is False


def test_bundled_example_is_valid() -> None:
    loaded = load(ROOT / "examples" / "scalepilot.yaml")
    assert [s.name for s in loaded.config.services] == ["shop", "scalepilot"]
