"""Go's ``fmt`` as Prometheus templates use it, so rendered text matches byte for byte.

Alert labels and annotations are identity and evidence: an alert whose summary reads
``1.234567e+06`` in Prometheus must read the same here, or a team moving its rules over
sees different notifications and different alert identities (templated labels). So the
few corners of Go's formatting that templates reach are reproduced: ``%v`` of a float64
(shortest digits, exponent from 1e+06 and below 1e-04), ``%g``/``%e``/``%f`` with
precision, ``+Inf``/``NaN``, ``%q`` with Go's escapes, ``map[k:v]`` printing, and the
``%!verb(type=value)`` marks Go writes for a wrong argument.

Values are Go values in Python clothes: ``bool``, ``int`` (Go ``int``), ``float``
(``float64``), ``str``, ``dict[str, str]`` (``map[string]string``), ``None`` (nil), and
the few template types that define ``go_string`` / ``go_type``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class GoValue(Protocol):
    """A value with Go's ``%v`` spelling and type name (time.Time, a query sample...)."""

    def go_string(self) -> str: ...

    def go_type(self) -> str: ...


def go_type(value: Any) -> str:
    """Go's ``%T`` of a value."""
    if value is None:
        return "<nil>"
    if isinstance(value, GoValue):
        return value.go_type()
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]string"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


# --- floats ---------------------------------------------------------------------------
def _special(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return None


def _shortest_digits(f: float) -> tuple[str, int]:
    """The shortest decimal digits that round-trip ``abs(f)`` and the position of the
    decimal point (``0.0123`` -> ``("123", -1)``), as Go's ``strconv`` computes them."""
    if f == 0:
        return "0", 1
    _sign, digits, exponent = Decimal(repr(abs(f))).normalize().as_tuple()
    text = "".join(str(d) for d in digits)
    assert isinstance(exponent, int)
    return text, len(text) + exponent


def format_float_v(f: float) -> str:
    """``%v`` of a float64: strconv's ``'g'`` with the shortest round-trip digits, in
    exponent form when the exponent is below -4 or at least 6 (``123456`` but
    ``1.234567e+06``, ``1e-05``)."""
    special = _special(f)
    if special is not None:
        return special
    neg = math.copysign(1.0, f) < 0
    digits, dp = _shortest_digits(f)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        body = _fmt_e(digits, exp, len(digits) - 1)
    else:
        body = _fmt_f(digits, dp, max(len(digits) - dp, 0))
    return ("-" if neg else "") + body


def _fmt_e(digits: str, exp: int, prec: int) -> str:
    first = digits[0]
    rest = digits[1:].ljust(prec, "0")[:prec] if prec > 0 else ""
    mantissa = first + ("." + rest if prec > 0 else "")
    sign = "-" if exp < 0 else "+"
    return f"{mantissa}e{sign}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    if dp <= 0:
        integer = "0"
        frac = "0" * (-dp) + digits
    elif dp >= len(digits):
        integer = digits + "0" * (dp - len(digits))
        frac = ""
    else:
        integer, frac = digits[:dp], digits[dp:]
    frac = frac.ljust(prec, "0")[:prec]
    return integer + ("." + frac if prec > 0 else "")


# --- printf ---------------------------------------------------------------------------
@dataclass(slots=True)
class _Spec:
    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    prec: int | None = None


def _pad(text: str, spec: _Spec, numeric: bool = False) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = spec.width - len(text)
    if spec.minus:
        return text + " " * fill
    if spec.zero and numeric:
        sign = text[0] if text[:1] in ("+", "-", " ") else ""
        return sign + "0" * fill + text[len(sign) :]
    return " " * fill + text


def _sign(text: str, negative: bool, spec: _Spec) -> str:
    if negative:
        return "-" + text
    if spec.plus:
        return "+" + text
    if spec.space:
        return " " + text
    return text


def _format_float(f: float, verb: str, spec: _Spec) -> str:
    special = _special(f)
    if special is not None:
        if special == "+Inf" and not spec.plus:
            special = " Inf" if spec.space else "+Inf"
        return _pad(special, _Spec(minus=spec.minus, width=spec.width))  # Go pads these with spaces
    negative = math.copysign(1.0, f) < 0
    a = abs(f)
    if verb in ("v", "g", "G"):
        if spec.prec is None:
            body = format_float_v(a)
        else:
            flag = "#" if spec.sharp else ""
            body = f"%{flag}.{max(spec.prec, 1)}g" % a
        if verb == "G":
            body = body.upper()
    elif verb in ("e", "E"):
        body = f"%.{6 if spec.prec is None else spec.prec}{verb}" % a
    else:  # f, F
        body = f"%.{6 if spec.prec is None else spec.prec}f" % a
    return _pad(_sign(body, negative, spec), spec, numeric=True)


class _BadVerb(Exception):
    pass


def _format_int(n: int, verb: str, spec: _Spec) -> str:
    negative = n < 0
    a = abs(n)
    if verb in ("d", "v"):
        body = str(a)
    elif verb == "x":
        body = format(a, "x")
        if spec.sharp:
            body = "0x" + body
    elif verb == "X":
        body = format(a, "X")
        if spec.sharp:
            body = "0X" + body
    elif verb == "o":
        body = format(a, "o")
        if spec.sharp:
            body = "0" + body
    elif verb == "b":
        body = format(a, "b")
    elif verb == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", spec)
    elif verb == "q":
        return _pad(go_quote_rune(n), spec)
    elif verb == "U":
        body = f"U+{a:04X}"
    else:
        raise _BadVerb
    if spec.prec is not None:
        body = body.rjust(spec.prec, "0")
        spec = _Spec(spec.minus, spec.plus, spec.sharp, spec.space, False, spec.width, spec.prec)
    return _pad(_sign(body, negative, spec), spec, numeric=True)


def _format_str(s: str, verb: str, spec: _Spec) -> str:
    if spec.prec is not None:
        s = s[: spec.prec]
    if verb in ("s", "v"):
        return _pad(s, spec)
    if verb == "q":
        return _pad(go_quote(s), spec)
    if verb in ("x", "X"):
        body = s.encode().hex()
        return _pad(body.upper() if verb == "X" else body, spec)
    raise _BadVerb


def _format_known(value: Any, verb: str, spec: _Spec) -> str | None:
    """``value`` formatted with ``verb``, or None when the verb does not apply to it."""
    if isinstance(value, GoValue):
        if verb in ("v", "s"):
            return _pad(value.go_string(), spec)
        return None
    if isinstance(value, bool):
        if verb in ("v", "t"):
            return _pad("true" if value else "false", spec)
        return None
    if isinstance(value, int):
        return _format_int(value, verb, spec)
    if isinstance(value, float):
        if verb in ("v", "g", "G", "e", "E", "f", "F"):
            return _format_float(value, verb, spec)
        return None
    if isinstance(value, str):
        return _format_str(value, verb, spec)
    if value is None:
        if verb == "v":
            return _pad("<nil>", spec)
        return None
    if isinstance(value, dict):
        if verb in ("v", "s"):
            inner = " ".join(f"{format_value(k, verb)}:{format_value(v, verb)}" for k, v in sorted(value.items()))
            return _pad(f"map[{inner}]", spec)
        return None
    if isinstance(value, list):
        if verb in ("v", "s"):
            return _pad("[" + " ".join(format_value(v, verb) for v in value) + "]", spec)
        return None
    return None


def format_value(value: Any, verb: str = "v", spec: _Spec | None = None) -> str:
    """One operand formatted with one verb, Go-style."""
    spec = spec or _Spec()
    try:
        known = _format_known(value, verb, spec)
    except _BadVerb:
        known = None
    if known is not None:
        return known
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(value)}={format_value(value, 'v', spec)})"


