"""``scalepilot backup`` and ``scalepilot restore``: the store as one file, and back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from scalepilot.adapters.store.backup import BackupInfo, Progress, backup, restore
from scalepilot.domain.store import StoreError
from scalepilot.faces.cli.common import DEFAULT_CONFIG, console, err_console
from scalepilot.faces.cli.inspect_cmds import data_dir_of

T = TypeVar("T")


def _copying(what: str, run: Callable[[Progress], T]) -> T:
    """``run``'s result, with a progress bar of the bytes copied on a terminal; a store
    error is printed and exits 1."""
    bar = RichProgress(
        TextColumn(f"{what:<9}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    with bar:
        task = bar.add_task(what, total=None)
        try:
            return run(lambda done, total: bar.update(task, completed=done, total=total))
        except StoreError as exc:
            bar.stop()
            err_console.print(f"error: {exc}", highlight=False, markup=False)
            raise typer.Exit(1) from None


def _summary(info: BackupInfo) -> str:
    return (
        f"{info.size_bytes / 1e6:,.1f} MB, {info.series:,} series, {info.events:,} events, "
        f"schema {info.schema_version}, integrity ok"
    )


def backup_cmd(
    output: Path | None = typer.Option(
        None, "-o", "--output", help="The backup file to write (default scalepilot-backup-<UTC time>.db here)."
    ),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
) -> None:
    """Copy the store to one file, consistently, while scalepilot keeps running.

    The copy holds everything flushed (samples up to storage.flush_interval old), the
    events, the autoscalers' state, config revisions and undelivered notifications; it
    is checked before it gets its name, and an existing file is never overwritten.

    [b]Examples[/b]

      scalepilot backup -c scalepilot.yaml

      scalepilot backup --data-dir /var/lib/scalepilot -o /backups/scalepilot-$(date +%F).db
    """
    source, _ = data_dir_of(config, data_dir)
    dest = output or Path(f"scalepilot-backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db")
    info = _copying("backup", lambda progress: backup(source, dest, progress=progress))
    console.print(f"backed up {source} to {info.path}: {_summary(info)}", highlight=False, soft_wrap=True)


def restore_cmd(
    backup_file: Path = typer.Argument(..., help="A file written by scalepilot backup."),
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Config naming the data directory."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (overrides -c)."),
    force: bool = typer.Option(
        False, "--force", help="Restore over an existing store (moved aside to store.db.before-restore-<time>)."
    ),
) -> None:
    """Make a backup the store of a data directory. Stop scalepilot first: a running one
    holds the directory's lock and the restore is refused.

    The backup is checked before anything changes; an existing store is moved aside, not
    deleted. Start scalepilot afterwards as usual.

    [b]Examples[/b]

      scalepilot restore scalepilot-backup-20261207T110000Z.db --data-dir /var/lib/scalepilot

      scalepilot restore last.db -c scalepilot.yaml --force
    """
    target, _ = data_dir_of(config, data_dir)
    info, kept = _copying("restore", lambda progress: restore(backup_file, target, force=force, progress=progress))
    console.print(f"restored {backup_file} into {target}: {_summary(info)}", highlight=False, soft_wrap=True)
    if kept is not None:
        console.print(f"the store it replaced is kept as {kept}", highlight=False, soft_wrap=True)
