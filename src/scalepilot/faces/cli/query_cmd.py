"""``scalepilot query``: PromQL against the data directory, from the terminal.

It evaluates with the same engine as ``/api/v1/query`` but opens the data directory
read-only itself, so it works with or without a running scalepilot (which it never
disturbs) and on a copy of someone else's data. ``-o json`` prints exactly the ``data``
object of Prometheus's HTTP API, so scripts can switch between the two.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import typer
from rich.table import Table
from rich.text import Text

from scalepilot.domain.clock import iso_ms
from scalepilot.domain.labels import format_labels
from scalepilot.domain.query import QueryError, QueryResult, ResultType
from scalepilot.domain.samples import Float64Array
from scalepilot.domain.store import StoreError
from scalepilot.faces.cli.common import DEFAULT_CONFIG, Output, console, err_console

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
MAX_POINTS = 11_000


def parse_cli_time(text: str, now_ms: int) -> int:
    """``now``, ``now-1h``, ``now+5m``, or what the HTTP API takes (RFC 3339, unix
    seconds). Raises ValueError."""
    from scalepilot.adapters.prometheus.params import parse_duration_ns, parse_time

    stripped = text.strip()
    if stripped.startswith("now"):
        rest = stripped[3:].strip()
        if not rest:
            return now_ms
        if rest[0] not in "+-" or not rest[1:].strip():
            raise ValueError(f"cannot parse {text!r}: use now, now-1h or now+5m")
        offset_ms = parse_duration_ns(rest[1:].strip()) // 1_000_000
        return now_ms + offset_ms if rest[0] == "+" else now_ms - offset_ms
    return parse_time(stripped)


def caret_lines(expr: str, column: int) -> list[str]:
    """The line of ``expr`` holding 1-based ``column`` (counted over the whole text) and
    a caret under it."""
    offset = max(0, column - 1)
    line_start = expr.rfind("\n", 0, offset) + 1
    line_end = expr.find("\n", offset)
    line = expr[line_start : line_end if line_end != -1 else len(expr)]
    return [f"  {line}", "  " + " " * (offset - line_start) + "^"]


def sparkline(values: Float64Array, width: int = SPARK_WIDTH) -> str:
    """Unicode blocks, one per slice of the series (its last value), scaled between
    the series' own min and max; a gap is a space."""
    if len(values) == 0:
        return ""
    slices = np.array_split(values, min(width, len(values)))
    lasts = [float(s[-1]) for s in slices]
    finite = [v for v in lasts if math.isfinite(v)]
    if not finite:
        return " " * len(lasts)
    lo, hi = min(finite), max(finite)
    out = []
    for v in lasts:
        if not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[min(len(BLOCKS) - 1, int((v - lo) / (hi - lo) * len(BLOCKS)))])
    return "".join(out)


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def _print_table(result: QueryResult) -> None:
    if result.type is ResultType.SCALAR and result.scalar is not None:
        t, v = result.scalar
        console.print(f"scalar  {_value(v)}  at {iso_ms(t)}", highlight=False)
        return
    if result.type is ResultType.STRING and result.string is not None:
        t, text = result.string
        console.print(f"string  {text!r}  at {iso_ms(t)}", highlight=False, markup=False)
        return
    if result.type is ResultType.VECTOR:
        table = Table(box=None, header_style="bold")
        table.add_column("series", overflow="fold")
        table.add_column("value", justify="right")
        table.add_column("time")
        for sample in result.vector:
            table.add_row(Text(format_labels(sample.labels)), _value(sample.value), iso_ms(sample.timestamp_ms))
        if result.vector:
            console.print(table)
        else:
            console.print("no data", style="yellow")
        return
    if not result.matrix:
        console.print("no data", style="yellow")
        return
    first = min(int(r.timestamps[0]) for r in result.matrix if len(r.timestamps))
    last = max(int(r.timestamps[-1]) for r in result.matrix if len(r.timestamps))
    console.print(f"{len(result.matrix)} series from {iso_ms(first)} to {iso_ms(last)}", highlight=False)
    # The sparkline gets what is left of the terminal after the numbers, within limits.
    spark_width = max(8, min(SPARK_WIDTH, console.width // 5))
    table = Table(box=None, header_style="bold")
    table.add_column("series", overflow="fold", ratio=1)
    table.add_column("trend", no_wrap=True, min_width=spark_width)
    for col in ("last", "min", "max", "points"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in result.matrix:
        finite = r.values[np.isfinite(r.values)]
        table.add_row(
            Text(format_labels(r.labels)),
            Text(sparkline(r.values, spark_width), style="cyan"),
            _short(float(r.values[-1])) if len(r.values) else "",
            _short(float(finite.min())) if len(finite) else "",
            _short(float(finite.max())) if len(finite) else "",
            str(len(r.values)),
        )
    console.print(table)


def _short(v: float) -> str:
    """A value for a narrow column: six significant digits."""
    return _value(v) if not math.isfinite(v) else f"{v:.6g}"


def _time_option(option: str, text: str, now_ms: int) -> int:
    try:
        return parse_cli_time(text, now_ms)
    except ValueError as exc:
        raise _fail(f"{option}: {exc} (give RFC 3339, unix seconds, now or now-1h)") from None


def _fail(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(1)


def query_cmd(
    expr: str = typer.Argument(..., help="A PromQL expression, e.g. 'sum by (code) (rate(http_requests_total[5m]))'."),
    at: str | None = typer.Option(None, "--at", help="Evaluation time: RFC 3339, unix seconds, now or now-1h."),
    start: str | None = typer.Option(None, "--start", help="Range query from this time (same forms as --at)."),
    end: str | None = typer.Option(None, "--end", help="Range query to this time; default now."),
    step: str = typer.Option("15s", "--step", help="Range query resolution: seconds or a duration (15s, 1m)."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
    output: Output = typer.Option(
        Output.table, "-o", "--output", help="table, or json: the data object of Prometheus's HTTP API."
    ),
) -> None:
    """Evaluate a PromQL query against the data directory.

    An instant query (at --at, or now), or with --start (--end, --step) a range query with a sparkline per series.

    -o json prints exactly the data object of Prometheus's HTTP API (resultType and result).

    Reads the data directory read-only, so it works next to a running scalepilot. A bad query exits 1.

    [b]Examples[/b]

      scalepilot query 'up'

      scalepilot query 'sum by (service) (rate(scalepilot_lb_requests_total[1m]))' --at now-10m

      scalepilot query 'rate(http_requests_total[5m])' --start now-1h --step 1m

      scalepilot query 'up == 0' --at 2025-01-31T12:00:00Z -o json --data-dir .scalepilot
    """
    # Imported here: the engine and numpy are not loaded for every other command.
    from scalepilot.control.query.engine import Engine
    from scalepilot.control.query.prometheus_json import to_prometheus_data
    from scalepilot.faces.cli.inspect_cmds import open_store

    now_ms = round(time.time() * 1000)
    ranged = start is not None or end is not None
    if ranged and at is not None:
        raise _fail("give --at for an instant query or --start/--end for a range query, not both")
    if end is not None and start is None:
        raise _fail("--end needs --start")
    if ranged:
        assert start is not None
        start_ms = _time_option("--start", start, now_ms)
        end_ms = _time_option("--end", end, now_ms) if end is not None else now_ms
    else:
        at_ms = _time_option("--at", at, now_ms) if at is not None else now_ms
    if ranged:
        from scalepilot.adapters.prometheus.params import parse_duration_ns

        try:
            step_ms = parse_duration_ns(step) // 1_000_000
        except ValueError as exc:
            raise _fail(f"--step: {exc}") from None
        if step_ms <= 0:
            raise _fail("--step must be at least 1ms")
        if end_ms < start_ms:
            raise _fail("--end must not be before --start")
        if (end_ms - start_ms) // step_ms > MAX_POINTS:
            raise _fail("more than 11,000 points per series: use a larger --step")

    store = open_store(config, data_dir)
    try:
        engine = Engine(store)
        result = engine.range(expr, start_ms, end_ms, step_ms) if ranged else engine.instant(expr, at_ms)
    except QueryError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        if exc.column is not None:
            for line in caret_lines(expr, exc.column):
                err_console.print(line, highlight=False, markup=False)
        raise typer.Exit(1) from None
    except StoreError as exc:
        raise _fail(f"reading the data directory: {exc}") from None
    finally:
        store.close()
    for warning in result.warnings:
        err_console.print(f"warning: {warning}", highlight=False, markup=False)
    if output is Output.json:
        typer.echo(json.dumps(to_prometheus_data(result), indent=2, ensure_ascii=False))
        return
    _print_table(result)
