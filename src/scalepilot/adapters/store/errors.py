"""Errors of the store boundary.

::

    ScalepilotError
    └── StoreError                  the store could not do what was asked
        ├── StoreUnavailable        SQLite busy, I/O error, disk full   (transient)
        ├── StoreLocked             another process writes this data dir (permanent)
        ├── StoreReadOnly           a write on a read-only opener        (permanent)
        ├── StoreClosed             used after close()                   (permanent)
        ├── StoreCorrupt            damaged database or chunk            (permanent)
        ├── StoreVersionError       data dir written by a newer version  (permanent)
        └── UnknownSeries           append with an id the store never issued (permanent)

SQLite's exceptions are wrapped by :func:`wrap_sqlite` with the cause chained, so callers
catch one tree and can still see the library's error. *Transient* errors may succeed on
a retry (a busy lock, a full disk someone cleans up); permanent ones need a person.
"""

from __future__ import annotations

import sqlite3

from scalepilot.domain.store import StoreError


class StoreUnavailable(StoreError):
    transient = True


class StoreLocked(StoreError):
    """Two writers on one data directory would interleave write-ahead batches and
    compactions; the second opener is refused instead."""


class StoreReadOnly(StoreError):
    pass


class StoreClosed(StoreError):
    pass


class StoreCorrupt(StoreError):
    pass


class StoreVersionError(StoreError):
    pass


class UnknownSeries(StoreError):
    pass


# SQLite primary result codes (the low byte of an extended code).
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_READONLY = 8


def wrap_sqlite(exc: sqlite3.Error, doing: str) -> StoreError:
    """The store error for a failed SQLite call; raise it ``from exc``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = f"{doing}: {exc}"
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreCorrupt(message)
    if primary == _SQLITE_READONLY:
        return StoreReadOnly(message)
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(message)
    if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
        return StoreCorrupt(message)
    return StoreError(message)
