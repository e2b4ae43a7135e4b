"""Go's float formatting, as Prometheus uses it, so our strings are byte-identical.

Two formats matter: ``strconv.FormatFloat(f, 'f', -1, 64)`` (``count_values`` label
values) and the HTTP API's sample values (``jsonutil.MarshalFloat``: ``'f'``, except
``'e'`` below 1e-6 and from 1e21 on). Both print the shortest digits that round-trip,
which is what Python's ``repr`` computes; only the layout differs.
"""

from __future__ import annotations

import math
from decimal import Decimal


def _digits(value: float) -> tuple[bool, str, int]:
    """Sign, shortest significant digits and exponent: ``value = ±digits × 10**exp``."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    return bool(sign), "".join(map(str, digits)), exponent


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def format_go_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'f', -1, 64)``: ``1e+21`` is written out in full."""
    special = _special(value)
    if special is not None:
        return special
    negative, digits, exponent = _digits(value)
    if exponent >= 0:
        text = digits + "0" * exponent
    else:
        point = len(digits) + exponent
        text = "0." + "0" * -point + digits if point <= 0 else digits[:point] + "." + digits[point:]
    return ("-" if negative else "") + text


def _format_exponent(value: float) -> str:
    negative, digits, exponent = _digits(value)
    power = len(digits) - 1 + exponent
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if negative else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"


def format_sample_value(value: float) -> str:
    """A sample value as the Prometheus HTTP API writes it (``jsonutil.MarshalFloat``)."""
    # Fast path for the common case: Python's repr already has Go's shortest digits and,
    # without an exponent, Go's layout too, bar the trailing ".0" of whole numbers.
    text = repr(value)
    if "e" not in text and "n" not in text:
        magnitude = abs(value)
        if magnitude == 0 or 1e-6 <= magnitude < 1e21:
            return text[:-2] if text.endswith(".0") else text
    special = _special(value)
    if special is not None:
        return special
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return _format_exponent(value)
    return format_go_float(value)
