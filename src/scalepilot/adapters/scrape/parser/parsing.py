"""``parse()``: bytes in, a :class:`ParsedPage` or a :class:`ParseError` out.

Decoding happens here, once, so both format parsers work on ``str`` and an invalid
UTF-8 byte is reported like any other problem: with the line it is on.
"""

from __future__ import annotations

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser.model import ExpositionFormat, ParsedPage
from scalepilot.adapters.scrape.parser.openmetrics import parse_openmetrics
from scalepilot.adapters.scrape.parser.text import parse_text


def parse(data: str | bytes, fmt: ExpositionFormat) -> ParsedPage:
    """Parse and validate one metrics page.

    Raises :class:`~scalepilot.adapters.scrape.errors.ParseError` (``line N: reason``)
    for any malformed input, and nothing else."""
    text = decode(data) if isinstance(data, bytes) else data
    if ExpositionFormat(fmt) is ExpositionFormat.OPENMETRICS:
        return parse_openmetrics(text)
    return parse_text(text)


def decode(data: bytes) -> str:
    """UTF-8 without a BOM; an invalid byte is an error on the line that holds it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 4]
        raise ParseError(line, f"invalid UTF-8 (byte {bad[:1].hex()} in {bad!r})") from None
