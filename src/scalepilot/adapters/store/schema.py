"""The data directory: its lock, its SQLite file and the tables inside.

::

    <data_dir>/
        store.lock        flock()ed by the one writer; holds its pid for the error message
        store.db          SQLite in WAL mode (plus store.db-wal / store.db-shm)

Tables:

``series``        id ↔ canonical labels (JSON); ``raw_tmax`` is the newest compacted
                  timestamp, so compaction knows without a query whether new samples
                  overlap old chunks.
``head_batches``  the write-ahead batches: one row per flush holding everything appended
                  since the previous one. Replayed into the in-memory head on open,
                  deleted (or trimmed) in the transaction that writes them into chunks.
``chunks``        per-series compressed samples (:mod:`.codec`), time-disjoint per series,
                  each inside one block. A rowid table, not ``WITHOUT ROWID``: merged
                  chunks are kilobytes, and large rows in an index b-tree spill into
                  mostly empty overflow pages.
``rollups``       per-series, per-resolution buckets (min/max/sum/count/last) of blocks
                  whose raw samples have passed raw retention.
``events``, ``config_revisions``, ``meta`` (schema version, maintenance watermarks).
``state``         small JSON documents by key that other parts of scalepilot keep across
                  restarts (the replicas a local target started, paused autoscalers...).
                  Written at once, in their own transaction, like events.
``outbox``        notifications stored before they are sent (:mod:`.outbox`), with their
                  delivery state, attempts and next attempt time.

WAL mode lets the CLI read while the server writes; ``synchronous=FULL`` makes each flush
an fsync'ed commit, which is what "durable after the next flush" promises (one fsync a
second costs nothing). ``auto_vacuum=INCREMENTAL`` lets maintenance hand pages freed by
merges and retention back to the file system.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
from pathlib import Path

from scalepilot.adapters.store.errors import StoreLocked, StoreVersionError, wrap_sqlite
from scalepilot.domain.store import StoreError

SCHEMA_VERSION = 3
DB_NAME = "store.db"
LOCK_NAME = "store.lock"

_DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE series (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    labels     TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    raw_tmax   INTEGER
);

CREATE TABLE head_batches (
    seq        INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    data       BLOB NOT NULL
);

CREATE TABLE chunks (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    t_min     INTEGER NOT NULL,
    t_max     INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX chunks_by_series ON chunks (series_id, t_min, t_max);
CREATE INDEX chunks_by_time ON chunks (t_min);

CREATE TABLE rollups (
    id            INTEGER PRIMARY KEY,
    series_id     INTEGER NOT NULL,
    resolution_ms INTEGER NOT NULL,
    t_min         INTEGER NOT NULL,
    t_max         INTEGER NOT NULL,
    data          BLOB NOT NULL
);
CREATE UNIQUE INDEX rollups_by_series ON rollups (series_id, resolution_ms, t_min);
CREATE INDEX rollups_by_time ON rollups (resolution_ms, t_min);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms   INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    service TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (ts_ms);
CREATE INDEX events_by_kind ON events (kind, ts_ms);
CREATE INDEX events_by_service ON events (service, ts_ms);

CREATE TABLE config_revisions (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms  INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    text   TEXT NOT NULL
);
CREATE INDEX config_revisions_by_sha ON config_revisions (sha256);
"""

# Each entry upgrades a database from the version before it; run in order, each in the
# transaction that also bumps user_version, so an upgrade is all or nothing.
_MIGRATIONS: dict[int, str] = {
    2: """
CREATE TABLE state (
    key        TEXT PRIMARY KEY,
    updated_ms INTEGER NOT NULL,
    value      TEXT NOT NULL
) WITHOUT ROWID;
""",
    3: """
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    receiver    TEXT NOT NULL,
    integration TEXT NOT NULL,
    group_key   TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_ms     INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    last_error  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_ms);
CREATE INDEX IF NOT EXISTS outbox_by_group ON outbox (receiver, integration, group_key, state);
""",
}


class DataDirLock:
    """An exclusive ``flock`` on ``store.lock``, held for the writer's lifetime.

    ``flock`` locks belong to the open file description, so the kernel drops the lock
    when the process dies however it dies; a stale lock file never blocks a restart.
    """

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f" (pid {holder})" if holder else ""
                raise StoreLocked(
                    f"{data_dir} is already open for writing by another process{who}; "
                    "stop it, or open the store read-only"
                ) from exc
            raise StoreError(f"cannot lock {path}: {exc}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError):
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    return ""


def connect(db_path: Path, *, read_only: bool) -> sqlite3.Connection:
    """A connection with the store's pragmas. Statements run in autocommit mode; the
    store opens its transactions explicitly."""
    try:
        if read_only:
            conn = sqlite3.connect(
                f"{db_path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise wrap_sqlite(exc, f"opening {db_path}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        if not read_only:
            # Both must precede the first table, page size first; no-ops on an existing
            # database. 16 KiB pages packed merged chunks under 1 % tighter in the
            # benchmark but make every flush's WAL frames four times larger.
            conn.execute("PRAGMA page_size = 4096")
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            _check_wal(mode, db_path)
            conn.execute("PRAGMA synchronous = FULL")
            # After a checkpoint the -wal file is cut back to this size, so a burst of
            # writes does not leave a large file behind for good.
            conn.execute("PRAGMA journal_size_limit = 33554432")
        conn.execute("PRAGMA cache_size = -16384")  # 16 MiB of page cache
    except sqlite3.Error as exc:
        conn.close()
        raise wrap_sqlite(exc, f"configuring {db_path}") from exc
    except StoreError:
        conn.close()
        raise
    return conn


def _check_wal(mode: object, db_path: Path) -> None:
    if str(mode).lower() != "wal":
        raise StoreError(f"{db_path}: cannot switch to WAL mode (got {mode!r})")


def ensure_schema(conn: sqlite3.Connection, db_path: Path) -> None:
    """Create the tables in a new database; refuse one from a newer scalepilot."""
    version = _user_version(conn, db_path)
    if version == 0:
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Another writer cannot exist (we hold the lock), but re-check inside the
            # transaction anyway: it is free and makes creation idempotent.
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                _run_script(conn, _DDL)
                for step in sorted(_MIGRATIONS):
                    _run_script(conn, _MIGRATIONS[step])
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise wrap_sqlite(exc, f"creating the schema in {db_path}") from exc
        return
    check_version(version, db_path)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            _run_script(conn, _MIGRATIONS[step])
            conn.execute(f"PRAGMA user_version = {step}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise wrap_sqlite(exc, f"upgrading {db_path} to schema version {step}") from exc


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def check_version(version: int, db_path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{db_path} has schema version {version}; this scalepilot understands up to "
            f"{SCHEMA_VERSION}. Upgrade scalepilot to open it."
        )
    if version < 1:
        raise StoreError(f"{db_path} is not a scalepilot store (no schema)")


def _user_version(conn: sqlite3.Connection, db_path: Path) -> int:
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise wrap_sqlite(exc, f"reading {db_path}") from exc


def read_version(conn: sqlite3.Connection, db_path: Path) -> int:
    return _user_version(conn, db_path)
