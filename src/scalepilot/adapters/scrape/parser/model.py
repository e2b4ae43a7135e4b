"""What a parsed metrics page is made of.

The shapes stay close to the wire: a sample keeps the series name exactly as written
(``foo_bucket``, not ``foo`` plus a role) and its labels in the order written, because
the scraper keys its series cache on exactly that and the store canonicalises once per
new series, not once per sample. ``slots`` keeps the per-sample cost of a 10,000-series
page down, both in memory and in construction time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain


class ExpositionFormat(StrEnum):
    TEXT = "text"
    """Prometheus text format 0.0.4 (``text/plain; version=0.0.4``)."""
    OPENMETRICS = "openmetrics"
    """OpenMetrics 1.0 text (``application/openmetrics-text; version=1.0.0``)."""


@dataclass(slots=True)
class Sample:
    """One sample line."""

    name: str
    """The series name as written, e.g. ``http_request_duration_seconds_bucket``."""
    labels: tuple[tuple[str, str], ...]
    """Label pairs without ``__name__``, in the order written, values unescaped."""
    value: float
    timestamp_ms: int | None
    """Milliseconds since the epoch, or None when the line carries no timestamp.

    Text 0.0.4 writes integer milliseconds; OpenMetrics writes seconds, converted here
    exactly (decimal arithmetic, truncated toward zero as Prometheus does)."""


@dataclass(slots=True)
class MetricFamily:
    name: str
    type: str
    """counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown
    (text 0.0.4's ``untyped`` and a family without a TYPE line are ``unknown``)."""
    help: str | None
    unit: str | None
    samples: list[Sample]


@dataclass(slots=True)
class ParsedPage:
    format: ExpositionFormat
    families: list[MetricFamily]
    page_order: list[Sample] | None = field(default=None, repr=False)
    """Every sample in page order. Text 0.0.4 lets a family's lines resume after another
    family's (Prometheus accepts that), so family order is not always page order; the
    parsers always fill this. None means "the families, in order"."""

    def samples(self) -> Iterator[Sample]:
        """All samples in the order they appear in the page."""
        if self.page_order is not None:
            return iter(self.page_order)
        # chain walks the lists in C: a generator costs a frame resumption per sample.
        return chain.from_iterable(family.samples for family in self.families)

    @property
    def series_count(self) -> int:
        """The number of sample lines, which is what ``sample_limit`` counts."""
        if self.page_order is not None:
            return len(self.page_order)
        return sum(len(family.samples) for family in self.families)
