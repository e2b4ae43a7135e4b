"""The functions alert templates call: Go's built-ins and Prometheus's (``template.go``).

Each is written to give Prometheus 2.42's output for the same input: ``humanize`` with SI
prefixes and ``%.4g``, ``humanizeDuration`` as ``1d 1h 1m 1s``, ``humanizeTimestamp`` as
Go prints a ``time.Time``, ``title`` with Go's ``strings.Title`` word breaks (``Don'T``),
``reReplaceAll`` with Go's ``$1``/``${name}`` expansion and its rule that an empty match
right after a match is not replaced. Errors are raised as :class:`FuncError` with Go's
message; the executor reports them as ``error calling NAME: ...``.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from scalepilot.config.rules import parse_prom_duration
from scalepilot.control.alerting.rules.gofmt import format_value, go_type, percent_g4, sprint, sprintf, sprintln
from scalepilot.control.alerting.rules.template_exec import ANY, STRING, Func, FuncError, GoStruct, Param, is_true

SAMPLE = Param("*template.sample")
QUERY_RESULT = Param("template.queryResult")

_GO_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)


# --- values -------------------------------------------------------------------------------
class QueryResult(list[GoStruct]):
    """What ``query`` returns: samples with ``.Labels`` and ``.Value``."""

    def go_string(self) -> str:
        return "[" + " ".join(s.go_string() for s in self) + "]"

    def go_type(self) -> str:
        return "template.queryResult"


def make_sample(labels: dict[str, str], value: float) -> GoStruct:
    return GoStruct("*template.sample", {"Labels": labels, "Value": value})


@dataclass(frozen=True, slots=True)
class GoTime:
    """A ``*time.Time`` in UTC, printed as Go prints one."""

    seconds: int
    nanos: int

    def go_string(self) -> str:
        try:
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=self.seconds)
            base = moment.strftime("%Y-%m-%d %H:%M:%S")
        except OverflowError:
            base = f"time({self.seconds}s)"
        frac = f".{self.nanos:09d}".rstrip("0") if self.nanos else ""
        return f"{base}{frac} +0000 UTC"

    def go_type(self) -> str:
        return "*time.Time"


def parse_go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``, with its error messages."""
    if not _GO_FLOAT_RE.fullmatch(text):
        raise FuncError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    lowered = text.lower().lstrip("+-")
    value = float.fromhex(text) if lowered.startswith("0x") else float(text)
    if math.isinf(value) and not lowered.startswith("inf"):
        raise FuncError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def to_float(value: Any) -> float:
    """Prometheus's ``convertToFloat``: numbers as they are, strings parsed."""
    if isinstance(value, bool):
        raise FuncError("can't convert bool to float")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_go_float(value)
    raise FuncError(f"can't convert {go_type(value)} to float")


# --- humanize -------------------------------------------------------------------------------
def humanize(v: Any) -> str:
    x = to_float(v)
    if x == 0 or math.isnan(x) or math.isinf(x):
        return percent_g4(x)
    prefix = ""
    if abs(x) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(x) < 1000:
                break
            prefix = p
            x /= 1000
        return percent_g4(x) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(x) >= 1:
            break
        prefix = p
        x *= 1000
    return percent_g4(x) + prefix


def humanize1024(v: Any) -> str:
    x = to_float(v)
    if abs(x) <= 1 or math.isnan(x) or math.isinf(x):
        return percent_g4(x)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(x) < 1024:
            break
        prefix = p
        x /= 1024
    return percent_g4(x) + prefix


def _go_int64(x: float) -> int:
    """Go's float64 -> int64 conversion on amd64: truncation, and the minimum int64 for
    anything that does not fit."""
    if math.isnan(x) or not -(2.0**63) <= x < 2.0**63:
        return -(2**63)
    return int(x)


