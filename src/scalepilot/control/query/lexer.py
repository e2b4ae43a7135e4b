"""Tokens of a PromQL query, each with its offset so errors can name a column.

Follows Prometheus 3's lexer: numbers (decimal, hex, ``Inf``/``NaN``), durations
(``1h30m``, ``500ms``; in number position they are seconds), the three string quotings
with Go's escapes, ``#`` comments, and the operators. Keywords are not special here:
the parser decides from context, so a metric may be called ``on`` or ``bool``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from scalepilot.domain.query import QueryError


class Kind(StrEnum):
    NUMBER = "number"
    DURATION = "duration"
    STRING = "string"
    IDENT = "identifier"
    OP = "operator"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    pos: int
    number: float = 0.0
    string: str = ""
    duration_ms: int = 0

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of input"
        if self.kind is Kind.OP:
            return f'"{self.text}"'
        return f"{self.kind.value} {self.text!r}"


_OPERATORS: tuple[str, ...] = ("==", "!=", ">=", "<=", "=~", "!~", "(", ")", "{", "}", "[", "]", ",", ":", "@")
_OPERATORS += ("+", "-", "*", "/", "%", "^", ">", "<", "=")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DURATION_PART = re.compile(r"([0-9]+)(ms|[smhdwy])")
_UNIT_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000}
_UNIT_MS |= {"m": 60_000, "s": 1_000, "ms": 1}
_UNIT_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def syntax_error(message: str, pos: int) -> QueryError:
    return QueryError(f"parse error: {message}", kind="bad_data", column=pos + 1)


def parse_duration(text: str, pos: int = 0) -> int:
    """Prometheus's ``model.ParseDuration``: units largest first, each at most once."""
    total = 0
    last = -1
    for m in _DURATION_PART.finditer(text):
        rank = _UNIT_ORDER.index(m.group(2))
        if rank <= last:
            raise syntax_error(f"not a valid duration string: {text!r}", pos)
        last = rank
        total += int(m.group(1)) * _UNIT_MS[m.group(2)]
    return total


def _digit(c: str) -> bool:
    """ASCII only, as Prometheus's ``isDigit``: ``str.isdigit`` also takes ``²`` and ``٣``,
    which no number pattern here matches."""
    return "0" <= c <= "9"


def _alpha(c: str) -> bool:
    """ASCII letters and ``_``, as Prometheus's ``isAlpha``: ``Ã`` is an unexpected
    character there, not the start of a name."""
    return c == "_" or "a" <= c <= "z" or "A" <= c <= "Z"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    in_brackets = False  # inside [...], ":" separates range and step instead of starting a name
    while i < n:
        c = text[i]
        if c in "[]":
            in_brackets = c == "["
        if c in " \t\r\n":
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "\"'`":
            token, i = _string(text, i)
            tokens.append(token)
        elif _digit(c) or (c == "." and i + 1 < n and _digit(text[i + 1])):
            token, i = _number(text, i)
            tokens.append(token)
        elif _alpha(c) or (c == ":" and not in_brackets):
            m = _IDENT.match(text, i)
            assert m is not None
            word = m.group(0)
            if word.lower() in ("inf", "nan"):
                tokens.append(Token(Kind.NUMBER, word, i, number=float(word.lower())))
            else:
                tokens.append(Token(Kind.IDENT, word, i))
            i = m.end()
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                if c == "!":
                    raise syntax_error(f"unexpected character after '!': {text[i + 1 : i + 2]!r}", i)
                raise syntax_error(f"unexpected character: {c!r}", i)
            tokens.append(Token(Kind.OP, op, i))
            i += len(op)
    tokens.append(Token(Kind.EOF, "", n))
    return tokens


def _number(text: str, i: int) -> tuple[Token, int]:
    d = _DURATION.match(text, i)
    if d is not None and not _ident_char_at(text, d.end()):
        word = d.group(0)
        ms = parse_duration(word, i)
        return Token(Kind.DURATION, word, i, number=ms / 1000.0, duration_ms=ms), d.end()
    m = _NUMBER.match(text, i)
    assert m is not None
    end = m.end()
    if _ident_char_at(text, end) or (d is not None and d.end() > end):
        stop = end
        while _ident_char_at(text, stop) or (stop < len(text) and text[stop] == "."):
            stop += 1
        raise syntax_error(f"bad number or duration syntax: {text[i:stop]!r}", i)
    word = m.group(0)
    value = float(int(word, 16)) if word[:2].lower() == "0x" else float(word)
    return Token(Kind.NUMBER, word, i, number=value), end


def _ident_char_at(text: str, i: int) -> bool:
    """Whether a number or duration runs on into letters (``5mm``, ``1x``): an error."""
    return i < len(text) and (_alpha(text[i]) or _digit(text[i]))


def _string(text: str, start: int) -> tuple[Token, int]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    n = len(text)
    if quote == "`":
        end = text.find("`", i)
        if end < 0:
            raise syntax_error("unterminated raw string", start)
        value = text[i:end]
        return Token(Kind.STRING, text[start : end + 1], start, string=value), end + 1
    while True:
        if i >= n or text[i] == "\n":
            raise syntax_error(f"unterminated quoted string {quote}", start)
        c = text[i]
        if c == quote:
            break
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise syntax_error(f"unterminated quoted string {quote}", start)
        e = text[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e == quote:
            out.append(quote)
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
                raise syntax_error(f"invalid escape sequence in string: {text[i : i + 2 + width]!r}", i)
            code = int(digits, 16)
            if e == "x":
                out.append(bytes([code]).decode("latin-1"))
            else:
                out.append(chr(code))
            i += 2 + width
        elif e in "01234567":
            digits = text[i + 1 : i + 4]
            if len(digits) != 3 or not all(ch in "01234567" for ch in digits) or int(digits, 8) > 255:
                raise syntax_error(f"invalid escape sequence in string: {text[i : i + 4]!r}", i)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise syntax_error(f"unknown escape sequence {text[i : i + 2]!r}", i)
    return Token(Kind.STRING, text[start : i + 1], start, string="".join(out)), i + 1
