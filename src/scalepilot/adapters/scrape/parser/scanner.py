"""The slow path for one sample line: every shape the grammar allows, and exact reasons.

The parsers first try one compiled regex per line for the shape nearly every exporter
writes. Lines it does not accept come here: valid lines in a less common shape (text
0.0.4 tolerates blanks and tabs between tokens, inside braces and a trailing comma;
``Infinity`` spelled any way) and invalid lines, for which this walk names the first
thing that is wrong and where.

``strict`` selects the OpenMetrics rules: single spaces, no trailing comma, exemplars.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalepilot.adapters.scrape.parser.syntax import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    QUOTED_VALUE_RE,
    Malformed,
    normalize_number,
    number_problem,
    parse_text_timestamp,
    quote,
)

_BLANKS = " \t"


@dataclass(slots=True)
class Exemplar:
    pairs: list[tuple[str, str]]
    value: str
    timestamp: str | None


@dataclass(slots=True)
class ScannedSample:
    name: str
    pairs: list[tuple[str, str]]
    """Label names and raw (still escaped) values."""
    value: str
    """The value token, special values spelled canonically (``+Inf``, ``-Inf``, ``NaN``)."""
    timestamp: str | None
    exemplar: Exemplar | None


def scan_sample(line: str, *, strict: bool) -> ScannedSample:
    """Split one sample line into its parts or raise :class:`Malformed`."""
    n = len(line)
    i = 0 if strict else _skip(line, 0)
    m = METRIC_NAME_RE.match(line, i)
    if m is None:
        raise Malformed(_bad_name(line[i:]))
    name = m.group()
    i = m.end()
    if strict and i < n and line[i] not in " {":
        if line[i] == "\t":
            raise Malformed(f"expected a space after the metric name {quote(name)}, got a tab")
        raise Malformed(_bad_name(line))
    pairs: list[tuple[str, str]] = []
    if not strict and line[_skip(line, i) : _skip(line, i) + 1] == "{":
        i = _skip(line, i)
    if i < n and line[i] == "{":
        pairs, i = _scan_labels(line, i + 1, name, strict=strict)
    glued = False
    if strict:
        value, i = _strict_token(line, i, f"the value of {quote(name)}")
    else:
        # Prometheus reads "name+1" as name, value +1: no blank is needed where the
        # name ends unambiguously.
        glued = not pairs and i < n and line[i] not in _BLANKS
        i = _skip(line, i)
        end = _token_end(line, i)
        value = line[i:end]
        i = end
        if not value:
            raise Malformed(f"missing value for {quote(name)}")
    canonical = normalize_number(value)
    if canonical is None:
        if glued:
            raise Malformed(_bad_name(line.lstrip(_BLANKS)))
        raise Malformed(f"invalid value {quote(value)} for {quote(name)}: {number_problem(value)}")
    timestamp: str | None = None
    exemplar: Exemplar | None = None
    if strict:
        if i < n and line.startswith(" #", i):
            exemplar = _scan_exemplar(line, i, name)
        elif i < n:
            timestamp, i = _strict_token(line, i, f"the timestamp of {quote(name)}")
            if i < n:
                if not line.startswith(" #", i):
                    raise Malformed(f"unexpected text after the timestamp: {quote(line[i:])}")
                exemplar = _scan_exemplar(line, i, name)
    else:
        i = _skip(line, i)
        if i < n:
            end = _token_end(line, i)
            timestamp = line[i:end]
            try:
                parse_text_timestamp(timestamp)
            except Malformed as exc:
                what = f"invalid timestamp {quote(timestamp)} for {quote(name)}"
                raise Malformed(f"{what}: {exc.reason}") from None
            i = _skip(line, end)
            if i < n:
                raise Malformed(f"unexpected text after the timestamp: {quote(line[i:])}")
    return ScannedSample(name, pairs, canonical, timestamp, exemplar)


def _scan_labels(line: str, i: int, owner: str, *, strict: bool) -> tuple[list[tuple[str, str]], int]:
    """Labels after a ``{`` at ``i``; returns them and the index after the ``}``."""
    n = len(line)
    pairs: list[tuple[str, str]] = []
    want_label = True
    while True:
        if not strict:
            i = _skip(line, i)
        if i >= n:
            raise Malformed(f"label set of {quote(owner)} is not closed with a }}")
        c = line[i]
        if c == "}":
            if strict and pairs and want_label:
                raise Malformed(f"trailing comma in the label set of {quote(owner)}")
            return pairs, i + 1
        if not want_label:
            last = pairs[-1][0]
            raise Malformed(f'expected "," or "}}" after label {quote(last)}, got {quote(line[i:])}')
        m = LABEL_NAME_RE.match(line, i)
        if m is None:
            raise Malformed(_bad_label_name(line[i:], owner))
        label = m.group()
        i = m.end()
        if not strict:
            i = _skip(line, i)
        if line[i : i + 1] != "=":
            raise Malformed(f'expected "=" after label name {quote(label)}, got {quote(line[i:])}')
        i += 1
        if not strict:
            i = _skip(line, i)
        if line[i : i + 1] != '"':
            raise Malformed(f"value of label {quote(label)} must be in double quotes")
        m = QUOTED_VALUE_RE.match(line, i)
        if m is None:
            raise Malformed(f"value of label {quote(label)} is not closed with a double quote")
        pairs.append((label, m.group(1)))
        i = m.end()
        if not strict:
            i = _skip(line, i)
        if line[i : i + 1] == ",":
            i += 1
            want_label = True
        else:
            want_label = False


def scan_exemplar(text: str, owner: str) -> Exemplar:
    """An exemplar as the fast path captured it: `` # {labels} value [timestamp]``."""
    return _scan_exemplar(text, 0, owner)


