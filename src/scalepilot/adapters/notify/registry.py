"""Which module builds the notifier of each receiver key: adding a channel is adding its
module and one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scalepilot.adapters.notify import alertmanager, email, slack, webhook
from scalepilot.adapters.notify.base import Notifier, NotifierContext

BUILDERS: dict[str, Callable[[Any, NotifierContext, str], Notifier]] = {
    "webhook": webhook.WebhookNotifier,
    "slack": slack.SlackNotifier,
    "email": email.EmailNotifier,
    "alertmanager": alertmanager.AlertmanagerNotifier,
}


def build_notifier(integration: str, settings: Any, ctx: NotifierContext, receiver: str) -> Notifier:
    """The notifier of ``receiver``'s ``integration`` (``webhook/0``); compiles its
    templates, so a bad one is refused now (TemplateError / NotifyError)."""
    kind = integration.split("/", 1)[0]
    return BUILDERS[kind](settings, ctx, f"{receiver}/{integration}")
