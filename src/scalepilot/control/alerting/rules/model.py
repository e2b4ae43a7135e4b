"""Rule groups after loading: what the evaluator runs.

A group is Prometheus's unit of evaluation: its rules run in order at one timestamp, so
a recording rule's output is visible to the rules after it at that same timestamp. The
timestamps are slotted as Prometheus slots them — ``k × interval + offset``, the offset
being the hash of the group's file and name modulo the interval — so a group keeps its
phase across restarts and many groups do not all run at the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalepilot.control.alerting.rules.template import AlertTemplate
from scalepilot.control.alerting.rules.xxhash import labels_hash


@dataclass(frozen=True, slots=True)
class AnomalyParams:
    """See :mod:`.anomaly` for what each parameter means."""

    seasonality: str
    k: float
    window_ms: int
    history_ms: int
    min_seasons: int
    direction: str
    min_deviation: float
    min_deviation_ratio: float


@dataclass(frozen=True, slots=True)
class RecordingRule:
    name: str
    expr: str
    labels: tuple[tuple[str, str], ...]
    index: int = 0

    @property
    def key(self) -> str:
        """Identity across reloads and restarts: name and labels (Prometheus's
        ``nameAndLabels``)."""
        return self.name + "{" + ",".join(f"{k}={v!r}" for k, v in sorted(self.labels)) + "}"


@dataclass(frozen=True, slots=True)
class AlertingRule:
    name: str
    expr: str
    for_ms: int
    keep_firing_for_ms: int
    labels: tuple[tuple[str, AlertTemplate], ...]
    annotations: tuple[tuple[str, AlertTemplate], ...]
    index: int = 0
    anomaly: AnomalyParams | None = None

    @property
    def raw_labels(self) -> tuple[tuple[str, str], ...]:
        return tuple((k, t.text) for k, t in self.labels)

    @property
    def key(self) -> str:
        return self.name + "{" + ",".join(f"{k}={v!r}" for k, v in sorted(self.raw_labels)) + "}"


Rule = RecordingRule | AlertingRule


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    file: str
    interval_ms: int
    rules: tuple[Rule, ...]
    limit: int = 0
    query_offset_ms: int = 0

    @property
    def key(self) -> str:
        """Prometheus's ``GroupKey``: ``file;name``."""
        return f"{self.file};{self.name}"

    @property
    def offset_ms(self) -> int:
        """This group's phase within its interval (Prometheus: ``hash % interval``, in
        nanoseconds; here rounded down to milliseconds)."""
        interval_ns = self.interval_ms * 1_000_000
        return (labels_hash([("name", self.name), ("file", self.file)]) % interval_ns) // 1_000_000

    def eval_timestamp(self, now_ms: int) -> int:
        """The slot at or before ``now_ms`` (Prometheus's ``EvalTimestamp``)."""
        offset = self.offset_ms
        adjusted = now_ms - offset
        return adjusted - adjusted % self.interval_ms + offset

    @property
    def alerting_rules(self) -> tuple[AlertingRule, ...]:
        return tuple(r for r in self.rules if isinstance(r, AlertingRule))
