"""Errors of the notify boundary.

::

    ScalepilotError
    └── NotifyError                 a notification could not be delivered
        ├── ReceiverUnavailable     refused, reset, timed out, 5xx, 429, SMTP 4xx (transient)
        ├── ReceiverRejected        4xx, SMTP 5xx, TLS verification failed     (permanent)
        ├── SecretUnavailable       a *_file unreadable or a *_env unset          (transient)
        └── TemplateError           a template the channel cannot render          (permanent)

*Transient* errors are retried by the delivery worker with backoff; *permanent* ones
dead-letter the notification at once (sending the same request again gets the same
answer) and are recorded as an event. A missing secret is transient: someone may mount
the file in a minute, and the notification should still go out then.

Messages never carry secrets (a webhook URL may hold a token, so URLs are not quoted
either) and quote at most :data:`EXCERPT_CHARS` characters of a receiver's answer.
"""

from __future__ import annotations

from scalepilot.domain.errors import ScalepilotError

EXCERPT_CHARS = 200


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NotifyError(ScalepilotError):
    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        if transient is not None:
            self.transient = transient


class ReceiverUnavailable(NotifyError):
    transient = True


class ReceiverRejected(NotifyError):
    transient = False


class SecretUnavailable(NotifyError):
    transient = True


class TemplateError(NotifyError):
    transient = False
