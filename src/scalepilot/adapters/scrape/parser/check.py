"""``scalepilot check-metrics``: what promtool's ``check metrics`` answers, minus lint.

Validity is exactly what the scraper enforces (the same :func:`parse`), so a page that
passes here is a page scalepilot will ingest.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalepilot.adapters.scrape.parser.model import ExpositionFormat
from scalepilot.adapters.scrape.parser.parsing import parse


@dataclass(frozen=True, slots=True)
class CheckResult:
    format: ExpositionFormat
    families: int
    """Metric families, including those declared by metadata alone."""
    series: int
    """Sample lines."""

    def summary(self) -> str:
        families = "family" if self.families == 1 else "families"
        return f"{self.families} {families}, {self.series} series"


def check_metrics(data: str | bytes, fmt: ExpositionFormat) -> CheckResult:
    """Count a valid page's families and series; an invalid page raises ParseError."""
    page = parse(data, fmt)
    return CheckResult(fmt, len(page.families), page.series_count)
