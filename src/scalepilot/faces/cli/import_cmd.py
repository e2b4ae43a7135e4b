"""``scalepilot import``: backfill an OpenMetrics file with timestamps into the data
directory, as ``promtool tsdb create-blocks-from openmetrics`` does for Prometheus.

The rules and the all-or-nothing behaviour are the importer's
(:mod:`scalepilot.service.importer`); this is the face: where the data directory is,
a progress bar, and promtool-style exit codes (0 imported, 1 not).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from scalepilot.adapters.store import SQLiteStore, StoreError
from scalepilot.config.models import StorageSettings
from scalepilot.faces.cli.common import DEFAULT_CONFIG, console, err_console, load_or_exit
from scalepilot.service.importer import (
    BackfillError,
    BackfillInterrupted,
    ImportProgress,
    ImportSummary,
    InvalidBackfill,
    import_openmetrics,
)


def import_cmd(
    file: Path = typer.Argument(
        ...,
        help="OpenMetrics file: a timestamp on every sample, '# EOF' on the last line.",
        exists=True,
        dir_okay=False,
        readable=True,
        show_default=False,
    ),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
) -> None:
    """Import (backfill) historical samples from an OpenMetrics file.

    The file is checked completely first: an invalid one prints [b]line N: reason[/b],
    imports nothing and exits 1. Re-importing a file is harmless (a sample with the same
    series and timestamp replaces the stored one). Samples older than the raw retention
    (storage.retention.raw, 15d) are kept as 1m/5m rollups only. The data directory must
    not be in use by a running scalepilot: stop it first.

    [b]Examples[/b]

      scalepilot import history.om

      scalepilot import history.om --data-dir /var/lib/scalepilot

      scalepilot import export.om -c /etc/scalepilot/scalepilot.yaml
    """
    target, settings = _storage(config, data_dir)
    try:
        store = SQLiteStore.open(target, settings)
    except StoreError as exc:
        _error(f"error: cannot open the data directory {target}: {exc}")
        raise typer.Exit(1) from None
    try:
        with _Bar() as bar:
            summary = import_openmetrics(file, store, progress=bar.update)
    except InvalidBackfill as exc:
        _error(f"{file}: {exc}")
        _error("nothing was imported")
        raise typer.Exit(1) from None
    except BackfillInterrupted as exc:
        _error(f"{file}: {exc}")
        _error("importing the file again after fixing the cause is safe")
        raise typer.Exit(1) from None
    except BackfillError as exc:
        _error(f"{file}: {exc}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    _report(summary, target, settings)


def _error(text: str) -> None:
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def _storage(config: Path, data_dir: Path | None) -> tuple[Path, StorageSettings]:
    loaded = load_or_exit(config) if config.exists() else None
    settings = loaded.config.storage if loaded else StorageSettings()
    if data_dir is not None:
        return data_dir, settings
    return (loaded.data_dir() if loaded else settings.data_dir), settings


def _report(summary: ImportSummary, target: Path, settings: StorageSettings) -> None:
    if summary.samples == 0 or summary.min_timestamp_ms is None or summary.max_timestamp_ms is None:
        console.print(f"the file holds no samples; nothing imported into {target}", highlight=False, soft_wrap=True)
        return
    console.print(
        f"imported {summary.samples:,} samples of {summary.series:,} series ({summary.families} families) "
        f"from {_iso(summary.min_timestamp_ms)} to {_iso(summary.max_timestamp_ms)} into {target} "
        f"in {summary.seconds:.1f}s",
        highlight=False,
        soft_wrap=True,
    )
    raw_cut_ms = (time.time() - settings.retention.raw) * 1000
    if summary.min_timestamp_ms < raw_cut_ms:
        err_console.print(
            f"warning: samples before {_iso(int(raw_cut_ms))} are older than storage.retention.raw "
            f"({settings.retention.raw / 86400:g}d): they are kept as 1m/5m rollups only, "
            "and not at all beyond storage.retention.rollup_5m",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Bar:
    """Two bars on standard error, the checking pass and the importing pass; nothing
    when standard error is not a terminal (a log file wants the summary only)."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[samples]:>12,} samples"),
            TimeRemainingColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Bar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def update(self, p: ImportProgress) -> None:
        task = self._tasks.get(p.phase)
        if task is None:
            label = "checking" if p.phase == "check" else "importing"
            task = self._tasks[p.phase] = self._progress.add_task(label, total=p.bytes_total, samples=0)
        self._progress.update(task, completed=p.bytes_done, samples=p.samples)
