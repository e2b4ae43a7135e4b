"""Forwarding to a real Alertmanager: ``POST /api/v2/alerts``, as Prometheus does.

Alertmanager decides an alert is resolved when its ``endsAt`` passes. So a firing alert
is posted with the rule engine's ``endsAt`` (a few minutes ahead) and posted again
before then (the router re-sends every ``resend_interval``); a resolved one is posted
with its ``endsAt`` in the past, and Alertmanager resolves it at once. Grouping,
silences and receivers are then Alertmanager's business.
"""

from __future__ import annotations

import json
from typing import Any

from scalepilot.adapters.notify.base import NotifierContext
from scalepilot.adapters.notify.http import auth_headers, make_client, post
from scalepilot.adapters.notify.message import Message, rfc3339
from scalepilot.config.alertmanager import AlertmanagerForwardConfig

Settings = AlertmanagerForwardConfig


def postable_alerts(message: Message) -> list[dict[str, Any]]:
    out = []
    for a in message.alerts:
        item: dict[str, Any] = {
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": rfc3339(a.starts_at_ms),
            "generatorURL": a.generator_url,
        }
        if a.ends_at_ms is not None:
            item["endsAt"] = rfc3339(a.ends_at_ms)
        out.append(item)
    return out


class AlertmanagerNotifier:
    def __init__(self, settings: AlertmanagerForwardConfig, ctx: NotifierContext, name: str = "alertmanager") -> None:
        self.settings = settings
        self._ctx = ctx
        self._name = name
        self._url = settings.url.rstrip("/") + "/api/v2/alerts"
        self._client = make_client(settings.http_config, ctx.base_dir, settings.timeout)

    async def send(self, message: Message) -> None:
        if not message.alerts:
            return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._ctx.user_agent,
            **auth_headers(self.settings.http_config, self._ctx.base_dir),
        }
        body = json.dumps(postable_alerts(message)).encode()
        await post(self._client, self._url, content=body, headers=headers, what=self._name)

    async def aclose(self) -> None:
        await self._client.aclose()
