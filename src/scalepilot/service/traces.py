"""Read request-rate traces and policy files for ``scalepilot simulate``.

Three trace formats, each checked completely; a malformed file raises
:class:`TraceFormatError` naming the file, the line and what is wrong with it:

``csv``
    A header with ``timestamp`` and ``rps`` columns (others are ignored); timestamps in
    RFC 3339 (``2024-05-01T12:00:00Z``) or unix seconds, strictly increasing; ``rps``
    the mean request rate from that timestamp to the next.
``worldcup98``
    ``timestamp,count_raw,count_thousand``: requests per 5-minute bucket, naive
    timestamps (``1998-05-30 21:50:00``) read as UTC; rps = count_raw / 300.
``azure-functions``
    The Azure Functions 2019 invocation counts: ``HashFunction,HashApp,HashOwner,
    minute_1..minute_N``, one row per function. The fleet's rate is the per-minute sum
    over rows ÷ 60, starting at 2019-07-15T00:00:00Z (the public data has no dates).

A policy file is YAML with an ``autoscaling:`` block as in ``scalepilot.yaml``, validated
by the same models, so its errors carry file:line:column too.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from scalepilot.config.loader import load_section
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation.trace import Trace
from scalepilot.domain.errors import ScalepilotError

FORMATS = ("csv", "worldcup98", "azure-functions")
AZURE_EPOCH = datetime(2019, 7, 15, tzinfo=UTC).timestamp()


class TraceFormatError(ScalepilotError):
    """The trace file cannot be used (permanent: the file must be fixed)."""

    def __init__(self, file: Path | str, line: int | None, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"{where}: {reason}")


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank line."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            try:
                for row in reader:
                    if row and any(cell.strip() for cell in row):
                        yield reader.line_num, row
            except csv.Error as exc:
                raise TraceFormatError(path, reader.line_num, f"not valid CSV: {exc}") from exc
    except OSError as exc:
        raise TraceFormatError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TraceFormatError(path, None, f"not UTF-8 text: {exc.reason}") from exc


def parse_timestamp(text: str, *, naive_utc: bool = False) -> float:
    """Unix seconds from unix seconds or RFC 3339 (``naive_utc``: also without a zone,
    read as UTC). Raises ValueError."""
    stripped = text.strip()
    try:
        value = float(stripped)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"timestamp {stripped!r} is not a finite number")
        return value
    try:
        parsed = datetime.fromisoformat(stripped.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"timestamp {stripped!r} is neither unix seconds nor RFC 3339") from None
    if parsed.tzinfo is None:
        if not naive_utc:
            raise ValueError(f"timestamp {stripped!r} has no time zone: add Z or an offset such as +00:00")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _rate(text: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text.strip()!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{column} {text.strip()!r} must be a finite number, not negative")
    return value


def _series(
    path: Path, rows: Iterator[tuple[int, list[str]]], ts_col: int, value_col: int, value_name: str, **kw: Any
) -> Trace:
    timestamps: list[float] = []
    rates: list[float] = []
    divisor: float = kw.get("divisor", 1.0)
    naive_utc: bool = kw.get("naive_utc", False)
    previous: tuple[int, float] | None = None
    for line, row in rows:
        if len(row) <= max(ts_col, value_col):
            raise TraceFormatError(
                path, line, f"expected at least {max(ts_col, value_col) + 1} columns, got {len(row)}"
            )
        try:
            ts = parse_timestamp(row[ts_col], naive_utc=naive_utc)
            rate = _rate(row[value_col], value_name) / divisor
        except ValueError as exc:
            raise TraceFormatError(path, line, str(exc)) from None
        if previous is not None and ts <= previous[1]:
            raise TraceFormatError(
                path,
                line,
                f"timestamp {row[ts_col].strip()!r} does not increase (line {previous[0]} has a later or equal one)",
            )
        previous = (line, ts)
        timestamps.append(ts)
        rates.append(rate)
    if not timestamps:
        raise TraceFormatError(path, None, "no data rows after the header")
    return Trace.of(timestamps, rates)


def _header(path: Path, rows: Iterator[tuple[int, list[str]]], required: tuple[str, ...]) -> dict[str, int]:
    try:
        line, header = next(rows)
    except StopIteration:
        raise TraceFormatError(path, None, "the file is empty") from None
    names = {cell.strip().lower(): i for i, cell in enumerate(header)}
    missing = [c for c in required if c not in names]
    if missing:
        raise TraceFormatError(
            path, line, f"the header needs column(s) {', '.join(missing)}; found {', '.join(c.strip() for c in header)}"
        )
    return names


def load_csv(path: Path) -> Trace:
    rows = _rows(path)
    cols = _header(path, rows, ("timestamp", "rps"))
    return _series(path, rows, cols["timestamp"], cols["rps"], "rps")


def load_worldcup98(path: Path) -> Trace:
    rows = _rows(path)
    cols = _header(path, rows, ("timestamp", "count_raw"))
    return _series(path, rows, cols["timestamp"], cols["count_raw"], "count_raw", divisor=300.0, naive_utc=True)


def load_azure_functions(path: Path) -> Trace:
    rows = _rows(path)
    try:
        line, header = next(rows)
    except StopIteration:
        raise TraceFormatError(path, None, "the file is empty") from None
    minutes = [i for i, cell in enumerate(header) if cell.strip().startswith("minute_")]
    if not minutes:
        raise TraceFormatError(path, line, "the header has no minute_1..minute_N columns")
    totals = [0.0] * len(minutes)
    seen = 0
    for line, row in rows:
        if len(row) != len(header):
            raise TraceFormatError(path, line, f"expected {len(header)} columns as in the header, got {len(row)}")
        for j, col in enumerate(minutes):
            try:
                totals[j] += _rate(row[col], header[col].strip())
            except ValueError as exc:
                raise TraceFormatError(path, line, str(exc)) from None
        seen += 1
    if not seen:
        raise TraceFormatError(path, None, "no function rows after the header")
    return Trace.of(AZURE_EPOCH + 60.0 * np.arange(len(minutes), dtype=np.float64), np.asarray(totals) / 60.0)


def load_trace(path: Path, fmt: str = "csv") -> Trace:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "csv":
        return load_csv(path)
    if fmt == "worldcup98":
        return load_worldcup98(path)
    if fmt == "azure-functions":
        return load_azure_functions(path)
    raise TraceFormatError(path, None, f"unknown trace format {fmt!r}: choose from {', '.join(FORMATS)}")


def load_policy(path: Path) -> AutoscalingSettings:
    """The ``autoscaling:`` block of a YAML file, validated as in ``scalepilot.yaml``."""
    return load_section(path, "autoscaling", AutoscalingSettings)
