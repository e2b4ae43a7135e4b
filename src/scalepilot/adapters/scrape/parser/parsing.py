"""``parse()``: bytes in, a :class:`ParsedPage` or a :class:`ParseError` out.

Decoding happens here, once, so both format parsers work on ``str`` and an invalid
UTF-8 byte is reported like any other problem: with the line it is on.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser.model import ExpositionFormat, ParsedPage
from scalepilot.adapters.scrape.parser.openmetrics import parse_openmetrics
from scalepilot.adapters.scrape.parser.text import parse_text


def parse(data: str | bytes, fmt: ExpositionFormat) -> ParsedPage:
    """Parse and validate one metrics page.

    Raises :class:`~scalepilot.adapters.scrape.errors.ParseError` (``line N: reason``)
    for any malformed input, and nothing else."""
    text = decode(data) if isinstance(data, bytes) else data
    with _gc_paused():
        if ExpositionFormat(fmt) is ExpositionFormat.OPENMETRICS:
            return parse_openmetrics(text)
        return parse_text(text)


# A page of 10,000 series allocates tens of thousands of small tuples, which makes the
# cyclic garbage collector run over and over, examining objects that are all still alive:
# about 15 % of the parse time. Parsing builds no reference cycles, so the collector is
# paused for the length of a parse. The GC switch is process-wide, hence a depth count
# shared by concurrent parses in worker threads; one left disabled by the application
# stays disabled.
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    global _gc_depth, _gc_was_enabled  # noqa: PLW0603 - mirrors the process-wide GC switch
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def decode(data: bytes) -> str:
    """UTF-8 without a BOM; an invalid byte is an error on the line that holds it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 4]
        raise ParseError(line, f"invalid UTF-8 (byte {bad[:1].hex()} in {bad!r})") from None
