"""Channel rendering without a network: the webhook v4 payload, Slack, e-mail, the
template subset and secrets.

Covers:
- the v4 payload field for field (version, groupKey, truncatedAlerts, status, receiver,
  groupLabels, commonLabels, commonAnnotations, externalURL, alerts[] with status,
  labels, annotations, startsAt, endsAt — Go's zero time for firing —, generatorURL,
  fingerprint); max_alerts truncation; receiver names regex-quoted like Alertmanager;
- a webhook body_template replaces the JSON;
- Slack: title like Alertmanager's, colour by severity (critical, warning, other,
  resolved), templated fields, channel;
- e-mail: a text and an HTML part, subject, Message-Id from the notification id,
  HTML-escaped values, header templates; a missing sender or server is refused;
- templates: fields, range, if/else, with, pipelines and functions, trim markers,
  SortedPairs; unsupported constructs are refused with the action named;
- secrets from a file or the environment; errors name the file or variable only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scalepilot.adapters.notify import Message, MessageAlert, NotifierContext, NotifyError, TemplateError
from scalepilot.adapters.notify.email import EmailNotifier
from scalepilot.adapters.notify.errors import SecretUnavailable
from scalepilot.adapters.notify.message import rfc3339
from scalepilot.adapters.notify.secrets import read_secret
from scalepilot.adapters.notify.slack import SlackNotifier, severity_color
from scalepilot.adapters.notify.template import compile_template
from scalepilot.adapters.notify.webhook import WebhookNotifier, v4_payload
from scalepilot.config.alertmanager import EmailConfig, GlobalConfig, SlackConfig, WebhookConfig

T0_MS = 1_700_000_000_123
CTX = NotifierContext(GlobalConfig(), Path("/"), "scalepilot/test")


def _alert(instance: str, *, severity: str = "critical", firing: bool = True) -> MessageAlert:
    return MessageAlert(
        status="firing" if firing else "resolved",
        labels={"alertname": "HighLatency", "service": "shop", "severity": severity, "instance": instance},
        annotations={"summary": f"p95 high on {instance}", "runbook": "http://wiki/latency"},
        starts_at_ms=T0_MS,
        ends_at_ms=T0_MS + 240_000 if firing else T0_MS + 60_000,
        generator_url="http://sp:8420/graph?g0.expr=x",
        fingerprint=f"fp-{instance}",
    )


def _message(*alerts: MessageAlert, receiver: str = "team") -> Message:
    return Message(
        id="0123456789abcdef0123456789abcdef",
        receiver=receiver,
        integration="webhook/0",
        group_key='{}:{alertname="HighLatency"}',
        group_labels={"alertname": "HighLatency"},
        alerts=alerts,
        external_url="http://sp:8420",
        created_ms=T0_MS,
        reason="first",
    )


def test_v4_payload_field_for_field() -> None:
    msg = _message(_alert("a"), _alert("b", severity="warning", firing=False))
    p = v4_payload(msg)
    assert p == {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "team",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "service": "shop"},
        "commonAnnotations": {"runbook": "http://wiki/latency"},
        "externalURL": "http://sp:8420",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "service": "shop", "severity": "critical", "instance": "a"},
                "annotations": {"summary": "p95 high on a", "runbook": "http://wiki/latency"},
                "startsAt": "2023-11-14T22:13:20.123Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://sp:8420/graph?g0.expr=x",
                "fingerprint": "fp-a",
            },
            {
                "status": "resolved",
                "labels": {"alertname": "HighLatency", "service": "shop", "severity": "warning", "instance": "b"},
                "annotations": {"summary": "p95 high on b", "runbook": "http://wiki/latency"},
                "startsAt": "2023-11-14T22:13:20.123Z",
                "endsAt": "2023-11-14T22:14:20.123Z",
                "generatorURL": "http://sp:8420/graph?g0.expr=x",
                "fingerprint": "fp-b",
            },
        ],
    }
    cut = v4_payload(msg, max_alerts=1)
    assert cut["truncatedAlerts"] == 1 and len(cut["alerts"]) == 1
    assert cut["commonLabels"]["severity"] == "critical"
    assert v4_payload(_message(_alert("a"), receiver="team.pager"))["receiver"] == "team\\.pager"
    assert rfc3339(1_700_000_000_000) == "2023-11-14T22:13:20Z" and rfc3339(1_700_000_000_500).endswith(".5Z")


def test_webhook_body_template() -> None:
    cfg = WebhookConfig(url="http://x/", body_template='{"text": "{{ .Status }} {{ len .Alerts }}"}')
    body, ctype = WebhookNotifier(cfg, CTX).render(_message(_alert("a"), _alert("b")))
    assert body == b'{"text": "firing 2"}' and ctype == "application/json"


def test_slack_payload_and_colours() -> None:
    s = SlackNotifier(SlackConfig(api_url_env="SLACK_URL", channel="#ops"), CTX)
    p = s.payload(_message(_alert("a"), _alert("b", severity="warning")))
    (att,) = p["attachments"]
    assert p["channel"] == "#ops" and p["text"] == att["title"]
    assert att["title"] == "[FIRING:2] HighLatency (shop)"
    assert att["color"] == "danger" and att["title_link"] == "http://sp:8420"
    assert "p95 high on a" in att["text"] and "p95 high on b" in att["text"]
    assert severity_color(_message(_alert("a", severity="warning"))) == "warning"
    assert severity_color(_message(_alert("a", severity="info"))) == "#439FE0"
    assert severity_color(_message(_alert("a", firing=False))) == "good"
    custom = SlackNotifier(
        SlackConfig(
            api_url_env="X",
            title="{{ .CommonLabels.service | toUpper }}",
            text="{{ range .Alerts }}{{ .Labels.instance }} {{ end }}",
        ),
        CTX,
    )
    att = custom.payload(_message(_alert("a"), _alert("b")))["attachments"][0]
    assert att["title"] == "SHOP" and att["text"] == "a b "


def test_email_has_text_and_html_parts() -> None:
    cfg = EmailConfig.model_validate(
        {
            "to": "ops@example.org, dev@example.org",
            "from": "sp@example.org",
            "smarthost": "127.0.0.1:25",
            "headers": {"X-Team": "{{ .CommonLabels.service }}"},
        }
    )
    n = EmailNotifier(cfg, CTX)
    a = _alert("<b>")
    mail = n.build(_message(a))
    assert mail["Subject"] == "[FIRING:1] HighLatency (<b> shop critical)"  # values sorted by label name
    assert mail["Message-Id"] == "<0123456789abcdef0123456789abcdef@scalepilot>"
    assert mail["X-Team"] == "shop" and mail["To"] == "ops@example.org, dev@example.org"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "p95 high on <b>" in text.get_content()
    assert "p95 high on &lt;b&gt;" in html.get_content()
    with pytest.raises(NotifyError, match="no SMTP server"):
        EmailNotifier(EmailConfig.model_validate({"to": "a@b", "from": "c@d"}), CTX)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ .Status }}", "firing"),
        ("{{ .CommonLabels.missing }}|", "|"),
        ("{{ range .Alerts.Firing }}[{{ .Labels.instance }}]{{ end }}", "[a]"),
        ('{{ if eq .Status "firing" }}F{{ else }}R{{ end }}', "F"),
        ("{{ with .CommonLabels.service }}svc={{ . }}{{ end }}", "svc=shop"),
        ("{{ .Alerts.Firing | len }}/{{ len .Alerts }}", "1/2"),
        ("a  {{- .Status -}}  b", "afiringb"),
        ("{{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }}{{ end }}", "alertname=HighLatency"),
        ('{{ join ", " .CommonLabels.Names }}', "alertname, service, severity"),
        ("{{/* note */}}{{ $.ExternalURL }}", "http://sp:8420"),
        ('{{ if and (gt (len .Alerts) 1) (ne .Status "resolved") }}many{{ end }}', "many"),
    ],
)
def test_template_subset(source: str, expected: str) -> None:
    data = _message(_alert("a"), _alert("b", firing=False)).template_data()
    assert compile_template(source).render(data) == expected


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('{{ template "slack.default.title" . }}', "not supported"),
        ("{{ $x := .Status }}", "not supported"),
        ("{{ range .Alerts }}", "without {{end}}"),
        ("{{ end }}", "without a range"),
        ('{{ reReplaceAll "a" "b" .Status }}', "unsupported function"),
    ],
)
def test_unsupported_templates_are_refused(source: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=fragment):
        compile_template(source)


def test_secrets_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    assert read_secret(Path("token"), None, tmp_path, "x") == "s3cret"
    monkeypatch.setenv("SP_TEST_TOKEN", "t0ken")
    assert read_secret(None, "SP_TEST_TOKEN", tmp_path, "x") == "t0ken"
    with pytest.raises(SecretUnavailable, match="SP_TEST_MISSING is not set") as info:
        read_secret(None, "SP_TEST_MISSING", tmp_path, "x")
    assert info.value.transient
    with pytest.raises(SecretUnavailable, match="nope"):
        read_secret(Path("nope"), None, tmp_path, "x")
