"""Inhibition: a firing *source* alert mutes *target* alerts that share its ``equal`` labels.

Alertmanager's semantics: only firing sources inhibit; a label missing on both sides
counts as equal (both empty); and when an alert matches both the source and the target
side of a rule, only sources that do *not* also match the target side can mute it, so a
rule such as "critical mutes warning" never lets an alert mute itself or its peers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scalepilot.config.alertmanager import InhibitRuleConfig
from scalepilot.domain.alerts import Alert
from scalepilot.domain.labels import Labels, get_label
from scalepilot.domain.matchers import Matcher


@dataclass(frozen=True, slots=True)
class InhibitRule:
    sources: tuple[Matcher, ...]
    targets: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(tuple(cfg.sources()), tuple(cfg.targets()), tuple(cfg.equal))


def _all(matchers: tuple[Matcher, ...], labels: Labels) -> bool:
    return all(m.matches(labels) for m in matchers)


def inhibitors(rules: Sequence[InhibitRule], labels: Labels, firing: Sequence[Alert]) -> list[str]:
    """Fingerprints of the firing alerts that inhibit an alert with ``labels``."""
    found: list[str] = []
    for rule in rules:
        if not _all(rule.targets, labels):
            continue
        two_sided = _all(rule.sources, labels)
        for src in firing:
            if not _all(rule.sources, src.labels):
                continue
            if any(get_label(src.labels, n) != get_label(labels, n) for n in rule.equal):
                continue
            if two_sided and _all(rule.targets, src.labels):
                continue
            found.append(src.fingerprint)
    return found
