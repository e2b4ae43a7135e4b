"""Child process of ``test_store_crash.py``: ingests into a store until killed.

Usage: ``python store_ingest_child.py DATA_DIR [SERIES]``

Every 50 ms it appends one sample per series, stamped with the wall clock in
milliseconds (strictly increasing) and valued ``timestamp + series index`` so the parent
can check every stored value. It relies on ``append`` flushing by itself (at most
``flush_interval`` after a sample arrives) and calls ``flush()`` every 2 s, as the
runtime's loop would; a worker thread runs ``maintain`` all the time with ``now_ms`` a
day ahead, so compactions and block merges happen constantly and a kill can land in the
middle of one.

Protocol on stdout, one line each, flushed at once:

* ``ready`` once the store is open;
* ``append T`` *before* appending the samples stamped ``T``;
* ``flushed up to T`` after a ``flush()`` that covered every append up to ``T`` returned;
* ``maintain start`` / ``maintain end`` around each maintenance round.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import make_labels

_print_lock = threading.Lock()


def say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> None:
    data_dir = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    store = SQLiteStore.open(data_dir, StorageSettings(data_dir=data_dir))
    ids = np.asarray(store.series_ids([make_labels("crash_test", {"i": str(i)}) for i in range(n)]), dtype=np.int64)
    offsets = np.arange(n, dtype=np.float64)
    say("ready")

    def maintain_forever() -> None:
        while True:
            say("maintain start")
            store.maintain(int(time.time() * 1000) + 86_400_000)
            say("maintain end")
            time.sleep(0.2)  # pacing, as the runtime's maintenance interval

    threading.Thread(target=maintain_forever, daemon=True).start()
    last = 0
    next_flush = time.monotonic() + 2.0
    while True:
        ts = max(last + 1, int(time.time() * 1000))
        last = ts
        say(f"append {ts}")
        store.append(ids, ts, offsets + ts)
        if time.monotonic() >= next_flush:
            store.flush()
            say(f"flushed up to {ts}")
            next_flush += 2.0
        time.sleep(0.05)


if __name__ == "__main__":
    main()
