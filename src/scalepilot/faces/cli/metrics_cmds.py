"""``scalepilot check-metrics``: promtool check metrics, for both exposition formats."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import typer

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser import (
    ACCEPT_HEADER,
    ExpositionFormat,
    check_metrics,
    format_from_content_type,
    format_from_path,
)
from scalepilot.faces.cli.common import console, err_console


def _sniff(data: bytes) -> ExpositionFormat:
    return ExpositionFormat.OPENMETRICS if data.rstrip().endswith(b"# EOF") else ExpositionFormat.TEXT


def check_metrics_cmd(
    source: str = typer.Argument(..., help="A file, an http(s):// URL, or - for standard input."),
    fmt: ExpositionFormat | None = typer.Option(
        None,
        "--format",
        help="Override the format; by default it comes from the Content-Type "
        "(URL), the extension (.om / .prom) or a trailing '# EOF' (file, stdin).",
    ),
    timeout: float = typer.Option(10.0, help="Seconds to wait for a URL."),
) -> None:
    """Check that a metrics page is valid Prometheus text 0.0.4 or OpenMetrics 1.0.

    Prints a one-line summary and exits 0 for a valid page; prints [b]line N: reason[/b]
    and exits 1 for an invalid one.

    [b]Examples[/b]

      scalepilot check-metrics http://127.0.0.1:8420/metrics

      curl -s localhost:9100/metrics | scalepilot check-metrics -

      scalepilot check-metrics page.om --format openmetrics
    """
    if source.startswith(("http://", "https://")):
        try:
            resp = httpx.get(source, headers={"Accept": ACCEPT_HEADER}, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            err_console.print(f"{source}: cannot fetch: {exc}", highlight=False, markup=False)
            raise typer.Exit(1) from None
        if resp.status_code >= 300:
            err_console.print(f"{source}: HTTP status {resp.status_code}", highlight=False, markup=False)
            raise typer.Exit(1)
        data = resp.content
        fmt = fmt or format_from_content_type(resp.headers.get("content-type"))
    elif source == "-":
        data = sys.stdin.buffer.read()
        fmt = fmt or _sniff(data)
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            err_console.print(f"{source}: cannot read: {exc.strerror}", highlight=False, markup=False)
            raise typer.Exit(1) from None
        fmt = fmt or format_from_path(source) or _sniff(data)
    try:
        result = check_metrics(data, fmt)
    except ParseError as exc:
        err_console.print(f"{source}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    console.print(f"{source}: {result.summary()}", highlight=False, markup=False)
