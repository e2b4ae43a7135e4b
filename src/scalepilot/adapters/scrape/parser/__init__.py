"""Prometheus exposition parsing: text format 0.0.4 and OpenMetrics 1.0.

See :mod:`.text` and :mod:`.openmetrics` for the rules each format enforces and where
they follow which Prometheus implementation.
"""

from scalepilot.adapters.scrape.parser.check import CheckResult, check_metrics
from scalepilot.adapters.scrape.parser.model import ExpositionFormat, MetricFamily, ParsedPage, Sample
from scalepilot.adapters.scrape.parser.negotiate import (
    ACCEPT_HEADER,
    format_from_content_type,
    format_from_path,
)
from scalepilot.adapters.scrape.parser.parsing import parse

__all__ = [
    "ACCEPT_HEADER",
    "CheckResult",
    "ExpositionFormat",
    "MetricFamily",
    "ParsedPage",
    "Sample",
    "check_metrics",
    "format_from_content_type",
    "format_from_path",
    "parse",
]
