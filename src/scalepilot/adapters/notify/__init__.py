"""Notification channels: one module per channel (webhook, slack, email, alertmanager),
each with a settings model (in :mod:`scalepilot.config.alertmanager`, where the config
loader can validate it) and a notifier whose ``send`` raises :class:`NotifyError` marked
transient or permanent. :mod:`.registry` maps a receiver's ``*_configs`` key to its
module."""

from scalepilot.adapters.notify.base import Notifier, NotifierContext
from scalepilot.adapters.notify.errors import (
    NotifyError,
    ReceiverRejected,
    ReceiverUnavailable,
    SecretUnavailable,
    TemplateError,
)
from scalepilot.adapters.notify.message import Message, MessageAlert
from scalepilot.adapters.notify.registry import build_notifier

__all__ = [
    "Message",
    "MessageAlert",
    "Notifier",
    "NotifierContext",
    "NotifyError",
    "ReceiverRejected",
    "ReceiverUnavailable",
    "SecretUnavailable",
    "TemplateError",
    "build_notifier",
]
