"""``alerting:`` in scalepilot.yaml: Alertmanager's config accepted unchanged, and the
clear errors for what scalepilot rejects.

Covers:
- a typical alertmanager.yml (route tree, old and new matchers, inhibit rules, time
  intervals, webhook / slack / email receivers with *_file secrets, templates) loads;
- inline secrets are rejected naming the key and the *_file / *_env alternatives;
- unsupported receiver kinds are rejected suggesting forwarding;
- references are checked: receivers, time intervals, escalation receivers; the root
  route's rules; group_by '...' alone; duplicate names;
- alertmanager_configs must be alone in its receiver;
- every error names file:line:column and the key path.
"""

from __future__ import annotations

import pytest

from scalepilot.config.loader import ConfigError, load_text

AM = """
alerting:
  global:
    resolve_timeout: 5m
    smtp_smarthost: smtp.example.org:587
    smtp_from: alerts@example.org
    smtp_auth_username: alerts
    smtp_auth_password_file: /run/secrets/smtp
    slack_api_url_file: /run/secrets/slack
  templates: ['/etc/alertmanager/*.tmpl']
  route:
    receiver: team
    group_by: ['alertname', 'service']
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
    routes:
      - matchers: ['severity="critical"']
        receiver: pager
        continue: true
      - match: {team: db}
        match_re: {service: "pg.*"}
        receiver: dba
        mute_time_intervals: [offhours]
  inhibit_rules:
    - source_matchers: ['severity="critical"']
      target_matchers: ['severity="warning"']
      equal: ['service']
    - source_match: {severity: critical}
      target_match_re: {severity: "info|warning"}
      equal: ['alertname']
  time_intervals:
    - name: offhours
      time_intervals:
        - weekdays: ['saturday', 'sunday']
        - times: [{start_time: "18:00", end_time: "24:00"}]
          weekdays: ['monday:friday']
          location: Europe/Istanbul
  receivers:
    - name: team
      slack_configs:
        - channel: '#ops'
          title: '{{ .CommonLabels.alertname }}'
          send_resolved: true
    - name: pager
      webhook_configs:
        - url: http://127.0.0.1:5001/hook
          max_alerts: 10
          http_config:
            authorization: {credentials_file: /run/secrets/hook}
    - name: dba
      email_configs:
        - to: dba@example.org
          headers: {Subject: 'DB: {{ .Status }}'}
"""


def test_a_typical_alertmanager_config_loads() -> None:
    cfg = load_text(AM)
    assert cfg.alerting is not None
    a = cfg.alerting
    assert a.route.routes[0].continue_ and a.receiver("pager").webhook_configs[0].max_alerts == 10
    assert [n for n, _ in a.receiver("team").integrations()] == ["slack/0"]
    assert a.global_.smtp_from == "alerts@example.org"


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text)
    return [str(i) for i in info.value.issues]


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("smtp_auth_password_file: /run/secrets/smtp", "smtp_auth_password: hunter2", "smtp_auth_password_file"),
        ("slack_api_url_file: /run/secrets/slack", "slack_api_url: https://hooks.slack.com/x", "inline secrets"),
        ("authorization: {credentials_file: /run/secrets/hook}", "authorization: {credentials: abc}", "inline"),
        (
            "- name: dba\n      email_configs:",
            "- name: dba\n      pagerduty_configs: [{}]\n      email_configs:",
            "pagerduty_configs is not supported",
        ),
        ("receiver: dba", "receiver: nobody", "undefined receiver 'nobody'"),
        ("mute_time_intervals: [offhours]", "mute_time_intervals: [never]", "undefined time interval 'never'"),
        ("group_by: ['alertname', 'service']", "group_by: ['...', 'service']", "must be the only item"),
        ("- matchers: ['severity=\"critical\"']", "- matchers: ['severity=\"critical']", "unterminated"),
        ("weekdays: ['saturday', 'sunday']", "weekdays: ['caturday']", "not a valid weekday"),
        ("location: Europe/Istanbul", "location: Mars/Olympus", "unknown time zone"),
        ('{start_time: "18:00", end_time: "24:00"}', '{start_time: "18:00", end_time: "17:00"}', "before end_time"),
    ],
)
def test_rejections_name_the_place(old: str, new: str, fragment: str) -> None:
    assert old in AM
    errors = _errors(AM.replace(old, new, 1))
    assert any(fragment in e for e in errors), errors
    assert all(e.startswith("scalepilot.yaml:") for e in errors)


def test_inline_secret_error_is_precise() -> None:
    (err,) = _errors(AM.replace("smtp_auth_password_file: /run/secrets/smtp", "smtp_auth_password: hunter2"))
    assert err.startswith("scalepilot.yaml:4:") and "alerting.global" in err
    assert "smtp_auth_password_file" in err and "smtp_auth_password_env" in err and "hunter2" not in err


def test_forwarding_must_be_alone_and_escalations_are_checked() -> None:
    text = AM.replace(
        "    - name: dba\n",
        "    - name: am\n      alertmanager_configs: [{url: 'http://127.0.0.1:9093'}]\n"
        "      webhook_configs: [{url: 'http://x/'}]\n    - name: dba\n",
    )
    assert any("only channel" in e for e in _errors(text))
    esc = AM + "  escalations:\n    - receiver: team\n      steps: [{after: 15m, receiver: ghost}]\n"
    assert any("undefined receiver 'ghost'" in e for e in _errors(esc))
    esc = (
        AM
        + "  escalations:\n    - receiver: team\n"
        + "      steps: [{after: 15m, receiver: pager}, {after: 10m, receiver: dba}]\n"
    )
    assert any("longer than the one before" in e for e in _errors(esc))
    root = AM.replace("    receiver: team\n    group_by", "    receiver: team\n    matchers: [a=b]\n    group_by", 1)
    assert any("root route must not have matchers" in e for e in _errors(root))
