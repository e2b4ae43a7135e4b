"""Acknowledgements: "someone is on it" — stop repeating and escalating this alert.

An acknowledgement belongs to one alert (its fingerprint) and lasts until the alert
resolves or until the time given, whichever comes first. While every firing alert of a
group is acknowledged the group is not repeated and does not escalate; a new alert
joining the group is notified as usual, since nobody has acknowledged *it*.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FORGET_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Ack:
    fingerprint: str
    alertname: str
    by: str
    comment: str
    at: float
    until: float | None

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "by": self.by,
            "comment": self.comment,
            "at": self.at,
            "until": self.until,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ack:
        until = d.get("until")
        return cls(d["fingerprint"], d.get("alertname", ""), d["by"], d["comment"], float(d["at"]), until)


class Acks:
    def __init__(self, items: Iterable[Ack] = ()) -> None:
        self._items: dict[str, Ack] = {a.fingerprint: a for a in items}

    def add(self, ack: Ack) -> None:
        self._items[ack.fingerprint] = ack

    def get(self, fingerprint: str, now: float) -> Ack | None:
        ack = self._items.get(fingerprint)
        return ack if ack is not None and ack.active(now) else None

    def is_acked(self, fingerprint: str, now: float) -> bool:
        return self.get(fingerprint, now) is not None

    def all(self) -> list[Ack]:
        return sorted(self._items.values(), key=lambda a: a.at)

    def update(self, resolved: set[str], now: float) -> bool:
        """Forget acknowledgements of alerts that resolved, those past ``until``, and
        those of alerts unheard of for :data:`FORGET_S` (after a restart, alerts that
        still fire come back within a minute; an ack is kept for them meanwhile)."""
        stale = [
            fp
            for fp, a in self._items.items()
            if fp in resolved or not a.active(now) or (a.until is None and now - a.at > FORGET_S)
        ]
        for fp in stale:
            del self._items[fp]
        return bool(stale)