def humanize_duration(v: Any) -> str:
    x = to_float(v)
    if math.isnan(x) or math.isinf(x):
        return percent_g4(x)
    if x == 0:
        return percent_g4(x) + "s"
    if abs(x) >= 1:
        sign = ""
        if x < 0:
            sign, x = "-", -x
        whole = _go_int64(x)
        seconds = whole % 60
        minutes = (whole // 60) % 60
        hours = (whole // 3600) % 24
        days = whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{percent_g4(x)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(x) >= 1:
            break
        prefix = p
        x *= 1000
    return f"{percent_g4(x)}{prefix}s"


def humanize_percentage(v: Any) -> str:
    return percent_g4(to_float(v) * 100) + "%"


def _float_to_time(x: float) -> GoTime:
    if math.isnan(x) or math.isinf(x):
        raise FuncError("value is NaN or Inf")
    nanos = x * 1e9
    if nanos > 2.0**63 - 1 or nanos < -(2.0**63):
        raise FuncError(f"{format_value(x)} cannot be represented as a nanoseconds timestamp since it overflows int64")
    ns = _go_int64(nanos)
    ms = int(ns / 1_000_000) if ns >= 0 else -((-ns) // 1_000_000)
    sec = int(ms / 1000) if ms >= 0 else -((-ms) // 1000)
    rem_ns = (ms - sec * 1000) * 1_000_000
    if rem_ns < 0:
        sec -= 1
        rem_ns += 1_000_000_000
    return GoTime(sec, rem_ns)


def humanize_timestamp(v: Any) -> str:
    x = to_float(v)
    if math.isnan(x) or math.isinf(x):
        return percent_g4(x)
    return _float_to_time(x).go_string()


def to_time(v: Any) -> GoTime:
    return _float_to_time(to_float(v))


# --- strings --------------------------------------------------------------------------------
def _is_separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdigit():
        return False
    return c.isspace()


def title(s: str) -> str:
    """Go's ``strings.Title``: upper-case the first letter after every separator."""
    out: list[str] = []
    prev = " "
    for c in s:
        if _is_separator(prev):
            t = c.title()
            out.append(t if len(t) == 1 else c.upper() if len(c.upper()) == 1 else c)
        else:
            out.append(c)
        prev = c
    return "".join(out)


def to_upper(s: str) -> str:
    return "".join(u if len(u := c.upper()) == 1 else c for c in s)


def to_lower(s: str) -> str:
    return "".join(u if len(u := c.lower()) == 1 else c for c in s)


# --- regular expressions (Go's RE2 syntax, as far as Python's re can follow) ----------------
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def _translate_go_regex(pattern: str) -> str:
    out: list[str] = []
    multiline = "(?m" in pattern or ("(?" in pattern and "m" in pattern.split("(?", 1)[1].split(")", 1)[0])
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\Z" if nxt == "z" else c + nxt)
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i)
                name = pattern[i + 2 : end] if end > 0 else ""
                if name in _POSIX:
                    out.append(_POSIX[name])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        elif c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _go_regex_error(pattern: str, exc: re.error) -> str:
    """Go's wording for the common mistakes (``missing closing ): `(```)."""
    msg = str(exc.msg)
    pos = exc.pos or 0
    if "unterminated subpattern" in msg:
        code, expr = "missing closing )", pattern
    elif "unbalanced parenthesis" in msg:
        code, expr = "unexpected )", pattern
    elif "unterminated character set" in msg:
        code, expr = "missing closing ]", pattern[pos:]
    elif "nothing to repeat" in msg or "multiple repeat" in msg:
        code, expr = "missing argument to repetition operator", pattern[pos : pos + 1]
    elif "bad escape" in msg:
        code, expr = "invalid escape sequence", pattern[pos : pos + 2]
    else:
        return f"regexp: Compile(`{pattern}`): error parsing regexp: {msg}"
    return f"regexp: Compile(`{pattern}`): error parsing regexp: {code}: `{expr}`"


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(_translate_go_regex(pattern), re.ASCII)
    except re.error as exc:
        raise FuncError(_go_regex_error(pattern, exc)) from None


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``; ``$$`` is ``$``;
    a reference to a group that does not exist or did not match is empty."""
    out: list[str] = []
    i = 0
    while i < len(template):
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1 :]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        name = ""
        consumed = 0
        if rest.startswith("{"):
            end = rest.find("}")
            candidate = rest[1:end] if end > 0 else ""
            if end > 0 and candidate and all(ch.isalnum() or ch == "_" for ch in candidate):
                name, consumed = candidate, end + 1
        else:
            k = 0
            while k < len(rest) and (rest[k].isalnum() or rest[k] == "_"):
                k += 1
            name, consumed = rest[:k], k
        if not name:
            out.append("$")
            i = j + 1
            continue
        group: str | None = None
        if name.isdigit():
            index = int(name)
            if index <= (match.re.groups or 0):
                group = match.group(index)
        elif name in match.re.groupindex:
            group = match.group(name)
        out.append(group or "")
        i = j + 1 + consumed
    return "".join(out)


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Go's ``ReplaceAllString``: an empty match right after a match is not replaced."""
    regex = compile_go_regex(pattern)
    out: list[str] = []
    last_end = 0
    search = 0
    while search <= len(text):
        m = regex.search(text, search)
        if m is None:
            break
        out.append(text[last_end : m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(_expand(repl, m))
        last_end = m.end()
        if search + 1 > m.end():
            search += 1
        else:
            search = m.end()
    out.append(text[last_end:])
    return "".join(out)


def match(pattern: str, text: str) -> bool:
    return compile_go_regex(pattern).search(text) is not None


# --- hosts and links ------------------------------------------------------------------------
def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort`` (None where it returns an error)."""
    i = hostport.rfind(":")
    if i < 0:
        return None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 != i:
            return None
        host = hostport[1:end]
    else:
        host = hostport[:i]
        if ":" in host:
            return None
    if "[" in hostport[1:] or "]" in hostport[i:]:
        return None
    return host, hostport[i + 1 :]


def strip_port(hostport: str) -> str:
    parts = _split_host_port(hostport)
    return hostport if parts is None else parts[0]


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def strip_domain(hostport: str) -> str:
    parts = _split_host_port(hostport)
    host, port = (hostport, "") if parts is None else parts
    if _is_ip(host):
        return hostport
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def _query_escape(s: str) -> str:
    return urllib.parse.quote_plus(s, safe="-_.~")


def graph_link(expr: str) -> str:
    return f"/graph?g0.expr={_query_escape(expr)}&g0.tab=0"


def table_link(expr: str) -> str:
    return f"/graph?g0.expr={_query_escape(expr)}&g0.tab=1"


def parse_duration(text: str) -> float:
    try:
        return parse_prom_duration(text)
    except ValueError as exc:
        raise FuncError(str(exc)) from None


# --- Go's built-ins ---------------------------------------------------------------------------
def _basic_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "invalid"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(a)
    for b in others:
        k2 = _basic_kind(b)
        if k1 != k2:
            if a is not None and b is not None:
                raise FuncError("incompatible types for comparison")
            truth = a is None and b is None
        elif k1 == "invalid":
            if isinstance(a, dict | list) or isinstance(b, dict | list):
                raise FuncError(f"non-comparable type {format_value(b)}: {go_type(b)}")
            truth = a == b
        else:
            truth = a == b
        if truth:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if k1 == "invalid" or k2 == "invalid":
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k1 == "bool":
        raise FuncError("invalid type for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _length(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, dict | list):
        return len(v)
    raise FuncError(f"len of type {go_type(v)}")


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("index of untyped nil")
    for index in indexes:
        if isinstance(item, dict):
            if not isinstance(index, str):
                raise FuncError(f"value has type {go_type(index)}; should be string")
            item = item.get(index, "")
        elif isinstance(item, list | str):
            if isinstance(index, bool) or not isinstance(index, int):
                raise FuncError(f"cannot index slice/array with type {go_type(index)}")
            if not 0 <= index < len(item):
                raise FuncError(f"index out of range: {index}")
            item = item.encode()[index] if isinstance(item, str) else item[index]
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _eval_args(args: Sequence[Any]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(list(args))


def _html(*args: Any) -> str:
    s = _eval_args(args)
    table = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def _js(*args: Any) -> str:
    s = _eval_args(args)
    out: list[str] = []
    for c in s:
        if c in "\\'\"":
            out.append("\\" + c)
        elif c in "<>&=" or ord(c) < 0x20 or not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return _query_escape(_eval_args(args))


def _first(result: QueryResult) -> GoStruct:
    if not result:
        raise FuncError("first() called on vector with no elements")
    return result[0]


def _sort_by_label(label: str, result: QueryResult) -> QueryResult:
    return QueryResult(sorted(result, key=lambda s: s.fields["Labels"].get(label, "")))


def _unreachable(*args: Any) -> Any:  # pragma: no cover - the executor handles and/or
    raise AssertionError("and/or are evaluated by the executor")


_NIL_DEREFERENCE = "runtime error: invalid memory address or nil pointer dereference"


def build_functions(
    query: Callable[[str], QueryResult] | None = None,
    external_url: str | None = None,
) -> dict[str, Func]:
    """The function table of one expansion. ``query`` answers ``{{ query "..." }}`` at
    the evaluation time; ``external_url`` None is Prometheus without one (promtool's unit
    tests), where ``pathPrefix`` and ``externalURL`` fail as they do there."""

    def run_query(expr: str) -> QueryResult:
        if query is None:
            raise FuncError(_NIL_DEREFERENCE)
        return query(expr)

    def url_part(path_only: bool) -> str:
        if external_url is None:
            raise FuncError(_NIL_DEREFERENCE)
        return urllib.parse.urlsplit(external_url).path if path_only else external_url

    funcs: dict[str, Func] = {
        # Go's built-ins
        "and": Func(_unreachable, (ANY,), ANY),
        "or": Func(_unreachable, (ANY,), ANY),
        "not": Func(lambda v: not is_true(v)[0], (ANY,)),
        "len": Func(_length, (ANY,)),
        "index": Func(_index, (ANY,), ANY),
        "print": Func(lambda *a: sprint(list(a)), (), ANY),
        "printf": Func(lambda f, *a: sprintf(f, list(a)), (STRING,), ANY),
        "println": Func(lambda *a: sprintln(list(a)), (), ANY),
        "html": Func(_html, (), ANY),
        "js": Func(_js, (), ANY),
        "urlquery": Func(_urlquery, (), ANY),
        "eq": Func(_eq, (ANY,), ANY),
        "ne": Func(lambda a, b: not _eq(a, b), (ANY, ANY)),
        "lt": Func(_lt, (ANY, ANY)),
        "le": Func(_le, (ANY, ANY)),
        "gt": Func(lambda a, b: not _le(a, b), (ANY, ANY)),
        "ge": Func(lambda a, b: not _lt(a, b), (ANY, ANY)),
        # Prometheus's
        "query": Func(run_query, (STRING,)),
        "first": Func(_first, (QUERY_RESULT,)),
        "label": Func(lambda name, s: s.fields["Labels"].get(name, ""), (STRING, SAMPLE)),
        "value": Func(lambda s: s.fields["Value"], (SAMPLE,)),
        "strvalue": Func(lambda s: s.fields["Labels"].get("__value__", ""), (SAMPLE,)),
        "args": Func(lambda *a: {f"arg{i}": v for i, v in enumerate(a)}, (), ANY),
        "reReplaceAll": Func(re_replace_all, (STRING, STRING, STRING)),
        "safeHtml": Func(lambda s: s, (STRING,)),
        "match": Func(match, (STRING, STRING)),
        "title": Func(title, (STRING,)),
        "toUpper": Func(to_upper, (STRING,)),
        "toLower": Func(to_lower, (STRING,)),
        "graphLink": Func(graph_link, (STRING,)),
        "tableLink": Func(table_link, (STRING,)),
        "sortByLabel": Func(_sort_by_label, (STRING, QUERY_RESULT)),
        "humanize": Func(humanize, (ANY,)),
        "humanize1024": Func(humanize1024, (ANY,)),
        "humanizeDuration": Func(humanize_duration, (ANY,)),
        "humanizePercentage": Func(humanize_percentage, (ANY,)),
        "humanizeTimestamp": Func(humanize_timestamp, (ANY,)),
        "toTime": Func(to_time, (ANY,)),
        "pathPrefix": Func(lambda: url_part(True), ()),
        "externalURL": Func(lambda: url_part(False), ()),
        "parseDuration": Func(parse_duration, (STRING,)),
        "stripPort": Func(strip_port, (STRING,)),
        "stripDomain": Func(strip_domain, (STRING,)),
    }
    return funcs


FUNCTION_NAMES = frozenset(build_functions())
