"""Recording rules (``rules/recording.go``): a query's result, renamed and relabelled.

Each sample keeps its labels, takes ``__name__ = record`` and the rule's labels (not
templated; an empty value removes the label), and is written at the evaluation time.
Two samples ending with the same labels are an error, as is a result larger than the
group's ``limit``; either way nothing is written for that rule at that time.
"""

from __future__ import annotations

from collections.abc import Sequence

from scalepilot.control.alerting.rules.alerting import RuleEvalError, Sample
from scalepilot.control.alerting.rules.model import RecordingRule
from scalepilot.domain.labels import METRIC_NAME
from scalepilot.domain.query import InstantSample


def evaluate_recording(rule: RecordingRule, result: Sequence[InstantSample], limit: int = 0) -> list[Sample]:
    out: list[Sample] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    extra = dict(rule.labels)
    for sample in result:
        merged = dict(sample.labels)
        merged[METRIC_NAME] = rule.name
        merged.update(extra)
        labels = tuple(sorted((k, v) for k, v in merged.items() if v != ""))
        if labels in seen:
            raise RuleEvalError("vector contains metrics with the same labelset after applying rule labels")
        seen.add(labels)
        out.append((labels, sample.value))
    if limit > 0 and len(out) > limit:
        raise RuleEvalError(f"exceeded limit of {limit} with {len(out)} series")
    return out