def _scan_exemplar(line: str, i: int, owner: str) -> Exemplar:
    """An OpenMetrics exemplar: `` # {labels} value [timestamp]`` starting at ``i``."""
    what = f"the exemplar of {quote(owner)}"
    if not line.startswith(" # {", i):
        raise Malformed(f'{what} must look like " # {{labels}} value", got {quote(line[i:])}')
    pairs, i = _scan_labels(line, i + 4, owner, strict=True)
    value, i = _strict_token(line, i, f"the value of {what}")
    if normalize_number(value) is None:
        raise Malformed(f"invalid value {quote(value)} in {what}: {number_problem(value)}")
    timestamp: str | None = None
    if i < len(line):
        timestamp, i = _strict_token(line, i, f"the timestamp of {what}")
        if i < len(line):
            raise Malformed(f"unexpected text after {what}: {quote(line[i:])}")
    return Exemplar(pairs, value, timestamp)


def _strict_token(line: str, i: int, what: str) -> tuple[str, int]:
    """One space, then a token up to the next space or the end of the line."""
    if i >= len(line):
        raise Malformed(f"missing {what}")
    if line[i] != " ":
        raise Malformed(f"expected a space before {what}, got {quote(line[i:])}")
    end = line.find(" ", i + 1)
    if end < 0:
        end = len(line)
    token = line[i + 1 : end]
    if not token:
        if end + 1 >= len(line):
            raise Malformed("trailing blank at the end of the line")
        raise Malformed(f"expected exactly one space before {what}")
    return token, end


def _skip(line: str, i: int) -> int:
    n = len(line)
    while i < n and line[i] in _BLANKS:
        i += 1
    return i


def _token_end(line: str, i: int) -> int:
    n = len(line)
    while i < n and line[i] not in _BLANKS:
        i += 1
    return i


def _bad_name(rest: str) -> str:
    if rest.startswith("\ufeff"):
        return "the input starts with a byte order mark (U+FEFF), which is not allowed"
    if rest[:1] in (" ", "\t"):
        return "line starts with a blank, which OpenMetrics does not allow"
    if rest.startswith('{"'):
        return "quoted (UTF-8) metric names are not supported by text 0.0.4 or OpenMetrics 1.0"
    if rest.startswith("{"):
        return "sample without a metric name"
    if rest.startswith('"'):
        return "quoted (UTF-8) metric names are not supported by text 0.0.4 or OpenMetrics 1.0"
    end = 0
    while end < len(rest) and rest[end] not in " \t{":
        end += 1
    return f"invalid metric name {quote(rest[:end] or rest)}"


def _bad_label_name(rest: str, owner: str) -> str:
    if rest.startswith('"'):
        return "quoted (UTF-8) label names are not supported by text 0.0.4 or OpenMetrics 1.0"
    end = 0
    while end < len(rest) and rest[end] not in '=,}" \t':
        end += 1
    return f"invalid label name {quote(rest[:end] or rest)} in the label set of {quote(owner)}"
