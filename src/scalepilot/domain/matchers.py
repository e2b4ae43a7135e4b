"""Label matchers with Prometheus semantics.

Regular expressions are fully anchored (``=~"a.*"`` must match the whole value) and a
missing label matches as the empty string, so ``{env=""}`` selects series without
``env``; both are what PromQL users expect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from scalepilot.domain.labels import METRIC_NAME, Labels, get_label


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                compiled = re.compile(f"(?:{self.value})\\Z", re.DOTALL)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from exc
            object.__setattr__(self, "_regex", compiled)

    def matches_value(self, value: str) -> bool:
        if self.op is MatchOp.EQ:
            return value == self.value
        if self.op is MatchOp.NE:
            return value != self.value
        assert self._regex is not None
        hit = self._regex.match(value) is not None
        return hit if self.op is MatchOp.RE else not hit

    def matches(self, labels: Labels) -> bool:
        return self.matches_value(get_label(labels, self.name))

    def matches_empty(self) -> bool:
        """Whether a series *without* this label is selected."""
        return self.matches_value("")

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{self.value}"'


def name_matcher(name: str) -> Matcher:
    return Matcher(METRIC_NAME, MatchOp.EQ, name)


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels) for m in matchers)
