"""The embedded time-series store: SQLite in WAL mode in a data directory.

See :mod:`.sqlite` for how a sample travels from ``append`` to a compressed chunk, and
:mod:`.codec` for the chunk format.
"""

from scalepilot.adapters.store.errors import (
    StoreClosed,
    StoreCorrupt,
    StoreLocked,
    StoreReadOnly,
    StoreUnavailable,
    StoreVersionError,
    UnknownSeries,
)
from scalepilot.adapters.store.sqlite import SQLiteStore
from scalepilot.domain.store import StoreError

__all__ = [
    "SQLiteStore",
    "StoreClosed",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreReadOnly",
    "StoreUnavailable",
    "StoreVersionError",
    "UnknownSeries",
]
