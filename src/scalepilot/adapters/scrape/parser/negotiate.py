"""Which format a page is in: the Accept header we send and how we read the answer.

We ask exactly what Prometheus 2.x asks, so exporters that tailor their output to
Prometheus give us the same page. The answer's Content-Type decides as it does in
Prometheus: OpenMetrics only for ``application/openmetrics-text``, the 0.0.4 text format
for everything else (including a missing header), since that is what old exporters send
under ``text/plain`` with or without a version.
"""

from __future__ import annotations

from pathlib import PurePath

from scalepilot.adapters.scrape.parser.model import ExpositionFormat

ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,"
    "application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,"
    "*/*;q=0.1"
)

_OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"

_EXTENSIONS = {
    ".om": ExpositionFormat.OPENMETRICS,
    ".openmetrics": ExpositionFormat.OPENMETRICS,
    ".prom": ExpositionFormat.TEXT,
    ".txt": ExpositionFormat.TEXT,
}


def format_from_content_type(content_type: str | None) -> ExpositionFormat:
    """The format named by a Content-Type header value; TEXT unless it is OpenMetrics."""
    if not content_type:
        return ExpositionFormat.TEXT
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == _OPENMETRICS_MEDIA_TYPE:
        return ExpositionFormat.OPENMETRICS
    return ExpositionFormat.TEXT


def format_from_path(path: str) -> ExpositionFormat | None:
    """The format a file name implies, or None when the extension says nothing (the
    caller may then look for a trailing ``# EOF``)."""
    return _EXTENSIONS.get(PurePath(path).suffix.lower())
