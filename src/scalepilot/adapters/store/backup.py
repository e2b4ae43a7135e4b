"""Backups of the store: one consistent file, taken while scalepilot runs, and restored
into a data directory without losing what was there.

**Backup.** ``VACUUM INTO`` from a read-only connection copies the database as of one
read transaction: everything flushed (samples at most ``storage.flush_interval`` old),
events, state, config revisions and the notification outbox, compacted, in SQLite's
rollback-journal mode so the copy is a single self-contained file. The running
scalepilot is not paused (WAL readers do not block its writer). The copy is written
under a ``.partial`` name, checked (``PRAGMA integrity_check``, the schema version) and
only then renamed, so a crash or a full disk never leaves a truncated file under the
name asked for.

**Restore.** Takes the data directory's lock, so it refuses while a scalepilot writes
there; checks the backup the same way; moves an existing store aside
(``store.db.before-restore-<time>``, with its ``-wal`` and ``-shm``) rather than
deleting it; copies the backup in under a ``.partial`` name, fsyncs and renames it.
The next ``scalepilot run`` opens it as it opens any store (switching it to WAL).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scalepilot.adapters.store.errors import wrap_sqlite
from scalepilot.adapters.store.schema import DB_NAME, DataDirLock, check_version, connect, read_version
from scalepilot.domain.store import StoreError

Progress = Callable[[int, int], None]
"""Called with (bytes written, bytes expected) while a copy runs."""

_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    size_bytes: int
    schema_version: int
    series: int
    events: int


def backup(data_dir: Path, dest: Path, *, progress: Progress | None = None) -> BackupInfo:
    """Copy the store in ``data_dir`` to the new file ``dest`` (see the module's doc)."""
    source = Path(data_dir) / DB_NAME
    if not source.exists():
        raise StoreError(f"no scalepilot store in {data_dir} (no {DB_NAME})")
    dest = Path(dest)
    if dest.exists():
        raise StoreError(f"{dest} exists: choose a new file name (a backup never overwrites)")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)  # left by a copy that was interrupted
    expected = sum(p.stat().st_size for p in (source, _sibling(source, "-wal")) if p.exists())
    conn = connect(source, read_only=True)
    try:
        check_version(read_version(conn, source), source)
        _while_watching(lambda: _vacuum_into(conn, partial), partial, expected, progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    try:
        info = inspect_backup(partial)
    except StoreError:
        partial.unlink(missing_ok=True)
        raise
    _fsync(partial)
    partial.rename(dest)
    _fsync(dest.parent)  # the rename is durable only once the directory entry is on disk
    return BackupInfo(dest, info.size_bytes, info.schema_version, info.series, info.events)


def inspect_backup(path: Path) -> BackupInfo:
    """Check that ``path`` is a whole scalepilot store this version can open."""
    if not path.is_file():
        raise StoreError(f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise wrap_sqlite(exc, f"opening {path}") from exc
    try:
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a scalepilot backup: {exc}") from exc
        if result != ["ok"]:
            raise StoreError(f"{path} is damaged: {'; '.join(result[:3])}")
        version = read_version(conn, path)
        check_version(version, path)
        try:
            series = int(conn.execute("SELECT count(*) FROM series").fetchone()[0])
            events = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"{path} is not a scalepilot backup: {exc}") from exc
    finally:
        conn.close()
    return BackupInfo(path, path.stat().st_size, version, series, events)


def restore(
    backup_file: Path, data_dir: Path, *, force: bool = False, progress: Progress | None = None
) -> tuple[BackupInfo, Path | None]:
    """Make ``backup_file`` the store of ``data_dir``. Returns what was restored and
    where the store it replaced was moved (``None`` if there was none)."""
    info = inspect_backup(Path(backup_file))
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {data_dir}: {exc}") from exc
    lock = DataDirLock(data_dir)  # StoreLocked while a scalepilot runs on it
    try:
        target = data_dir / DB_NAME
        kept: Path | None = None
        if target.exists():
            if not force:
                raise StoreError(
                    f"{data_dir} already has a store: give --force to restore over it (it is moved aside, not deleted)"
                )
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            kept = target.with_name(f"{DB_NAME}.before-restore-{stamp}")
            n = 1
            while kept.exists():  # two restores within a second: never rename over a kept store
                n += 1
                kept = target.with_name(f"{DB_NAME}.before-restore-{stamp}-{n}")
            for suffix in ("", "-wal", "-shm"):
                old = _sibling(target, suffix)
                if old.exists():
                    old.rename(_sibling(kept, suffix))
        partial = target.with_name(DB_NAME + ".partial")
        _while_watching(lambda: shutil.copyfile(backup_file, partial), partial, info.size_bytes, progress)
        _fsync(partial)
        partial.rename(target)
        _fsync(data_dir)
    finally:
        lock.release()
    return info, kept


def _vacuum_into(conn: sqlite3.Connection, dest: Path) -> None:
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    except sqlite3.Error as exc:
        raise wrap_sqlite(exc, f"writing {dest}") from exc


def _while_watching(work: Callable[[], object], out: Path, expected: int, progress: Progress | None) -> None:
    """Run ``work`` (which writes ``out``); meanwhile report ``out``'s growing size."""
    if progress is None:
        work()
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=run, name="store copy", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(_POLL_S)
        size = out.stat().st_size if out.exists() else 0
        progress(min(size, expected), expected)
    if failure:
        raise failure[0]
    progress(expected, expected)


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
