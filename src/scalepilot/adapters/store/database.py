"""The two SQLite connections of a store and the SQL it runs on them.

A writer has a *write* connection (flushes, compaction commits, series, events) and a
*read* connection (queries, and maintenance reading chunks it is about to rewrite). WAL
mode lets the two work at once: a long query never delays a flush, and a reader sees
each commit whole. A read-only opener has only the read connection.

Each connection has its own lock because a Python ``sqlite3`` connection must not be
used by two threads at once. Every read runs inside one transaction, so a query that
touches many series sees a single snapshot of the database.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from scalepilot.adapters.store.errors import StoreReadOnly, wrap_sqlite

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# SQLite's default limit on host parameters is 32766 since 3.32; stay well below.
_IN_CHUNK = 500


class Database:
    def __init__(self, path: Path, writer: sqlite3.Connection | None, reader: sqlite3.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self.write_lock = threading.Lock()
        self.read_lock = threading.Lock()

    @property
    def read_only(self) -> bool:
        return self._writer is None

    def close(self) -> None:
        # Close the reader first: the writer's close then checkpoints and removes the
        # -wal file, which it can only do when no other connection is open.
        for conn in (self._reader, self._writer):
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    # --- transactions -----------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The read connection inside one read transaction (one snapshot)."""
        with self.read_lock:
            conn = self._reader
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                raise wrap_sqlite(exc, doing) from exc

    @contextlib.contextmanager
    def writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The write connection inside ``BEGIN IMMEDIATE … COMMIT``; rolled back if the
        block raises. The caller must hold :attr:`write_lock`."""
        conn = self._writable()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise wrap_sqlite(exc, doing) from exc

    def execute_write(self, doing: str, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement in its own (autocommit) transaction; caller holds write_lock."""
        conn = self._writable()
        try:
            return conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise wrap_sqlite(exc, doing) from exc

    def vacuum(self, pages: int) -> None:
        """Hand up to ``pages`` free pages back to the file system; caller holds
        write_lock. ``executescript`` because ``incremental_vacuum`` frees one page per
        step and ``execute`` steps only once."""
        conn = self._writable()
        try:
            conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
        except sqlite3.Error as exc:
            raise wrap_sqlite(exc, "vacuuming") from exc

    def _writable(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StoreReadOnly(f"{self.path} is open read-only")
        return self._writer


def in_chunks(values: Sequence[int]) -> Iterator[tuple[str, Sequence[int]]]:
    """``(placeholders, slice)`` pairs for ``WHERE x IN (...)`` over a long list."""
    for i in range(0, len(values), _IN_CHUNK):
        part = values[i : i + _IN_CHUNK]
        yield ",".join("?" * len(part)), part


def clamp_int64(value: int) -> int:
    """``value`` clamped to int64, so a bound computed near the extremes (``start -
    span``) still binds as an SQLite integer and compares with numpy int64 arrays."""
    return max(_INT64_MIN, min(_INT64_MAX, int(value)))
