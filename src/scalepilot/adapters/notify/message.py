"""The notification a channel sends, as stored in the outbox: Alertmanager's template
``Data`` (what its webhook's version-4 payload is made of) plus scalepilot's id.

It is plain JSON-able data on purpose: the outbox keeps it across restarts, and each
channel renders its own format from it at send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero ``time.Time``: Alertmanager's ``endsAt`` of a firing alert."""


def rfc3339(ms: int | None) -> str:
    """Go's ``time.Time`` JSON form in UTC: fractional seconds without trailing zeros."""
    if ms is None:
        return ZERO_TIME
    when = datetime.fromtimestamp(ms / 1000, tz=UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    if frac:
        text += f".{frac:03d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True, slots=True)
class MessageAlert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at_ms: int
    ends_at_ms: int | None
    """For a firing alert, the time it expires unless re-sent (used when forwarding)."""
    generator_url: str
    fingerprint: str

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at_ms,
            "endsAt": self.ends_at_ms,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MessageAlert:
        return cls(
            d["status"],
            dict(d["labels"]),
            dict(d["annotations"]),
            int(d["startsAt"]),
            None if d["endsAt"] is None else int(d["endsAt"]),
            d["generatorURL"],
            d["fingerprint"],
        )


def _common(items: list[dict[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    first = items[0]
    return {k: v for k, v in sorted(first.items()) if all(i.get(k) == v for i in items[1:])}


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    receiver: str
    integration: str
    group_key: str
    group_labels: dict[str, str]
    alerts: tuple[MessageAlert, ...]
    external_url: str
    created_ms: int
    reason: str

    @property
    def status(self) -> str:
        return "firing" if any(a.firing for a in self.alerts) else "resolved"

    @property
    def firing(self) -> list[MessageAlert]:
        return [a for a in self.alerts if a.firing]

    @property
    def resolved(self) -> list[MessageAlert]:
        return [a for a in self.alerts if not a.firing]

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def truncated(self, max_alerts: int) -> tuple[Message, int]:
        """At most ``max_alerts`` alerts (0: all) and how many were left out."""
        if max_alerts <= 0 or len(self.alerts) <= max_alerts:
            return self, 0
        kept = Message(
            self.id,
            self.receiver,
            self.integration,
            self.group_key,
            self.group_labels,
            self.alerts[:max_alerts],
            self.external_url,
            self.created_ms,
            self.reason,
        )
        return kept, len(self.alerts) - max_alerts

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "receiver": self.receiver,
            "integration": self.integration,
            "groupKey": self.group_key,
            "groupLabels": self.group_labels,
            "alerts": [a.to_dict() for a in self.alerts],
            "externalURL": self.external_url,
            "createdAt": self.created_ms,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        return cls(
            d["id"],
            d["receiver"],
            d["integration"],
            d["groupKey"],
            dict(d["groupLabels"]),
            tuple(MessageAlert.from_dict(a) for a in d["alerts"]),
            d["externalURL"],
            int(d["createdAt"]),
            d["reason"],
        )

    def template_data(self) -> dict[str, Any]:
        """Alertmanager's template ``Data``, with Go's field names, for templates."""
        alerts = [
            {
                "Status": a.status,
                "Labels": a.labels,
                "Annotations": a.annotations,
                "StartsAt": rfc3339(a.starts_at_ms),
                "EndsAt": rfc3339(None if a.firing else a.ends_at_ms),
                "GeneratorURL": a.generator_url,
                "Fingerprint": a.fingerprint,
            }
            for a in self.alerts
        ]
        return {
            "Receiver": go_quote_meta(self.receiver),
            "Status": self.status,
            "Alerts": AlertList(alerts),
            "GroupLabels": self.group_labels,
            "CommonLabels": self.common_labels,
            "CommonAnnotations": self.common_annotations,
            "ExternalURL": self.external_url,
            "GroupKey": self.group_key,
        }


class AlertList(list[dict[str, Any]]):
    """``.Alerts`` with Alertmanager's ``.Firing`` and ``.Resolved``."""

    @property
    def Firing(self) -> list[dict[str, Any]]:
        return [a for a in self if a["Status"] == "firing"]

    @property
    def Resolved(self) -> list[dict[str, Any]]:
        return [a for a in self if a["Status"] == "resolved"]


_META = set("\\.+*?()|[]{}^$")


def go_quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta``: Alertmanager's ``receiver`` field is escaped with it."""
    return "".join("\\" + c if c in _META else c for c in text)


def default_subject(msg: Message) -> str:
    """Alertmanager's default title: ``[FIRING:2] HighLatency shop (critical)``."""
    status = msg.status.upper()
    head = f"[{status}:{len(msg.firing)}]" if msg.status == "firing" else f"[{status}]"
    group_values = " ".join(v for _, v in sorted(msg.group_labels.items()))
    extra = {k: v for k, v in msg.common_labels.items() if k not in msg.group_labels}
    tail = f" ({' '.join(v for _, v in sorted(extra.items()))})" if extra else ""
    return f"{head} {group_values}{tail}".rstrip()