def sprint(values: list[Any]) -> str:
    """``fmt.Sprint``: a space between operands when neither side is a string."""
    out: list[str] = []
    for i, v in enumerate(values):
        if i > 0 and not isinstance(v, str) and not isinstance(values[i - 1], str):
            out.append(" ")
        out.append(format_value(v))
    return "".join(out)


def sprintln(values: list[Any]) -> str:
    return " ".join(format_value(v) for v in values) + "\n"


def sprintf(fmt: str, args: list[Any]) -> str:
    """``fmt.Sprintf`` for the verbs and flags templates use."""
    out: list[str] = []
    i, n, argi = 0, len(fmt), 0
    while i < n:
        pct = fmt.find("%", i)
        if pct < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:pct])
        i = pct + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = _Spec()
        while i < n and fmt[i] in "-+# 0":
            c = fmt[i]
            if c == "-":
                spec.minus, spec.zero = True, False
            elif c == "+":
                spec.plus = True
            elif c == "#":
                spec.sharp = True
            elif c == " ":
                spec.space = True
            elif c == "0":
                spec.zero = not spec.minus
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                spec.width = args[argi]
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                    spec.prec = max(args[argi], 0)
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.prec = int(fmt[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb == "T":
            out.append(_pad(go_type(arg), spec))
        elif verb == "v" and spec.sharp:
            out.append(go_quote(arg) if isinstance(arg, str) else format_value(arg, "v", spec))
        else:
            out.append(format_value(arg, verb, spec))
    if argi < len(args):
        extra = ", ".join(f"{go_type(a)}={format_value(a)}" if a is not None else "<nil>" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# --- quoting ----------------------------------------------------------------------------
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """``strconv.Quote``: double quotes, Go escapes, printable Unicode kept as is."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_quote_rune(n: int) -> str:
    ch = chr(n) if 0 <= n <= 0x10FFFF else "\ufffd"
    if ch == "'":
        return "'\\''"
    inner = go_quote(ch)[1:-1]
    return f"'{inner.replace(chr(92) + chr(34), chr(34))}'"


def percent_g4(f: float) -> str:
    """``fmt.Sprintf("%.4g", f)``, the workhorse of Prometheus's humanize functions."""
    special = _special(f)
    if special is not None:
        return special
    return f"{f:.4g}"
