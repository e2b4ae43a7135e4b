"""Durations and byte sizes as people write them in YAML.

Durations use Prometheus's notation (``500ms``, ``15s``, ``5m``, ``1h30m``, ``2d``, ``1w``,
``1y``) and also accept a bare number of seconds. Internally a duration is a ``float`` of
seconds: plain, cheap to compare, and what the pure control code wants.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

_UNITS_S = {"y": 365 * 86400.0, "w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION_RE = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_PATTERN = r"^((\d+)(y|w|d|h|m|s|ms))+$|^\d+(\.\d+)?$"


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration. Raises ValueError on anything else."""
    text = text.strip()
    if text in ("0", ""):
        if text == "":
            raise ValueError("empty duration")
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)  # bare seconds
    m = _DURATION_RE.fullmatch(text)
    if m is None or not any(m.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 15s, 5m, 1h30m, 7d)")
    total = 0.0
    for amount, unit in zip(m.groups(), ("y", "w", "d", "h", "m", "s", "ms"), strict=True):
        if amount:
            total += int(amount) * _UNITS_S[unit]
    return total


def format_duration(seconds: float) -> str:
    """The shortest Prometheus-style spelling: 90 -> ``1m30s``, 0.25 -> ``250ms``."""
    if seconds == 0:
        return "0s"
    ms = round(seconds * 1000)
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def _coerce_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise PydanticCustomError("duration", "must be a duration such as 15s, 5m or 1h30m")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise PydanticCustomError("duration", "{reason}", {"reason": str(exc)}) from None
    raise PydanticCustomError("duration", "must be a duration such as 15s, 5m or 1h30m")


def _positive(value: float) -> float:
    if value <= 0:
        raise PydanticCustomError("duration_positive", "must be greater than 0s")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise PydanticCustomError("duration_negative", "must not be negative")
    return value


_DURATION_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string", "pattern": _DURATION_PATTERN, "examples": ["15s", "5m", "1h30m"]},
            {"type": "number", "minimum": 0, "description": "seconds"},
        ]
    }
)
_DURATION_SERIALIZER = PlainSerializer(format_duration, return_type=str, when_used="json")

Duration = Annotated[
    float,
    BeforeValidator(lambda v: _non_negative(_coerce_duration(v))),
    _DURATION_SCHEMA,
    _DURATION_SERIALIZER,
]
"""A non-negative duration, in seconds."""

PositiveDuration = Annotated[
    float,
    BeforeValidator(lambda v: _positive(_coerce_duration(v))),
    _DURATION_SCHEMA,
    _DURATION_SERIALIZER,
]
"""A duration strictly greater than zero, in seconds."""


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)")


def _coerce_size(value: Any) -> int:
    if isinstance(value, bool):
        raise PydanticCustomError("size", "must be a size such as 512KiB or 16MiB")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (m := _SIZE_RE.fullmatch(value.strip())) and m.group(2).lower() in _SIZE_UNITS:
        size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])
    else:
        raise PydanticCustomError("size", "must be a size such as 512KiB or 16MiB")
    if size < 0:
        raise PydanticCustomError("size", "must not be negative")
    return size


ByteSize = Annotated[
    int,
    BeforeValidator(_coerce_size),
    WithJsonSchema({"anyOf": [{"type": "string", "examples": ["16MiB", "512KiB"]}, {"type": "integer", "minimum": 0}]}),
]
"""A number of bytes; accepts ``16MiB``, ``512KiB``, ``10MB`` or a plain integer."""
