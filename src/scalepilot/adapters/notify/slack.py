"""The Slack-compatible channel: an incoming webhook (Slack, Mattermost, Rocket.Chat).

The body is Slack's ``text`` plus one attachment, as Alertmanager's Slack notifier sends
it: title (``[FIRING:2] …``), title link, pretext, text, footer, fallback and a colour.
The colour follows severity unless ``color`` is set: red (``danger``) for a critical,
orange (``warning``) for a warning, blue otherwise, green (``good``) once resolved — the
colour is what people read first in a busy channel.
"""

from __future__ import annotations

import json
from typing import Any

from scalepilot.adapters.notify.base import NotifierContext
from scalepilot.adapters.notify.errors import SecretUnavailable
from scalepilot.adapters.notify.http import auth_headers, make_client, post
from scalepilot.adapters.notify.message import Message, default_subject
from scalepilot.adapters.notify.secrets import read_secret
from scalepilot.adapters.notify.template import Template, compile_template
from scalepilot.config.alertmanager import SlackConfig

Settings = SlackConfig

_SEVERITY_COLORS = (("critical", "danger"), ("error", "danger"), ("warning", "warning"))
INFO_COLOR = "#439FE0"


def severity_color(message: Message) -> str:
    if message.status == "resolved":
        return "good"
    severities = {a.labels.get("severity", "") for a in message.firing}
    for severity, color in _SEVERITY_COLORS:
        if severity in severities:
            return color
    return INFO_COLOR


def default_text(message: Message) -> str:
    lines = []
    for a in message.alerts:
        summary = a.annotations.get("summary") or a.annotations.get("description") or a.labels.get("alertname", "")
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname")
        mark = "✅" if not a.firing else "🔥"
        lines.append(f"{mark} *{a.labels.get('alertname', '')}* {summary} ({labels})")
    return "\n".join(lines)


class SlackNotifier:
    _FIELDS = ("title", "title_link", "pretext", "text", "footer", "fallback", "color")

    def __init__(self, settings: SlackConfig, ctx: NotifierContext, name: str = "slack") -> None:
        self.settings = settings
        self._ctx = ctx
        self._name = name
        self._templates: dict[str, Template] = {
            f: compile_template(v) for f in self._FIELDS if (v := getattr(settings, f)) is not None
        }
        for f in ("channel", "username"):
            v = getattr(settings, f)
            if v is not None:
                self._templates[f] = compile_template(v)
        self._client = make_client(
            settings.http_config or ctx.global_config.http_config, ctx.base_dir, settings.timeout
        )

    def _url(self) -> str:
        s, g = self.settings, self._ctx.global_config
        url = read_secret(s.api_url_file, s.api_url_env, self._ctx.base_dir, f"{self._name} api_url")
        if url is None:
            url = read_secret(g.slack_api_url_file, g.slack_api_url_env, self._ctx.base_dir, "global.slack_api_url")
        if not url:
            raise SecretUnavailable(f"{self._name}: no api_url_file, api_url_env or global slack_api_url_file")
        return url

    def payload(self, message: Message) -> dict[str, Any]:
        data = message.template_data()

        def field(name: str, default: str) -> str:
            t = self._templates.get(name)
            return t.render(data) if t is not None else default

        title = field("title", default_subject(message))
        attachment = {
            "title": title,
            "title_link": field("title_link", message.external_url),
            "pretext": field("pretext", ""),
            "text": field("text", default_text(message)),
            "fallback": field("fallback", title),
            "footer": field("footer", ""),
            "color": field("color", severity_color(message)),
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
        body: dict[str, Any] = {"text": title, "attachments": [{k: v for k, v in attachment.items() if v != ""}]}
        for key in ("channel", "username"):
            value = field(key, "")
            if value:
                body[key] = value
        if self.settings.icon_emoji:
            body["icon_emoji"] = self.settings.icon_emoji
        if self.settings.icon_url:
            body["icon_url"] = self.settings.icon_url
        return body

    async def send(self, message: Message) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._ctx.user_agent,
            **auth_headers(self.settings.http_config, self._ctx.base_dir),
        }
        content = json.dumps(self.payload(message), ensure_ascii=False).encode()
        await post(self._client, self._url(), content=content, headers=headers, what=self._name)

    async def aclose(self) -> None:
        await self._client.aclose()
