"""The lexical rules both formats share: names, label sets, numbers, timestamps.

Numbers follow Go's ``strconv.ParseFloat`` as Prometheus applies it (decimal notation,
``Inf``/``Infinity``/``NaN`` in any case, no hex, no ``_`` separators, an error on
overflow), which is also exactly the OpenMetrics ABNF. Python's ``float()`` is more
liberal (``1_000``, ``+nan``, surrounding whitespace, non-ASCII digits), so every token
is checked against the grammar before ``float()`` sees it.

Helpers here do not know line numbers; they raise :class:`Malformed` with a reason and
the caller turns it into a ``ParseError`` for the line at hand.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal

Labels = tuple[tuple[str, str], ...]
Canon = frozenset[tuple[str, str]]
"""A label set with its order forgotten: what "the same series" compares."""

EMPTY_CANON: Canon = frozenset()

CRLF_PROBLEM = 'the line ends with a carriage return: lines must end with "\\n", not "\\r\\n"'

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
# The inside of a double-quoted label value; the unrolled loop keeps the regex linear.
LABEL_VALUE = r'[^"\\\n]*(?:\\.[^"\\\n]*)*'
LABEL = LABEL_NAME + '="' + LABEL_VALUE + '"'
LABEL_BODY = f"(?:{LABEL}(?:,{LABEL})*)?"
# The sample-value shapes the fast paths accept: a run of decimal-number characters
# (float() then decides; for this alphabet it agrees with Go) or the usual spellings of
# the special values. Other spellings take the slow path, which knows them all.
FAST_NUMBER = r"[0-9.eE+-]+|[+-]?Inf|NaN"

METRIC_NAME_RE = re.compile(METRIC_NAME)
LABEL_NAME_RE = re.compile(LABEL_NAME)
QUOTED_VALUE_RE = re.compile(r'"(' + LABEL_VALUE + ')"')
PAIR_RE = re.compile("(" + LABEL_NAME + ')="(' + LABEL_VALUE + ')"')
LABEL_BODY_RE = re.compile(LABEL_BODY)
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS_RE = re.compile(r"[0-9]+")
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_SPECIAL = {
    "inf": "+Inf",
    "+inf": "+Inf",
    "infinity": "+Inf",
    "+infinity": "+Inf",
    "-inf": "-Inf",
    "-infinity": "-Inf",
    "nan": "NaN",
}
_LABEL_ESCAPES = {"\\": "\\", "n": "\n", '"': '"'}
_TEXT_HELP_ESCAPES = {"\\": "\\", "n": "\n"}


class Malformed(Exception):
    """A problem found by a helper that does not know the line number."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def quote(text: str, limit: int = 60) -> str:
    """``text`` in double quotes for an error message, escaped and cut to ``limit``."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    cut = cut.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + cut.replace("\r", "\\r").replace("\t", "\\t") + '"'


def series_repr(name: str, labels: Labels) -> str:
    """``name{a="b"}`` in exposition notation, quoted and cut for a message."""
    if not labels:
        return quote(name)
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return quote(f"{name}{{{inner}}}", 100)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def normalize_number(token: str) -> str | None:
    """The token if it is a valid number, a canonical spelling of a special value, or None.

    Finite range is not checked here: the caller's ``float()`` turns an overflow into an
    infinity, which it then rejects for a token that was not an Inf spelling."""
    if _DECIMAL_RE.fullmatch(token):
        return token
    return _SPECIAL.get(token.lower())


def parse_number(token: str) -> float:
    """A sample value, exemplar value, ``le`` or ``quantile``: Go ParseFloat semantics."""
    canonical = normalize_number(token)
    if canonical is None:
        raise Malformed("is not a number")
    value = float(canonical)
    if value - value and canonical[-1] not in "fN":
        raise Malformed("is out of the float64 range")
    return value


def number_problem(token: str) -> str:
    """Why ``token`` is not a valid value (for messages; ``token`` must be invalid)."""
    if token.endswith("\r"):
        return CRLF_PROBLEM
    try:
        parse_number(token)
    except Malformed as exc:
        return exc.reason
    return "is not a number"


def parse_text_timestamp(token: str) -> int:
    """Text 0.0.4 timestamp: integer milliseconds, digits only as Prometheus lexes it."""
    if not _DIGITS_RE.fullmatch(token):
        if token.endswith("\r"):
            raise Malformed(CRLF_PROBLEM)
        raise Malformed("is not an integer number of milliseconds")
    digits = token.lstrip("0")
    # Checked before int(), which refuses more than 4,300 digits.
    if len(digits) > 19 or int(digits or "0") > INT64_MAX:
        raise Malformed("is out of the int64 range")
    return int(digits or "0")


def parse_om_timestamp(token: str) -> tuple[float, int]:
    """OpenMetrics timestamp: seconds as a real number (no Inf/NaN).

    Returns the seconds as a float, for ordering checks at the precision written, and
    the exact milliseconds truncated toward zero, as Prometheus stores them."""
    if not _DECIMAL_RE.fullmatch(token):
        raise Malformed("is not a number of seconds")
    seconds = float(token)
    if seconds - seconds:
        raise Malformed("is out of the float64 range")
    if not -1e16 < seconds < 1e16:
        raise Malformed("is out of the int64 millisecond range")
    if seconds == 0.0:
        return seconds, 0  # also what a value below float64's smallest comes to
    # Exact decimal arithmetic, with as many digits as the token has: no rounding up
    # to the next millisecond, and no limit on how many digits were written.
    exact = Context(prec=len(token) + 4, Emax=MAX_EMAX, Emin=MIN_EMIN)
    try:
        millis = int(Decimal(token).scaleb(3, exact))
    except (ArithmeticError, ValueError):
        raise Malformed("is out of the int64 millisecond range") from None
    if not INT64_MIN <= millis <= INT64_MAX:
        raise Malformed("is out of the int64 millisecond range")
    return seconds, millis


def unescape_label_value(raw: str) -> str:
    """``\\\\``, ``\\"`` and ``\\n`` are escapes; any other backslash stays as written
    (what Prometheus stores, and the OpenMetrics reading of ``BS normal-char``)."""
    if "\\" not in raw:
        return raw
    return _ESCAPE_RE.sub(_label_escape, raw)


def _label_escape(m: re.Match[str]) -> str:
    c = m.group(1)
    return _LABEL_ESCAPES.get(c, "\\" + c)


def unescape_help(raw: str, *, openmetrics: bool) -> str:
    """HELP text: the 0.0.4 format escapes only ``\\\\`` and ``\\n``; OpenMetrics also
    ``\\"``. Other backslashes stay as written, as in Prometheus."""
    if "\\" not in raw:
        return raw
    table = _LABEL_ESCAPES if openmetrics else _TEXT_HELP_ESCAPES
    return _ESCAPE_RE.sub(lambda m: table.get(m.group(1), m.group(0)), raw)


def join_label_body(pairs: list[tuple[str, str]]) -> str:
    """The canonical body for raw (still escaped) pairs: what the fast path would see."""
    return ",".join(f'{k}="{v}"' for k, v in pairs)
