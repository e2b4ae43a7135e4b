"""Metric families and the series names each one owns.

A family ``foo`` of type histogram owns the sample names ``foo_bucket``, ``foo_sum`` and
``foo_count`` (plus ``foo_created`` in OpenMetrics) and reserves its own name. Keeping
one map from sample name to (family, role) makes the per-sample lookup a single dict
get, and makes clashes (a gauge called ``foo_count`` beside a summary ``foo``) an error
at the line that causes them instead of silently mixing two families' samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser.model import MetricFamily, Sample
from scalepilot.adapters.scrape.parser.syntax import quote

# What a sample is within its family; small ints so the hot loops compare cheaply.
ROLE_PLAIN = 0
ROLE_BUCKET = 1
ROLE_COUNT = 2
ROLE_SUM = 3
ROLE_QUANTILE = 4
ROLE_CREATED = 5
ROLE_TOTAL = 6
ROLE_GCOUNT = 7
ROLE_GSUM = 8
ROLE_INFO = 9
ROLE_STATE = 10

SeriesTable = Mapping[str, tuple[tuple[str, int], ...]]
"""Per family type: (suffix, role) for every sample name the type allows."""

TEXT_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "untyped": "unknown",
}

TEXT_SERIES: SeriesTable = {
    "counter": (("", ROLE_PLAIN),),
    "gauge": (("", ROLE_PLAIN),),
    "unknown": (("", ROLE_PLAIN),),
    "histogram": (("_bucket", ROLE_BUCKET), ("_sum", ROLE_SUM), ("_count", ROLE_COUNT)),
    "summary": (("", ROLE_QUANTILE), ("_sum", ROLE_SUM), ("_count", ROLE_COUNT)),
}

OPENMETRICS_SERIES: SeriesTable = {
    "counter": (("_total", ROLE_TOTAL), ("_created", ROLE_CREATED)),
    "gauge": (("", ROLE_PLAIN),),
    "unknown": (("", ROLE_PLAIN),),
    "histogram": (
        ("_bucket", ROLE_BUCKET),
        ("_count", ROLE_COUNT),
        ("_sum", ROLE_SUM),
        ("_created", ROLE_CREATED),
    ),
    "gaugehistogram": (("_bucket", ROLE_BUCKET), ("_gcount", ROLE_GCOUNT), ("_gsum", ROLE_GSUM)),
    "summary": (
        ("", ROLE_QUANTILE),
        ("_count", ROLE_COUNT),
        ("_sum", ROLE_SUM),
        ("_created", ROLE_CREATED),
    ),
    "info": (("_info", ROLE_INFO),),
    "stateset": (("", ROLE_STATE),),
}

Owner = tuple[MetricFamily, int, Callable[[Sample], None]]
"""A sample name's family, its role there, and the family's ``samples.append``."""


class FamilyTable:
    """The families of one page in order of appearance, and who owns which name."""

    __slots__ = ("_series", "by_name", "claimed", "families", "owner", "position")

    def __init__(self, series: SeriesTable) -> None:
        self._series = series
        self.families: list[MetricFamily] = []
        self.by_name: dict[str, MetricFamily] = {}
        self.position: dict[str, int] = {}
        """Family name -> its index in ``families``."""
        self.owner: dict[str, Owner] = {}
        """Sample name -> its family; the hot loops' lookup."""
        self.claimed: dict[str, MetricFamily] = {}
        """Every name a family owns or reserves (its sample names and its own name)."""

    def create(self, name: str, type_: str, line: int) -> MetricFamily:
        family = MetricFamily(name, type_, None, None, [])
        self._claim(family, line)
        self.position[name] = len(self.families)
        self.families.append(family)
        self.by_name[name] = family
        return family

    def retype(self, family: MetricFamily, type_: str, line: int) -> None:
        """Give a family (still without samples) its declared type."""
        for name in self._names(family.name, family.type):
            del self.claimed[name]
            self.owner.pop(name, None)
        old = family.type
        family.type = type_
        try:
            self._claim(family, line)
        except ParseError:
            family.type = old
            raise

    def expected_names(self, family: MetricFamily) -> str:
        """``"a_bucket", "a_sum" or "a_count"``: the sample names the family allows."""
        names = [quote(family.name + suffix) for suffix, _ in self._series[family.type]]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

    def _names(self, name: str, type_: str) -> list[str]:
        names = [name + suffix for suffix, _ in self._series[type_]]
        if name not in names:
            names.append(name)
        return names

    def _claim(self, family: MetricFamily, line: int) -> None:
        names = self._names(family.name, family.type)
        for name in names:
            other = self.claimed.get(name)
            if other is not None and other is not family:
                raise ParseError(
                    line,
                    f"{family.type} {quote(family.name)} clashes with {other.type} "
                    f"{quote(other.name)}: both would own the series name {quote(name)}",
                )
        append = family.samples.append
        for name in names:
            self.claimed[name] = family
        for suffix, role in self._series[family.type]:
            self.owner[family.name + suffix] = (family, role, append)
