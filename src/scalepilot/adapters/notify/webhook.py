"""The webhook channel: Alertmanager's version-4 JSON, field for field.

::

    {"receiver", "status", "alerts": [{"status", "labels", "annotations", "startsAt",
      "endsAt", "generatorURL", "fingerprint"}], "groupLabels", "commonLabels",
     "commonAnnotations", "externalURL", "version": "4", "groupKey", "truncatedAlerts"}

As in Alertmanager: alerts beyond ``max_alerts`` are cut and counted in
``truncatedAlerts`` (and the common labels are those of the alerts sent); a firing
alert's ``endsAt`` is Go's zero time; ``receiver`` is regex-quoted. scalepilot adds the
headers ``X-Scalepilot-Notification-Id`` and ``Idempotency-Key`` (the same stable id on
every retry, so a receiver can drop a repeat) and, with ``body_template``, a body of the
user's own shape instead of the JSON.
"""

from __future__ import annotations

import json
from typing import Any

from scalepilot.adapters.notify.base import NotifierContext
from scalepilot.adapters.notify.errors import SecretUnavailable
from scalepilot.adapters.notify.http import auth_headers, make_client, post
from scalepilot.adapters.notify.message import Message, go_quote_meta, rfc3339
from scalepilot.adapters.notify.secrets import read_secret
from scalepilot.adapters.notify.template import Template, compile_template
from scalepilot.config.alertmanager import WebhookConfig

Settings = WebhookConfig
ID_HEADER = "X-Scalepilot-Notification-Id"


def v4_payload(message: Message, max_alerts: int = 0) -> dict[str, Any]:
    msg, truncated = message.truncated(max_alerts)
    return {
        "receiver": go_quote_meta(msg.receiver),
        "status": msg.status,
        "alerts": [
            {
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at_ms),
                "endsAt": rfc3339(None if a.firing else a.ends_at_ms),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in msg.alerts
        ],
        "groupLabels": msg.group_labels,
        "commonLabels": msg.common_labels,
        "commonAnnotations": msg.common_annotations,
        "externalURL": msg.external_url,
        "version": "4",
        "groupKey": msg.group_key,
        "truncatedAlerts": truncated,
    }


class WebhookNotifier:
    def __init__(self, settings: WebhookConfig, ctx: NotifierContext, name: str = "webhook") -> None:
        self.settings = settings
        self._ctx = ctx
        self._name = name
        self._body: Template | None = (
            compile_template(settings.body_template) if settings.body_template is not None else None
        )
        self._client = make_client(settings.http_config, ctx.base_dir, settings.timeout)

    def _url(self) -> str:
        s = self.settings
        if s.url is not None:
            return s.url
        url = read_secret(s.url_file, s.url_env, self._ctx.base_dir, f"{self._name} url")
        if not url:
            raise SecretUnavailable(f"{self._name}: the URL is empty")
        return url

    def render(self, message: Message) -> tuple[bytes, str]:
        if self._body is not None:
            msg, _ = message.truncated(self.settings.max_alerts)
            return self._body.render(msg.template_data()).encode(), self.settings.content_type
        body = json.dumps(v4_payload(message, self.settings.max_alerts), separators=(",", ":"))
        return body.encode(), "application/json"

    async def send(self, message: Message) -> None:
        content, content_type = self.render(message)
        headers = {
            **self.settings.headers,
            "Content-Type": content_type,
            "User-Agent": self._ctx.user_agent,
            ID_HEADER: message.id,
            "Idempotency-Key": message.id,
            **auth_headers(self.settings.http_config, self._ctx.base_dir),
        }
        await post(self._client, self._url(), content=content, headers=headers, what=self._name)

    async def aclose(self) -> None:
        await self._client.aclose()
