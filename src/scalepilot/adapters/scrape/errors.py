"""Errors of the scrape boundary.

::

    ScalepilotError
    └── ScrapeError                 a target could not be scraped this round
        ├── FetchError              HTTP-level failure            (transient)
        │   ├── ScrapeTimeout       no complete answer within the timeout
        │   ├── BadStatus           a non-2xx answer
        │   └── BodyTooLarge        page exceeds body_size_limit  (permanent until fixed)
        └── ParseError              the page is not valid exposition text (permanent)
            carries the 1-based line number and a reason

Every one of them marks the target down with ``str(error)`` as the reason; none stops
the scrape loop.
"""

from __future__ import annotations

from scalepilot.domain.errors import ScalepilotError


class ScrapeError(ScalepilotError):
    pass


class FetchError(ScrapeError):
    transient = True


class ScrapeTimeout(FetchError):
    pass


class BadStatus(FetchError):
    def __init__(self, status: int, body_excerpt: str = "") -> None:
        self.status = status
        excerpt = f": {body_excerpt}" if body_excerpt else ""
        super().__init__(f"server returned HTTP status {status}{excerpt}")


class BodyTooLarge(FetchError):
    transient = False


class ParseError(ScrapeError):
    """Malformed exposition text. ``str()`` is ``line N: reason`` (as promtool prints)."""

    transient = False

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")
