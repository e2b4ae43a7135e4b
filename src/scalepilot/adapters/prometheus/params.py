"""Time and duration parameters exactly as Prometheus's HTTP API reads and writes them.

Grafana, promtool and every client library send ``time``, ``start``, ``end``, ``step``
and ``timeout`` the way ``web/api/v1/api.go`` parses them (``parseTime``,
``parseDuration``), so a server that wants to stand in for Prometheus must accept the
same texts and turn them into the same milliseconds, rounding included:

* a time is a float of unix seconds (Go's ``strconv.ParseFloat`` syntax: ``1e9``, ``.5``,
  ``0x1p30``, ``+Inf``...; the fraction rounded to the millisecond), or RFC 3339 with
  an optional fraction of any length (Go's ``time.Parse(time.RFC3339Nano)``: a one-digit
  hour is accepted, ``,`` works as the decimal point, beyond nanoseconds is cut), or one
  of the two boundary texts client_golang sends for "no bound";
* a duration is a float of seconds, or Prometheus's ``1h30m`` notation (``y w d h m s
  ms``, each unit at most once, in that order).

Where Go's behaviour is undefined (a NaN or infinite time, a time past the int64
millisecond range), the text is refused instead of producing a garbage timestamp.
Errors are ``ValueError`` with Prometheus's own wording (``cannot parse "x" to a valid
timestamp``), so the API can return them unchanged.
"""

from __future__ import annotations

import math
import re

# Go's minTime / maxTime in web/api/v1/api.go: the widest range time.Time can format.
MIN_TIME_MS = -9_223_309_901_257_974_000
MAX_TIME_MS = 9_223_309_901_257_974_999
MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_NS = 1_000_000_000

_DECIMAL_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX_RE = re.compile(r"([+-]?)0[xX]((?:_?[0-9a-fA-F])*)(?:\.((?:[0-9a-fA-F]_?)*))?[pP]([+-]?\d+(?:_?\d)*)")
_SPECIAL_RE = re.compile(r"([+-]?)(inf|infinity)|(nan)", re.IGNORECASE)
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))"
)
_DURATION_RE = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def go_quote(text: str) -> str:
    """``%q`` of Go's fmt for the texts seen in parameters (quotes, backslashes and
    control characters escaped)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_go_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)``, or None where Go returns an error (including
    out-of-range values such as ``1e400``, which Go reports as ``ErrRange``)."""
    if _DECIMAL_RE.fullmatch(text):
        value = float(text)
        return None if math.isinf(value) else value
    if m := _SPECIAL_RE.fullmatch(text):
        if m.group(3):
            return math.nan
        return -math.inf if m.group(1) == "-" else math.inf
    if m := _HEX_RE.fullmatch(text):
        sign, whole, frac, exp = m.groups()
        whole, frac = (whole or "").replace("_", ""), (frac or "").replace("_", "")
        if not whole and not frac:
            return None
        try:
            value = float.fromhex(f"{sign}0x{whole or '0'}.{frac or '0'}p{exp.replace('_', '')}")
        except OverflowError:
            return None
        return None if math.isinf(value) else value
    return None


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year, even 0)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _rfc3339_ns(text: str) -> int | None:
    m = _RFC3339_RE.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zulu, sign, off_h, off_m = m.group(7), m.group(8), m.group(9), m.group(10), m.group(11)
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(month, year):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset_s = 0
    if not zulu:
        oh, om = int(off_h), int(off_m)
        if oh > 24 or om > 60:
            return None
        offset_s = (oh * 3600 + om * 60) * (-1 if sign == "-" else 1)
    ns = int((frac or "0")[:9].ljust(9, "0"))
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s
    return seconds * _NS + ns


def parse_time(text: str) -> int:
    """Milliseconds since the epoch for a ``time``/``start``/``end`` parameter, as
    Prometheus computes them. Raises ValueError with Prometheus's message."""
    value = parse_go_float(text)
    if value is not None:
        if math.isfinite(value) and abs(value) < 9.2e15:
            whole = math.trunc(value)
            frac = value - whole
            # Go: ns = math.Round(frac*1000)/1000; time.Unix(s, int64(ns*1e9)); then
            # timestamp.FromTime floors to the millisecond. Same float steps here.
            rounded = _go_round(frac * 1000) / 1000
            ms = (whole * _NS + int(rounded * _NS)) // 1_000_000
            if MIN_TIME_MS <= ms <= MAX_TIME_MS:
                return ms
    else:
        total = _rfc3339_ns(text)
        if total is not None:
            ms = total // 1_000_000
            if MIN_TIME_MS <= ms <= MAX_TIME_MS:
                return ms
        if text == MIN_TIME_TEXT:
            return MIN_TIME_MS
        if text == MAX_TIME_TEXT:
            return MAX_TIME_MS
    raise ValueError(f"cannot parse {go_quote(text)} to a valid timestamp")


def _go_round(x: float) -> float:
    """Go's math.Round: half away from zero (Python's round() rounds half to even)."""
    return float(math.copysign(math.floor(abs(x) + 0.5), x))


def parse_duration_ns(text: str) -> int:
    """Nanoseconds for a ``step``/``timeout`` parameter, as Prometheus computes them
    (seconds as a float, truncated to the nanosecond, or ``1h30m``). May be zero or
    negative: the caller decides what that means. Raises ValueError."""
    value = parse_go_float(text)
    if value is not None:
        if math.isnan(value):
            raise ValueError(f"cannot parse {go_quote(text)} to a valid duration")
        ns = value * _NS
        if ns > _INT64_MAX or ns < _INT64_MIN:
            raise ValueError(f"cannot parse {go_quote(text)} to a valid duration. It overflows int64")
        return int(ns)
    if text and (m := _DURATION_RE.fullmatch(text)) and any(m.groups()):
        total_ms = 0
        for amount, unit_ms in zip(m.groups(), _DURATION_UNITS_MS, strict=True):
            if amount:
                total_ms += int(amount) * unit_ms
        if total_ms * 1_000_000 <= _INT64_MAX:
            return total_ms * 1_000_000
    raise ValueError(f"cannot parse {go_quote(text)} to a valid duration")


def format_time(ms: int) -> str:
    """Unix seconds with the milliseconds Prometheus keeps: ``1700000000.5``."""
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    whole, frac = divmod(ms, 1000)
    text = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    return sign + text


def format_duration(ms: int) -> str:
    """A step or timeout as seconds, as clients send it: ``15``, ``0.25``."""
    return format_time(ms)
